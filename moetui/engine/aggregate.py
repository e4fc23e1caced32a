"""Merges the deltas of one or more generators into run totals, per-second rows, sweep steps and
snapshots. Runs in the process that displays or reports; never in a generator's hot path."""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from hdrh.histogram import HdrHistogram

from moetui.config.schema import Mode
from moetui.engine.failures import ErrorKind
from moetui.engine.histogram import decode, new_histogram, percentiles_ms
from moetui.engine.machine import CpuTimes, busy_share, machine_cpus, usable_cpus
from moetui.engine.recorder import HISTOGRAMS, Delta, RequestRecord, ServedCounts
from moetui.engine.saturation import GeneratorLoad, cpu_text, saturation_reason, what_to_do
from moetui.engine.snapshot import EngineSnapshot, Health, Phase, SecondRow, StepRow
from moetui.engine.streaming import StreamPlan, summarize
from moetui.engine.windows import Windows

#: Event-loop lag p99 above this means responses sat unread: the latency measured is the client's ...
LAG_P99_LIMIT_MS = 20.0
#: ... unless the lag is this small a share of the median latency measured: 24 ms of lag next to a 1 s
#: scorer is a 2 % error, not a measurement of the client (seen on a busy laptop: a burst of three 1 s
#: requests judged invalid for a 24 ms lag at 2 % CPU).
LAG_SHARE_OF_P50 = 0.05
#: Open mode: sends leaving this late (p99) against the timetable, not because of the clients cap.
DRIFT_P99_LIMIT_MS = 10.0
#: Open mode: fewer sends than this share of the target rate, with the cap never full.
SEND_RATE_MIN_SHARE = 0.95
#: Health is judged only once this much of the run has been measured.
HEALTH_MIN_S = 1.0
#: Bounded views a snapshot carries.
SNAPSHOT_RECENT = 50
SNAPSHOT_SECONDS = 120


