"""Per-request recording inside one generator: histograms, counters, in-flight requests and a ring of
the latest requests. Per request only a tuple is kept; a `Delta` of everything recorded since the last
one is taken at a fixed rate, and that is when the kept requests are recorded, as one batch.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any, NamedTuple

from hdrh.histogram import HdrHistogram

from moetui.engine.failures import ErrorKind
from moetui.engine.histogram import new_histogram, record_many
from moetui.engine.request_log import RequestLog
from moetui.engine.streaming import STREAM_HISTOGRAMS, StreamRecorder


class RequestRecord(NamedTuple):
    """One finished request. Times in seconds from the run's start. A NamedTuple: made once per request,
    and a frozen dataclass's __init__ costs several times more."""

    id: int
    sent_at_s: float
    elapsed_s: float
    status: int | None
    error: ErrorKind | None
    exec_ms: float | None
    """x-ms-run-fn-exec-ms: time inside the scorer's run(), when the server says."""
    intended_at_s: float | None = None
    """Open mode: the request's timetable slot (never after sent_at_s)."""
    first_token_s: float | None = None
    """A streaming run: seconds from the send to the first content chunk (the TTFT); None otherwise."""


#: Names of the histograms a Delta carries (each in microseconds). "model" is the time inside the scorer's
#: run() (x-ms-run-fn-exec-ms) and "outside" the rest of the same request's latency (network, gateway, queue),
#: both only for successful requests that carried the header.
#: A streaming run adds streaming.STREAM_HISTOGRAMS (time to first token, inter-token gaps, ...).
HISTOGRAMS = ("ok", "ok_corrected", "failed", "model", "outside", "drift", "loop_lag", *STREAM_HISTOGRAMS)


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
    errors: dict[ErrorKind, int]
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
    not_sent: int = 0
    """Open mode: timetable slots whose time came (before the duration ended) but that never left, because
    every client was busy or the generator was behind."""
    sending_s: float = 0.0
    """Open mode: seconds spent in the send loop so far, in all (a total, not a delta, as cpu_s): the span
    the send rate is judged over (a request budget can end sending before the run's duration)."""
    body_bytes: int = 0
    """Response body bytes read since the previous delta (warm-up included); counted, never kept."""
    bodies: int = 0
    """Response bodies read since the previous delta."""
    body_max: int = 0
    """The largest of them, in bytes."""
    stream: dict[str, int] = field(default_factory=dict)
    """A streaming run: streams, tokens, goodput and buffering counters since the previous delta
    (streaming.COUNTERS)."""
    request_log_error: str | None = None
    """Why this generator's request log stopped (a full disk), once it has."""
    served: dict[str, tuple[Any, int, dict[int, int]]] = field(default_factory=dict)
    """Answers by the deployment that served them (azureml-model-deployment): name -> (ok latency histogram,
    or its encoded form; failed answers; answers by status), since the previous delta."""
    timetable: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    """A ramped run: (second of the slot, stage) -> (sent, ok) since the previous delta, by timetable slot
    (warm-up included, as the timetable's offered load is)."""

    def encoded(self) -> Delta:
        """The same delta with its histograms in compressed form, for a pipe."""
        return replace(
            self,
            histograms={k: v.encode() for k, v in self.histograms.items()},
            served={name: (ok.encode(), failed, statuses) for name, (ok, failed, statuses) in self.served.items()},
        )


#: Finished requests recorded together. Small enough that one batch holds the event loop for well under
#: a millisecond (whole deltas' worth at 2,000 req/s pushed the open loop's send drift p99 from 1.0 to
#: 1.7 ms), large enough that the batch's fixed cost is small against ~2 µs of work per request.
SETTLE_BATCH = 128

#: At most this many serving deployments are told apart (an endpoint has a handful).
MAX_SERVED = 32
#: ... and their names cut at this many characters (Azure's deployment names have at most 32).
MAX_SERVED_NAME = 64


