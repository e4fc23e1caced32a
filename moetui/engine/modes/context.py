"""What every load model works with: where to send, what to send, where to record, the clock and the stop;
and what every model does when a request gets no HTTP answer at all: yield, back off, and end a run whose
target has never answered."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

from moetui.engine.clock import Clock
from moetui.engine.failures import NO_ANSWER_KINDS, ErrorKind
from moetui.engine.recorder import Recorder
from moetui.engine.transport import Lane, RequestIds, Transport

#: A target that has given no HTTP answer (no status at all) for this long since the first failed attempt
#: was sent, with every attempt refused or timed out (failures.NO_ANSWER_KINDS), ends the run (exit 3). A closed
#: port was otherwise hammered 16,235 times in 3 s at 104 % CPU until the duration ended; a target that
#: accepts connections and never answers ran its whole duration, and exited 1.
NEVER_ANSWERED_S = 3.0
#: ... and at least this many attempts failed so: one slow first request on one connection (a cold start past
#: the timeout) is not enough. Refusals reach it in 30 ms (the back-off's first steps); a run of 3 connections
#: or more against a silent target ends at its first round of timeouts NEVER_ANSWERED_S after the start.
NEVER_ANSWERED_ATTEMPTS = 3
#: After a request with no HTTP answer (refused, reset, ...), a closed-loop lane waits this long before
#: its next attempt, doubling up to BACKOFF_MAX_S; any HTTP answer resets it. Only attempts are counted.
BACKOFF_FIRST_S = 0.01
BACKOFF_MAX_S = 1.0


class Reach:
    """Whether the target has answered yet, and whether it is time to give up on it."""

    def __init__(self, never_answered_s: float = NEVER_ANSWERED_S, attempts: int = NEVER_ANSWERED_ATTEMPTS) -> None:
        self.never_answered_s = never_answered_s
        self.attempts = attempts
        self.answered = False
        """An HTTP status came back at least once (any status: the target was reached)."""
        self.first_sent: float | None = None
        """When the earliest failed attempt was sent: a timeout's silence began then, not when it failed."""
        self.failures = 0
        self.only_no_answer = True
        self.gave_up = False
        """The run was ended because the target never answered."""

    def failed(self, sent: float, now: float, error: ErrorKind | None) -> bool:
        """A request sent at `sent` got no HTTP answer at `now`; True when the run should end: nothing ever
        answered, every failure was refused or silent until its timeout, at least `attempts` failed, and the
        first of them was sent never_answered_s ago."""
        if self.answered:
            return False
        if error not in NO_ANSWER_KINDS:
            self.only_no_answer = False
        self.failures += 1
        self.first_sent = sent if self.first_sent is None else min(self.first_sent, sent)
        if self.only_no_answer and self.failures >= self.attempts and now - self.first_sent >= self.never_answered_s:
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
    ids: RequestIds = field(default_factory=RequestIds)
    """Each request's x-ms-client-request-id and x-request-id, from its recorder id (the request log's too)."""

    async def send(self, lane: Lane, intended: float | None = None) -> None:
        """Send the next payload on `lane` and record it; `intended` is its timetable slot (open mode)."""
        body = next(self.payloads)
        sent = self.clock.now()
        request_id = self.recorder.begin(sent)
        status, error, exec_ms, served = await lane.send(body, intended, self.ids.text(request_id))
        done = self.clock.now()
        self.recorder.end(request_id, sent, done, status, error, exec_ms, intended, served)
        if status is None:
            self.no_answer(sent, done, error)
            await asyncio.sleep(0)  # a send that fails at once never waited: let the loop run
        elif not self.reach.answered:
            self.reach.answered = True

    def no_answer(self, sent: float, now: float, error: ErrorKind | None) -> None:
        """A request sent at `sent` got no HTTP answer at `now`: end the load when the target has never
        answered (see Reach)."""
        if self.reach.failed(sent, now, error):
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