class Aggregator:
    """Run totals from generator deltas.

    Args:
        mode: The load model.
        workers: Generator count (a second is closed when every generator has moved past it).
        planned_s: Planned duration, for display and the length of `windows`.
        target_rate: Open mode's requests per second.
        capacity: max_concurrent_requests_per_instance x instance_count, when known.
        clients: Open mode's cap on requests in flight (all generators together).
        recent_size: Latest requests kept; None keeps all (bursts).
        levels: A sweep's levels, in order.
        warmup_s: Seconds at the start that do not count toward throughput.
        stream: A streaming run's plan (its goodput SLO); None for whole answers.
        machine: Reads the machine's CPU times (machine.cpu_times) as deltas arrive, so the generator is
            judged against the machine's real state; None leaves the machine out (canned and merged runs).
    """

    def __init__(
        self,
        mode: Mode,
        *,
        workers: int = 1,
        planned_s: float | None = None,
        target_rate: float | None = None,
        capacity: int | None = None,
        clients: int | None = None,
        recent_size: int | None = 200,
        levels: Sequence[float] = (),
        warmup_s: float = 0.0,
        stream: StreamPlan | None = None,
        machine: Callable[[], CpuTimes | None] | None = None,
    ) -> None:
        self.mode = mode
        self.stream = stream
        self.stream_counts: Counter[str] = Counter()
        """A streaming run's counters (streaming.COUNTERS), summed over deltas and workers."""
        self.workers = workers
        self.planned_s = planned_s
        self.target_rate = target_rate
        self.capacity = capacity
        self.clients = clients
        self.levels = tuple(levels)
        self.warmup_s = warmup_s
        self.totals: dict[str, HdrHistogram] = {name: new_histogram() for name in HISTOGRAMS}
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[ErrorKind] = Counter()
        self.sent = self.completed = self.warmup = self.late = self.out_of_range = self.ok_sum_us = 0
        self.not_sent = 0
        self.recent: deque[RequestRecord] = deque(maxlen=recent_size)
        self.header_refreshes = self.header_refresh_failures = 0
        self.body_bytes = self.bodies = self.body_max = 0
        """Response body bytes read (warm-up included), bodies read, and the largest body."""
        self.header_refresh_error: str | None = None
        self.lost: list[str] = []
        """Why some of the generators' counts never arrived (a worker's delta unreadable, or its last one
        missing): the totals are short of what was sent, so the measurement is invalid, whatever the timing."""
        self.request_log_error: str | None = None
        """Why the request log stopped early (the first generator's reason), or None."""
        self.seconds: list[SecondRow] = []
        self.served: dict[str, ServedCounts] = {}
        """Answers by the deployment that served them (azureml-model-deployment), warm-up left out."""
        self.timetable: dict[tuple[int, int], list[int]] = {}
        """A ramped run: (second of the slot, stage) -> [sent, ok], by timetable slot."""
        self.windows = Windows(planned_s)
        """Latency histograms per window (a second, longer for long runs), for `moetui compare`."""
        self.steps: list[StepRow] = []
        self.last_taken_s = 0.0
        self._in_flight: dict[int, int] = {}
        self._oldest: dict[int, tuple[tuple[int, float], ...]] = {}
        """Each generator's oldest requests in flight: (id, age s) when its last delta was taken."""
        self._cpu_first: dict[int, float] = {}
        self._cpu_last: dict[int, float] = {}
        self._lag: dict[int, HdrHistogram] = {}
        """Each generator's own loop lag: a process at a full core is judged by its own lag."""
        self._machine = machine
        self._machine_first: CpuTimes | None = None
        self._machine_last: CpuTimes | None = None
        self._sending_s: dict[int, float] = {}
        self._taken: dict[int, float] = {}
        self._first_taken: dict[int, float] = {}
        self._open_seconds: dict[int, list[Any]] = {}
        self._ladders: dict[str, tuple[int, dict[float, float]]] = {}
        self._step = 0
        self._step_started_s = 0.0
        self._step_hist = new_histogram()
        self._step_ok = self._step_failed = 0

    # -- merging -----------------------------------------------------------------------------------

    def add(self, delta: Delta) -> None:
        """Merge one generator's delta (histograms as objects or encoded)."""
        hists = {k: decode(v) if isinstance(v, (str, bytes)) else v for k, v in delta.histograms.items()}
        if delta.step != self._step:
            self._close_step(self._taken.get(delta.worker, self.last_taken_s))
            self._step = delta.step
        for name, histogram in hists.items():
            self.totals[name].add(histogram)
        if (lag := hists.get("loop_lag")) is not None:
            self._lag.setdefault(delta.worker, new_histogram()).add(lag)
        if self._machine is not None and (reading := self._machine()) is not None:
            self._machine_first = self._machine_first or reading
            self._machine_last = reading
        ok_hist = hists.get("ok")
        ok = ok_hist.get_total_count() if ok_hist is not None else 0
        failed = hists["failed"].get_total_count() if "failed" in hists else 0
        self.statuses.update(delta.statuses)
        self.errors.update(delta.errors)
        self.sent += delta.sent
        self.completed += delta.completed
        self.warmup += delta.warmup
        self.late += delta.late
        self.not_sent += delta.not_sent
        for name, (histogram, failed, statuses) in delta.served.items():
            served = self.served.setdefault(name, ServedCounts(new_histogram(), [], 0, Counter()))
            served.ok.add(decode(histogram) if isinstance(histogram, (str, bytes)) else histogram)
            served.failed += failed
            served.statuses.update(statuses)
        for key, (sent, ok) in delta.timetable.items():
            counts = self.timetable.setdefault(key, [0, 0])
            counts[0] += sent
            counts[1] += ok
        self._sending_s[delta.worker] = delta.sending_s
        self.out_of_range += delta.out_of_range
        self.ok_sum_us += delta.ok_sum_us
        self.body_bytes += delta.body_bytes
        self.bodies += delta.bodies
        self.body_max = max(self.body_max, delta.body_max)
        self.request_log_error = self.request_log_error or delta.request_log_error
        if delta.stream:
            self.stream_counts.update(delta.stream)
        self.recent.extend(delta.recent)
        self._in_flight[delta.worker] = delta.in_flight
        # ages when the generator looked, not aged on to the snapshot's time: a request in flight then may
        # be long done (a delta can be 0.2 s old, p99 a few ms)
        self._oldest[delta.worker] = tuple((rid, delta.taken_at_s - sent) for rid, sent in delta.oldest_in_flight)
        self._cpu_first.setdefault(delta.worker, delta.cpu_s)
        self._first_taken.setdefault(delta.worker, delta.taken_at_s)
        self._cpu_last[delta.worker] = delta.cpu_s

        previous = self._taken.get(delta.worker, 0.0)
        self._taken[delta.worker] = delta.taken_at_s
        self.last_taken_s = max(self.last_taken_s, delta.taken_at_s)
        # A delta covers (previous, taken_at]; it goes to the second its middle falls in.
        second = int((previous + delta.taken_at_s) / 2)
        bucket = self._open_seconds.setdefault(second, [new_histogram(), 0, 0, 0, None, Counter()])
        if ok_hist is not None:
            bucket[0].add(ok_hist)
            self._step_hist.add(ok_hist)
        if (corrected := hists.get("ok_corrected")) is not None:  # open mode: the same second, corrected
            bucket[4] = bucket[4] or new_histogram()
            bucket[4].add(corrected)
        bucket[1] += ok
        bucket[2] += failed
        bucket[3] += delta.stream.get("output_tokens", 0)
        bucket[5].update({str(code): n for code, n in delta.statuses.items()})
        bucket[5].update(delta.errors)
        self.windows.add(second, hists)
        self._step_ok += ok
        self._step_failed += failed
        if len(self._taken) == self.workers:
            self._close_seconds_before(int(min(self._taken.values())))

    def finish(self) -> None:
        """Close the last second and the last step."""
        self._close_seconds_before(math.inf)
        if self.levels:
            self._close_step(self.last_taken_s)

    def _close_seconds_before(self, limit: float) -> None:
        self.windows.close_before(limit)
        for second in sorted(s for s in self._open_seconds if s < limit):
            histogram, ok, failed, tokens, corrected, statuses = self._open_seconds.pop(second)
            ladder = percentiles_ms(histogram)
            fixed = percentiles_ms(corrected) if corrected is not None else {}
            row = SecondRow(second, ok, failed, ladder.get(50.0), ladder.get(99.0), ladder.get(100.0), tokens)
            self.seconds.append(
                replace(
                    row,
                    p50_corrected_ms=fixed.get(50.0),
                    p99_corrected_ms=fixed.get(99.0),
                    statuses=dict(sorted(statuses.items())),
                )
            )

    def _close_step(self, now_s: float) -> None:
        if self._step >= len(self.levels) or len(self.steps) > self._step:
            return  # not a sweep, or this step is closed already
        duration = max(now_s - self._step_started_s, 1e-9)
        total = self._step_ok + self._step_failed
        self.steps.append(
            StepRow(
                level=self.levels[self._step],
                duration_s=duration,
                ok=self._step_ok,
                failed=self._step_failed,
                rps=self._step_ok / duration,
                percentiles_ms=percentiles_ms(self._step_hist),
                error_rate=self._step_failed / total if total else 0.0,
            )
        )
        self._step_started_s = now_s
        self._step_hist = new_histogram()
        self._step_ok = self._step_failed = 0

    # -- reading -----------------------------------------------------------------------------------

    @property
    def ok(self) -> int:
        return int(self.totals["ok"].get_total_count())

    @property
    def failed(self) -> int:
        return int(self.totals["failed"].get_total_count())

    @property
    def measured_s(self) -> float:
        return max(self.last_taken_s - self.warmup_s, 0.0)

    def mean_ms(self) -> float | None:
        """Mean latency of successful responses."""
        return self.ok_sum_us / self.ok / 1000 if self.ok else None

    def throughput_rps(self) -> float:
        return self.ok / self.measured_s if self.measured_s > 0 else 0.0

    def ladder(self, name: str) -> dict[float, float]:
        """The percentile ladder of a total histogram, recomputed only when it recorded something since
        (a ladder walks all 23,552 buckets in Python: ~1-2 ms that would otherwise delay sends)."""
        histogram = self.totals[name]
        count = histogram.get_total_count()
        cached = self._ladders.get(name)
        if cached is None or cached[0] != count:
            cached = (count, percentiles_ms(histogram))
            self._ladders[name] = cached
        return cached[1]

    @property
    def sending_s(self) -> float:
        """Open mode: seconds the generators spent sending, averaged over them (a budget can end it early)."""
        return sum(self._sending_s.values()) / len(self._sending_s) if self._sending_s else 0.0

    def health(self) -> Health:
        lag = self.ladder("loop_lag")
        drift = self.ladder("drift")
        lag_p99 = lag.get(99.0)
        lag_max = lag.get(100.0)
        drift_p99 = drift.get(99.0)
        cpu = sum(self._cpu_last[w] - self._cpu_first[w] for w in self._cpu_last)
        span = self.last_taken_s - min(self._first_taken.values(), default=self.last_taken_s)
        cpu_share = cpu / span if span > 0 else 0.0
        process_cpu = tuple(self._process_cpu(w) for w in sorted(self._cpu_last))
        machine_busy = None
        if self._machine_first is not None and self._machine_last is not None:
            machine_busy = busy_share(self._machine_first, self._machine_last)
        send_share = None
        sending_s = sum(self._sending_s.values())
        if self.mode == "open" and self.target_rate and sending_s > 0:
            # Over the time spent sending, not the run's: a request budget can end the sending early.
            send_share = self.sent / (self.target_rate / self.workers * sending_s)
        held = self.late + self.not_sent
        reasons = list(self.lost)
        notes = []
        remedy = None
        if self.last_taken_s >= HEALTH_MIN_S:
            lag_limit_ms = max(LAG_P99_LIMIT_MS, LAG_SHARE_OF_P50 * self.ladder("ok").get(50.0, 0.0))
            if lag_p99 is not None and lag_p99 > lag_limit_ms:
                reasons.append(
                    f"event-loop lag p99 {lag_p99:.1f} ms > {lag_limit_ms:.3g} ms: responses waited for the generator"
                )
            if drift_p99 is not None and drift_p99 > DRIFT_P99_LIMIT_MS:
                reasons.append(f"send drift p99 {drift_p99:.1f} ms > {DRIFT_P99_LIMIT_MS:g} ms: the timetable slipped")
            load = GeneratorLoad(
                process_cpu=process_cpu,
                process_lag_p99_ms=tuple(self._process_lag_p99_ms(w) for w in sorted(self._cpu_last)),
                lag_p99_ms=lag_p99,
                held=held,
                machine_busy=machine_busy,
                machine_cpus=machine_cpus(),
                usable_cpus=usable_cpus(),
                throughput_rps=self.throughput_rps(),
                open_loop=self.mode == "open",
            )
            if (saturated := saturation_reason(load)) is not None:
                reasons.append(saturated)
            if send_share is not None and send_share < SEND_RATE_MIN_SHARE and held == 0:
                reasons.append(
                    f"sent {send_share:.0%} of the target rate with the clients cap never full: "
                    "the generator fell behind"
                )
            # Lost counts are no matter of load: the remedy speaks only to a generator that fell behind.
            remedy = what_to_do(load, self.workers) if len(reasons) > len(self.lost) else None
        if held and not reasons:
            rate = f"{self.target_rate:g} req/s" if self.target_rate else "the sweep's rates"
            at = f" at {self.clients:,} clients" if self.clients else ""
            notes.append(
                f"the target could not take {rate}{at}: {self.late:,} sends waited for a free client and "
                f"{self.not_sent:,} never left; the generator kept up (CPU {cpu_text(process_cpu)}), so the "
                "measurement stands and the not-sent count is the target's"
            )
        return Health(
            loop_lag_p99_ms=lag_p99,
            loop_lag_max_ms=lag_max,
            drift_p99_ms=drift_p99,
            cpu_share=cpu_share,
            send_rate_share=send_share,
            valid=not reasons,
            reasons=tuple(reasons),
            notes=tuple(notes),
            remedy=remedy,
            process_cpu=process_cpu,
            machine_busy=machine_busy,
            machine_cpus=machine_cpus() if machine_busy is not None else None,
            header_refreshes=self.header_refreshes,
            header_refresh_failures=self.header_refresh_failures,
            header_refresh_error=self.header_refresh_error,
        )

    def _process_cpu(self, worker: int) -> float:
        """One generator's CPU seconds per wall second over the deltas it sent."""
        span = self._taken[worker] - self._first_taken[worker]
        return (self._cpu_last[worker] - self._cpu_first[worker]) / span if span > 0 else 0.0

    def _process_lag_p99_ms(self, worker: int) -> float | None:
        histogram = self._lag.get(worker)
        if histogram is None or not histogram.get_total_count():
            return None
        return float(histogram.get_value_at_percentile(99.0)) / 1000

    def snapshot(self, now_s: float, phase: Phase, step_level: float | None = None) -> EngineSnapshot:
        """An immutable view of the run now (~2 ms per non-empty histogram: call it at a display's rate)."""
        oldest = sorted((aged for per in self._oldest.values() for aged in per), key=lambda item: -item[1])
        last_second = self.seconds[-1] if self.seconds else None
        mean = self.mean_ms()
        return EngineSnapshot(
            taken_at_s=now_s,
            phase=phase,
            mode=self.mode,
            planned_s=self.planned_s,
            sent=self.sent,
            completed=self.completed,
            ok=self.ok,
            failed=self.failed,
            warmup=self.warmup,
            late=self.late,
            not_sent=self.not_sent,
            sending_s=self.sending_s,
            in_flight=sum(self._in_flight.values()),
            statuses=dict(self.statuses),
            errors=dict(self.errors),
            throughput_rps=self.throughput_rps(),
            last_second_rps=float(last_second.ok) if last_second else 0.0,
            percentiles_ms=self.ladder("ok"),
            corrected_ms=self.ladder("ok_corrected"),
            failed_percentiles_ms=self.ladder("failed"),
            model_ms=self.ladder("model"),
            mean_ms=mean,
            oldest_in_flight=tuple(oldest[:8]),
            recent=tuple(self.recent)[-SNAPSHOT_RECENT:],
            per_second=tuple(self.seconds[-SNAPSHOT_SECONDS:]),
            health=self.health(),
            capacity=self.capacity,
            steps=tuple(self.steps),
            step_level=step_level,
            outside_ms=self.ladder("outside"),
            with_exec_time=int(self.totals["model"].get_total_count()),
            timetable=tuple(
                sorted((second, stage, sent, ok) for (second, stage), (sent, ok) in self.timetable.items())
            ),
            streaming=summarize(self.ladder, self.stream_counts, self.measured_s, self.completed, self.stream)
            if self.stream is not None
            else None,
        )
