"""Per-request recording inside one generator: histograms, counters, in-flight requests and a ring of
the latest requests. Nothing here allocates per request beyond a small tuple, and nothing calls out:
a `Delta` of everything recorded since the last one is taken at a fixed rate.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, NamedTuple

from hdrh.histogram import HdrHistogram

from moetui.engine.histogram import new_histogram


class RequestRecord(NamedTuple):
    """One finished request. Times in seconds from the run's start. A NamedTuple: made once per request,
    and a frozen dataclass's __init__ costs several times more."""

    id: int
    sent_at_s: float
    elapsed_s: float
    status: int | None
    error: str | None
    exec_ms: float | None
    """x-ms-run-fn-exec-ms: time inside the scorer's run(), when the server says."""


#: Names of the histograms a Delta carries (each in microseconds). "model" is the time inside the scorer's
#: run() (x-ms-run-fn-exec-ms) and "outside" the rest of the same request's latency (network, gateway, queue),
#: both only for successful requests that carried the header.
HISTOGRAMS = ("ok", "ok_corrected", "failed", "model", "outside", "drift", "loop_lag")


@dataclass(frozen=True)
class Delta:
    """What one generator recorded since its previous delta. Picklable: worker processes send these,
    with histograms encoded (HdrHistogram's compressed base64); in one process they stay objects."""

    worker: int
    taken_at_s: float
    step: int
    histograms: dict[str, Any]
    """Name -> HdrHistogram or its encoded form; only the ones that recorded something."""
    statuses: dict[int, int]
    errors: dict[str, int]
    sent: int
    completed: int
    warmup: int
    late: int
    out_of_range: int
    ok_sum_us: int
    """Sum of successful latencies: the mean without hdrh's get_mean_value, which walks every bucket (~100 ms)."""
    in_flight: int
    oldest_in_flight: tuple[tuple[int, float], ...]
    """(request id, sent at s) of the oldest requests in flight now."""
    recent: tuple[RequestRecord, ...]
    """Requests finished since the previous delta (at most the ring's size)."""
    cpu_s: float
    """This process's CPU time so far."""
    finished: bool = False

    def encoded(self) -> Delta:
        """The same delta with its histograms in compressed form, for a pipe."""
        return replace(self, histograms={k: v.encode() for k, v in self.histograms.items()})


#: How many of the oldest in-flight requests a delta names.
OLDEST_IN_FLIGHT = 8


class Recorder:
    """Records the requests of one generator.

    Args:
        worker: This generator's number.
        started_at: The run's start on the engine clock; record times are relative to it.
        warmup_until: Requests sent before this clock time are counted as warm-up only.
        recent_size: Size of the ring of latest requests; None keeps every request (bursts).
        cpu_time: This process's CPU seconds (a parameter so tests can fix it).
    """

    def __init__(
        self,
        worker: int,
        started_at: float,
        warmup_until: float,
        recent_size: int | None,
        cpu_time: Callable[[], float] = time.process_time,
    ) -> None:
        self.worker = worker
        self._cpu_time = cpu_time
        self.started_at = started_at
        self.warmup_until = warmup_until
        self.step = 0
        self._hist: dict[str, HdrHistogram] = {name: new_histogram() for name in HISTOGRAMS}
        self._statuses: Counter[int] = Counter()
        self._errors: Counter[str] = Counter()
        self._in_flight: dict[int, float] = {}
        self._recent: deque[RequestRecord] = deque(maxlen=recent_size)
        self._new_recent = 0
        self._next_id = 0
        self.sent = 0
        self.completed = 0
        self.warmup = 0
        self.late = 0
        self.out_of_range = 0
        self.ok_sum_us = 0

    def begin(self, sent: float) -> int:
        """A request goes out now (`sent`, clock time); returns its id."""
        self._next_id += 1
        self._in_flight[self._next_id] = sent
        self.sent += 1
        return self._next_id

    def end(
        self,
        request_id: int,
        sent: float,
        done: float,
        status: int | None,
        error: str | None,
        exec_ms: float | None,
        intended: float | None = None,
    ) -> None:
        """A request finished at `done`; `intended` is its timetable slot in open mode."""
        del self._in_flight[request_id]
        if sent < self.warmup_until:
            self.warmup += 1
            return
        self.completed += 1
        elapsed_us = max(1, int((done - sent) * 1_000_000))
        hist = self._hist
        if status is not None:
            self._statuses[status] += 1
            ok = 200 <= status < 300
        else:
            self._errors[error or "other"] += 1
            ok = False
        # Failed requests get their own histogram: a fast 429 must not pull the p99 of answers down.
        if not hist["ok" if ok else "failed"].record_value(elapsed_us):
            self.out_of_range += 1
        if ok:
            self.ok_sum_us += elapsed_us
            if intended is not None:
                hist["ok_corrected"].record_value(max(1, int((done - intended) * 1_000_000)))
            if exec_ms is not None:
                exec_us = max(1, int(exec_ms * 1000))
                hist["model"].record_value(exec_us)
                # The scorer's clock and ours differ a little: a request can look shorter than its run().
                hist["outside"].record_value(max(1, elapsed_us - exec_us))
        self._recent.append(RequestRecord(request_id, sent - self.started_at, done - sent, status, error, exec_ms))
        self._new_recent += 1

    def drift(self, seconds: float) -> None:
        """How late a send left against its timetable slot (open mode)."""
        self._hist["drift"].record_value(max(1, int(seconds * 1_000_000)))

    def loop_lag(self, seconds: float) -> None:
        """How late the event loop woke a timer: time the generator could not spend sending."""
        self._hist["loop_lag"].record_value(max(1, int(seconds * 1_000_000)))

    def all_records(self) -> tuple[RequestRecord, ...]:
        """Every request kept in the ring (all of them when it is unbounded)."""
        return tuple(self._recent)

    def take(self, now: float, *, finished: bool = False) -> Delta:
        """Everything since the previous take, and start afresh."""
        histograms = {name: h for name, h in self._hist.items() if h.get_total_count()}
        for name in histograms:
            self._hist[name] = new_histogram()
        recent = tuple(self._recent)[-self._new_recent :] if self._new_recent else ()
        self._new_recent = 0
        oldest = tuple((rid, sent - self.started_at) for rid, sent in islice(self._in_flight.items(), OLDEST_IN_FLIGHT))
        delta = Delta(
            worker=self.worker,
            taken_at_s=now - self.started_at,
            step=self.step,
            histograms=histograms,
            statuses=dict(self._statuses),
            errors=dict(self._errors),
            sent=self.sent,
            completed=self.completed,
            warmup=self.warmup,
            late=self.late,
            out_of_range=self.out_of_range,
            ok_sum_us=self.ok_sum_us,
            in_flight=len(self._in_flight),
            oldest_in_flight=oldest,
            recent=recent,
            cpu_s=self._cpu_time(),
            finished=finished,
        )
        self._statuses = Counter()
        self._errors = Counter()
        self.sent = self.completed = self.warmup = self.late = self.out_of_range = self.ok_sum_us = 0
        return delta
