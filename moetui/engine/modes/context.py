"""What every load model works with: where to send, what to send, where to record, the clock and the stop;
and what every model does when a request gets no HTTP answer at all: yield, back off, and end a run whose
target has never answered."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

from moetui.engine.clock import Clock
from moetui.engine.failures import CONNECT_KINDS, ErrorKind
from moetui.engine.recorder import Recorder
from moetui.engine.transport import Lane, Transport

#: A target that has given no HTTP answer (no status at all) this long after the first failed attempt,
#: with every attempt failing to connect, ends the run (exit 3). A closed port was otherwise hammered
#: 16,235 times in 3 s at 104 % CPU until the duration ended.
NEVER_ANSWERED_S = 3.0
#: After a request with no HTTP answer (refused, reset, ...), a closed-loop lane waits this long before
#: its next attempt, doubling up to BACKOFF_MAX_S; any HTTP answer resets it. Only attempts are counted.
BACKOFF_FIRST_S = 0.01
BACKOFF_MAX_S = 1.0


class Reach:
    """Whether the target has answered yet, and whether it is time to give up on it."""

    def __init__(self, never_answered_s: float = NEVER_ANSWERED_S) -> None:
        self.never_answered_s = never_answered_s
        self.answered = False
        """An HTTP status came back at least once (any status: the target was reached)."""
        self.first_failure: float | None = None
        self.only_connect_failures = True
        self.gave_up = False
        """The run was ended because the target never answered."""

    def failed(self, now: float, error: ErrorKind | None) -> bool:
        """A request got no HTTP answer at `now`; True when the run should end: nothing ever answered,
        every attempt failed to connect, and the first failure is never_answered_s old."""
        if self.answered:
            return False
        if error not in CONNECT_KINDS:
            self.only_connect_failures = False
        if self.first_failure is None:
            self.first_failure = now
        elif self.only_connect_failures and now - self.first_failure >= self.never_answered_s:
            self.gave_up = True
        return self.gave_up


@dataclass(frozen=True)
class Load:
    transport: Transport
    payloads: Iterator[bytes]
    """Request bodies, in turn."""
    recorder: Recorder
    clock: Clock
    stop: asyncio.Event
    """Set to end the load early; requests in flight are still answered or time out."""
    reach: Reach = field(default_factory=Reach)

    async def send(self, lane: Lane, intended: float | None = None) -> None:
        """Send the next payload on `lane` and record it; `intended` is its timetable slot (open mode)."""
        body = next(self.payloads)
        sent = self.clock.now()
        request_id = self.recorder.begin(sent)
        status, error, exec_ms = await lane.send(body, intended)
        done = self.clock.now()
        self.recorder.end(request_id, sent, done, status, error, exec_ms, intended)
        if status is None:
            self.no_answer(done, error)
            await asyncio.sleep(0)  # a send that fails at once never waited: let the loop run
        elif not self.reach.answered:
            self.reach.answered = True

    def no_answer(self, now: float, error: ErrorKind | None) -> None:
        """A request got no HTTP answer: end the load when the target has never answered (see Reach)."""
        if self.reach.failed(now, error):
            self.stop.set()

    async def back_off(self, delay_s: float) -> float:
        """A closed-loop lane's pause after a request with no HTTP answer: the next delay doubles the
        last (0 after an answer), up to BACKOFF_MAX_S. Always yields; a stop ends the pause."""
        delay_s = min(delay_s * 2, BACKOFF_MAX_S) if delay_s > 0 else BACKOFF_FIRST_S
        if not self.stop.is_set():
            try:
                await asyncio.wait_for(self.stop.wait(), delay_s)
            except TimeoutError:
                pass
        return delay_s