@dataclass
class ServedCounts:
    """One serving deployment's answers since the last delta."""

    ok: HdrHistogram
    pending: list[int]
    failed: int
    statuses: Counter[int]


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
        request_log: Where every finished request is also written, warm-up included (--requests).
    """

    def __init__(
        self,
        worker: int,
        started_at: float,
        warmup_until: float,
        recent_size: int | None,
        cpu_time: Callable[[], float] = time.process_time,
        request_log: RequestLog | None = None,
    ) -> None:
        self.worker = worker
        self.request_log = request_log
        self.request_log_error: str | None = None
        """Why the request log stopped early, kept after it is closed."""
        self._cpu_time = cpu_time
        self.started_at = started_at
        self.warmup_until = warmup_until
        self.step = 0
        self._hist: dict[str, HdrHistogram] = {name: new_histogram() for name in HISTOGRAMS}
        self._statuses: Counter[int] = Counter()
        self._errors: Counter[ErrorKind] = Counter()
        self._in_flight: dict[int, float] = {}
        self._recent: deque[RequestRecord] = deque(maxlen=recent_size)
        self._new_recent = 0
        self._finished: list[tuple[Any, ...]] = []
        self._drift_us: list[int] = []
        self._next_id = 0
        self.sent = 0
        self.completed = 0
        self.warmup = 0
        self.late = 0
        self.not_sent = 0
        self.out_of_range = 0
        self.ok_sum_us = 0
        self._sending_done_s = 0.0
        self._sending_since: float | None = None
        self.streams: StreamRecorder | None = None
        """A streaming run's per-stream recording (set by the generator); None otherwise."""
        self.schedule: tuple[float, Callable[[float], int]] | None = None
        """A ramped run: (its timetable's start on the clock, the stage of a slot's offset); the open loop sets it."""
        self._served: dict[str, ServedCounts] = {}
        self._slots: Counter[tuple[int, int]] = Counter()
        self._slots_ok: Counter[tuple[int, int]] = Counter()
        self._first_token_s: dict[int, float] = {}
        """A streaming run: request id -> TTFT in seconds, of the requests finished since the last settle."""

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
        error: ErrorKind | None,
        exec_ms: float | None,
        intended: float | None = None,
        served: str | None = None,
    ) -> None:
        """A request finished at `done`; `intended` is its timetable slot in open mode, `served` the
        deployment its answer named (azureml-model-deployment)."""
        del self._in_flight[request_id]
        # Kept here, recorded by _settle() a batch at a time: several times cheaper than one by one.
        finished = self._finished
        finished.append((request_id, sent, done, status, error, exec_ms, intended, served))
        if len(finished) >= SETTLE_BATCH:
            self._settle()

    def slot_sent(self, slot: float) -> None:
        """A ramped run sent its timetable slot `slot` (clock time): counted by the slot's second and stage."""
        if self.schedule is not None:
            origin, stage_at = self.schedule
            self._slots[int(slot - origin), stage_at(slot - origin)] += 1

    def drift(self, seconds: float) -> None:
        """How late a send left against its timetable slot (open mode)."""
        drift = self._drift_us
        drift.append(int(seconds * 1_000_000) or 1)
        if len(drift) >= SETTLE_BATCH:
            self._settle()

    def sending(self, now: float, *, started: bool) -> None:
        """An open send loop starts (`started`) or ends at `now`: sending_s adds up the time in between."""
        if started:
            self._sending_since = now
        elif self._sending_since is not None:
            self._sending_done_s += now - self._sending_since
            self._sending_since = None

    def sending_s(self, now: float) -> float:
        """Seconds spent in open send loops up to `now`."""
        since = self._sending_since
        return self._sending_done_s + (now - since if since is not None else 0.0)

    def loop_lag(self, seconds: float) -> None:
        """How late the event loop woke a timer: time the generator could not spend sending."""
        self._hist["loop_lag"].record_value(max(1, int(seconds * 1_000_000)))

    def _settle(self) -> None:
        """Record the requests finished since the last call into counters, histograms and the ring."""
        finished, self._finished = self._finished, []
        drift, self._drift_us = self._drift_us, []
        hist = self._hist
        if self.streams is not None:
            self.streams.settle(hist)
        record_many(hist["drift"], drift)
        if not finished:
            return
        if self.request_log is not None:
            self.request_log.write(finished)
            self.request_log_error = self.request_log.error
        if self.schedule is not None:
            origin, stage_at = self.schedule
            for _, _, _, status, _, _, intended, _ in finished:
                if intended is not None and status is not None and 200 <= status < 300:
                    self._slots_ok[int(intended - origin), stage_at(intended - origin)] += 1
        warmup_until = self.warmup_until
        ok: list[int] = []
        failed: list[int] = []
        corrected: list[int] = []
        model: list[int] = []
        outside: list[int] = []
        statuses: list[int] = []
        errors: list[ErrorKind] = []
        kept: list[tuple[Any, ...]] = []
        for request in finished:
            _, sent, done, status, error, exec_ms, intended, served = request
            if sent < warmup_until:
                continue
            kept.append(request)
            elapsed_us = int((done - sent) * 1_000_000) or 1
            # Failed requests get their own histogram: a fast 429 must not pull the p99 of answers down.
            if status is None:
                errors.append(error or "other")
                failed.append(elapsed_us)
                continue
            statuses.append(status)
            if served is not None:
                self._serve(served, status, elapsed_us)
            if not 200 <= status < 300:
                failed.append(elapsed_us)
                continue
            ok.append(elapsed_us)
            if intended is not None:
                # Never below the measured latency, whatever the clocks did: a send cannot beat its slot.
                corrected.append(max(int((done - intended) * 1_000_000), elapsed_us))
            if exec_ms is not None:
                exec_us = int(exec_ms * 1000) or 1
                model.append(exec_us)
                # The scorer's clock and ours differ a little: a request can look shorter than its run().
                outside.append(max(1, elapsed_us - exec_us))
        self.warmup += len(finished) - len(kept)
        self.completed += len(kept)
        self.ok_sum_us += sum(ok)
        self._statuses.update(statuses)
        self._errors.update(errors)
        self.out_of_range += record_many(hist["ok"], ok) + record_many(hist["failed"], failed)
        record_many(hist["ok_corrected"], corrected)
        record_many(hist["model"], model)
        record_many(hist["outside"], outside)
        for counts in self._served.values():
            if counts.pending:
                record_many(counts.ok, counts.pending)
                counts.pending = []
        # Only the newest requests can stay in a bounded ring: the rest are never made into records.
        newest = kept if self._recent.maxlen is None else kept[-self._recent.maxlen :]
        self._recent.extend(self._records(newest))
        self._new_recent += len(newest)

    def _serve(self, served: str, status: int, elapsed_us: int) -> None:
        """One answer of deployment `served`: its ok latency, or its failure, by status."""
        served = served[:MAX_SERVED_NAME]  # the server's text: bounded (printed only through redact.printable)
        kept = self._served.get(served)
        if kept is None:
            if len(self._served) >= MAX_SERVED:
                return  # a header that names a new deployment per request must not grow memory
            kept = self._served[served] = ServedCounts(new_histogram(), [], 0, Counter())
        if 200 <= status < 300:
            kept.pending.append(elapsed_us)  # recorded with the batch's others (record_many)
        else:
            kept.failed += 1
        kept.statuses[status] += 1

    def _records(self, newest: list[tuple[Any, ...]]) -> Iterable[RequestRecord]:
        """The kept requests as records for the ring."""
        started_at = self.started_at
        return (
            RequestRecord(
                rid,
                sent - started_at,
                done - sent,
                status,
                error,
                exec_ms,
                None if intended is None else intended - started_at,
            )
            for rid, sent, done, status, error, exec_ms, intended, _ in newest
        )

    def close_request_log(self) -> None:
        """Write what is still unsettled and the requests still in flight to the request log, and close it."""
        if self.request_log is not None:
            self._settle()
            self.request_log.close(self._in_flight)
            self.request_log_error = self.request_log.error
            self.request_log = None

    def all_records(self) -> tuple[RequestRecord, ...]:
        """Every request kept in the ring (all of them when it is unbounded)."""
        self._settle()
        return tuple(self._recent)

    def take(self, now: float, *, finished: bool = False) -> Delta:
        """Everything since the previous take, and start afresh."""
        self._settle()
        histograms = {name: h for name, h in self._hist.items() if h.get_total_count()}
        for name in histograms:
            self._hist[name] = new_histogram()
        fresh = min(self._new_recent, len(self._recent))
        recent = tuple(islice(self._recent, len(self._recent) - fresh, None)) if fresh else ()
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
            not_sent=self.not_sent,
            sending_s=self.sending_s(now),
            stream=self.streams.take() if self.streams is not None else {},
            request_log_error=self.request_log_error,
            timetable={key: (self._slots[key], self._slots_ok[key]) for key in self._slots.keys() | self._slots_ok},
            served={name: (kept.ok, kept.failed, dict(kept.statuses)) for name, kept in self._served.items()},
        )
        self._served = {}
        self._slots, self._slots_ok = Counter(), Counter()
        self._statuses = Counter()
        self._errors = Counter()
        self.sent = self.completed = self.warmup = self.late = self.not_sent = self.out_of_range = self.ok_sum_us = 0
        return delta


class StreamingRecorder(Recorder):
    """The Recorder of a streaming run (the generator makes this one only then, so other runs pay nothing
    per request): `end` also keeps the TTFT the stream lane noted for the request (streams.first_token_s)."""

    def end(
        self,
        request_id: int,
        sent: float,
        done: float,
        status: int | None,
        error: ErrorKind | None,
        exec_ms: float | None,
        intended: float | None = None,
        served: str | None = None,
    ) -> None:
        streams = self.streams
        # Noted by StreamingTransport.finish just before: no await lies between it and this call.
        if streams is not None and streams.first_token_s is not None:
            self._first_token_s[request_id] = streams.first_token_s
            streams.first_token_s = None
        super().end(request_id, sent, done, status, error, exec_ms, intended, served)

    def _records(self, newest: list[tuple[Any, ...]]) -> Iterable[RequestRecord]:
        first_token, self._first_token_s = self._first_token_s, {}  # every finished request is settled now
        started_at = self.started_at
        return [
            RequestRecord(
                rid,
                sent - started_at,
                done - sent,
                status,
                error,
                exec_ms,
                None if intended is None else intended - started_at,
                first_token.get(rid),
            )
            for rid, sent, done, status, error, exec_ms, intended, _ in newest
        ]
