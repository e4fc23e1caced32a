"""Running a coroutine to completion on the fastest event loop installed. Imports nothing of moetui."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_fast(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop where it is installed (the load generator's and the gateway's hot path is
    the event loop itself), on asyncio's own loop elsewhere."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
