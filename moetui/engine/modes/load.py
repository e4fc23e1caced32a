"""What every load model works with: where to send, what to send, where to record, the clock and the stop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

from moetui.engine.clock import Clock
from moetui.engine.recorder import Recorder
from moetui.engine.transport import Lane, Transport


@dataclass(frozen=True)
class Load:
    transport: Transport
    payloads: Iterator[bytes]
    """Request bodies, in turn."""
    recorder: Recorder
    clock: Clock
    stop: asyncio.Event
    """Set to end the load early; requests in flight are still answered or time out."""

    async def send(self, lane: Lane, intended: float | None = None) -> None:
        """Send the next payload on `lane` and record it; `intended` is its timetable slot (open mode)."""
        body = next(self.payloads)
        sent = self.clock.now()
        request_id = self.recorder.begin(sent)
        status, error, exec_ms = await lane.send(body)
        self.recorder.end(request_id, sent, self.clock.now(), status, error, exec_ms, intended)
