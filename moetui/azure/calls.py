"""How every blocking Azure SDK call is made: in a thread (`in_thread`) or here (`blocking`), with the SDK's
logging kept quiet and any failure turned into a DeploymentError that says what was being done. Shared by
azure/workspaces.py and azure/deployments.py (which imported these from each other in a circle)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from moetui.azure.errors import explain
from moetui.azure.quiet import quiet_azure_logging
from moetui.deployments.base import DeploymentError

T = TypeVar("T")


async def in_thread(doing: str, call: Callable[[], T]) -> T:
    """Run a blocking SDK call in a thread; its failure becomes a DeploymentError saying what was being done."""
    return await asyncio.to_thread(blocking, doing, call)


def blocking(doing: str, call: Callable[[], T]) -> T:
    """Run a blocking SDK call here (a caller already in a thread of its own); its failure becomes a
    DeploymentError saying what was being done."""
    try:
        quiet_azure_logging()
        return call()
    except DeploymentError:
        raise
    except Exception as exc:
        raise explain(exc, doing) from exc
