"""The typed Report: what a run's JSON report holds ("moetui.report/1"), block by block, as TypedDicts.

A TypedDict is a plain dict at run time, so json.dumps writes a Report byte for byte as before; the types
only let mypy check every key a writer puts and a reader takes. Keys are total: a single run's report
(moetui.report.json_report.build_report, see tests/report/golden/*.json) has every one. Keys only merged
or multi-node reports carry are NotRequired, and say so.

Reading a file (moetui.report.codec) checks the fields moetui reads (its schema): a report of an older
moetui may lack a block the type names, so readers of a report from a file use `.get` for blocks the
schema does not require.
"""

# No `from __future__ import annotations`: TypedDict reads NotRequired from evaluated annotations only, and
# the required keys are checked at run time (tests/report/test_model.py).
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict, cast

from moetui.engine.streaming import STREAM_HISTOGRAMS

SCHEMA = "moetui.report/1"
#: Histograms a report carries (the generator's own drift and lag stay in `generator`).
REPORT_HISTOGRAMS = ("ok", "ok_corrected", "failed", "model", "outside", *STREAM_HISTOGRAMS)


class Tool(TypedDict):
    name: str
    version: str


class TargetInfo(TypedDict):
    """The target's public description (ResolvedTarget.public): no headers, no key."""

    kind: str
    url: str | None
    deployment: str | None
    max_concurrent_requests_per_instance: int | None
    instance_count: int | None
    capacity: int | None
    request_timeout_ms: int | None
    description: str | None
    capacity_judged: NotRequired[int | None]
    """The capacity the verdicts were judged against, when the deployment's changed before the run began."""


class Requests(TypedDict):
    sent: int
    completed: int
    ok: int
    failed: int
    warmup: int
    late: int
    not_sent: int
    in_flight_at_end: int
    out_of_range: int
    by_status: dict[str, int]
    """Finished requests by HTTP status ("200", "429")."""
    by_error: dict[str, int]
    """Requests that got no response, by moetui's error kind ("timeout", "refused")."""


class Received(TypedDict):
    """Response bodies, warm-up included: counted as read, never kept."""

    bytes: int
    bodies: int
    mean_bytes: float | None
    max_bytes: int


class Rate(TypedDict):
    """An open run: the rate asked for against the rate sent, over the time spent sending."""

    offered_per_s: float | None
    sent_per_s: float
    sending_s: float
    clients: int | None
    intended: int
    not_sent: int


class Ladder(TypedDict):
    """Percentiles in ms (or tokens/s for a rate ladder); a latency block adds its mean and its count."""

    p50: float
    p90: float
    p95: float
    p99: float
    p99_9: float
    max: float
    mean: NotRequired[float]
    count: NotRequired[int]
    """How many requests the ladder covers (its histogram's total)."""


#: A ladder's figures, in order (its `count` is not one).
LADDER_KEYS = ("p50", "p90", "p95", "p99", "p99_9", "max", "mean")


def ladder_values(block: Ladder) -> dict[str, float]:
    """A ladder's figures by key, in order, for readers that walk them; those it lacks (a report of an older
    moetui, a ladder without its mean) are left out."""
    figures = cast(Mapping[str, float], block)
    return {key: figures[key] for key in LADDER_KEYS if key in figures}


class ModelSplit(TypedDict):
    """How many successful responses carried x-ms-run-fn-exec-ms (the count behind the model ladders)."""

    ok: int
    with_exec_time: int
    share: float | None


class StreamEvidence(TypedDict):
    buffered_share: float | None
    buffered_if_ttft_over_e2e_above: float
    ttft_p50_over_e2e_p50: float | None
    itl_p50_ms: float | None
    multi_token_streams: int


class StreamTokens(TypedDict):
    output: int
    output_source: str
    output_counted_streams: int
    input: int | None
    input_unreported_streams: int
    output_per_s: float
    mean_output_per_request: float | None


class GoodputSlo(TypedDict):
    ttft_ms: float | None
    tpot_ms: float | None


class Goodput(TypedDict):
    slo: GoodputSlo
    good: int
    of: int
    share: float | None
    per_s: float | None


class Streaming(TypedDict):
    """A streaming run's block (moetui.report.streaming.streaming_block)."""

    api: str | None
    verdict: str
    evidence: StreamEvidence
    streams: int
    cut: int
    tokens: StreamTokens
    per_request_output_tokens_per_s: Ladder | None
    ttft_ms: Ladder | None
    ttft_corrected_ms: Ladder | None
    itl_ms: Ladder | None
    tpot_ms: Ladder | None
    e2e_ms: Ladder | None
    e2e_corrected_ms: Ladder | None
    goodput: Goodput | None
    counts: dict[str, int]
    """moetui.engine.streaming.COUNTERS, each counted."""


class Burst(TypedDict):
    """A burst run's verdict (moetui.engine.judge.BurstVerdict)."""

    verdict: str
    expected: int
    served_at_once: float
    effective_concurrency: float
    service_s: float
    as_expected: bool


class StepRow(TypedDict):
    level: float
    duration_s: float
    ok: int
    failed: int
    rps: float
    error_rate: float
    latency_ms: Ladder | None


class Steps(TypedDict):
    over: str
    percentile: float
    threshold_ms: float
    error_limit: float
    table: list[StepRow]
    knee: float | None


class StageRow(TypedDict):
    """One stage of a ramped open run (moetui.report.stages): counts by the slot each send was due at."""

    stage: int
    shape: str
    from_rate: float
    to_rate: float
    start_s: float
    duration_s: float
    offered: float
    """The timetable's slots in the stage (Poisson arrivals: their expected count)."""
    sent: int
    ok: int
    not_sent: float
    not_sent_share: float | None


class StageSecond(TypedDict):
    """One second of a ramped run's timetable: offered (the rate's integral), sent and 2xx by slot."""

    second: int
    offered: float
    sent: int
    ok: int


class Stages(TypedDict):
    """A ramped open run's block ([[load.stages]])."""

    stages: list[StageRow]
    per_second: list[StageSecond]


class ServedBy(TypedDict):
    """One serving deployment's answers (moetui.report.serving), by its `azureml-model-deployment` header."""

    ok: int
    failed: int
    """Answers with a status outside 2xx."""
    error_rate: float
    throughput_rps: float
    """Its successful answers per measured second."""
    by_status: dict[str, int]
    latency_ms: Ladder | None


class SecondRow(TypedDict):
    """One second of the run (moetui.engine.snapshot.SecondRow)."""

    second: int
    ok: int
    failed: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    output_tokens: int
    p50_corrected_ms: float | None
    p99_corrected_ms: float | None
    statuses: dict[str, int]


class LoggedRequest(TypedDict):
    """One of the last requests (moetui.engine.recorder.RequestRecord); times in s from the run's start."""

    id: int
    sent_at_s: float
    elapsed_s: float
    status: int | None
    error: str | None
    exec_ms: float | None
    intended_at_s: float | None
    first_token_s: float | None


class Generator(TypedDict):
    """How well the generator kept up (moetui.engine.snapshot.Health) and its processes."""

    loop_lag_p99_ms: float | None
    loop_lag_max_ms: float | None
    drift_p99_ms: float | None
    cpu_share: float
    send_rate_share: float | None
    valid: bool
    reasons: list[str]
    notes: list[str]
    remedy: str | None
    process_cpu: list[float]
    machine_busy: float | None
    machine_cpus: int | None
    header_refreshes: int
    header_refresh_failures: int
    header_refresh_error: str | None
    workers: int
    nodes: NotRequired[int]
    """A multi-node run: how many nodes' generators this block sums up (the busiest node's figures)."""


class MetricPoint(TypedDict):
    time: str
    average: float | None
    maximum: NotRequired[float]
    minimum: NotRequired[float]


class ServerMetric(TypedDict):
    scope: str
    unit: str | None
    average: float | None
    maximum: float | None
    points: list[MetricPoint]
    filter: NotRequired[str]


class CapacityChange(TypedDict):
    time: str
    instances: int


class Capacity(TypedDict):
    minimum: int | None
    maximum: int | None
    changes: list[CapacityChange]


class MetricSource(TypedDict):
    scope: str
    resource: str
    filter: str | None
    metrics: list[str]


class ServerMetrics(TypedDict):
    """Azure Monitor's block for an Azure deployment (moetui.azure.metrics.fetch_metrics)."""

    source: str
    interval: str
    timespan: str
    endpoint_id: str
    deployment_id: str | None
    metrics: dict[str, ServerMetric]
    other_deployments: dict[str, dict[str, ServerMetric]]
    sources: list[MetricSource]
    errors: list[str]
    capacity: NotRequired[Capacity]


class ProcessUsage(TypedDict):
    cpu_cores_mean: float | None
    cpu_cores_peak: float | None
    rss_mb_peak: float


class LocalProcesses(TypedDict):
    """The local endpoint's processes during the run (moetui.local_endpoint.usage): the figures, or an
    error alone when too few samples were taken."""

    error: NotRequired[str | None]
    processes: NotRequired[dict[str, ProcessUsage]]
    server_cpu_share: NotRequired[float | None]
    cpus_per_instance: NotRequired[int]
    sample_s: NotRequired[float]


class Threshold(TypedDict):
    """One threshold judged (moetui.engine.judge.ThresholdCheck)."""

    name: str
    limit: float
    value: float | None
    passed: bool
    at_least: bool
    """The value must reach the limit (min_rps, concurrency); else it must stay under it."""
    default: bool
    """moetui's default limit (the configuration set none)."""


class WindowRow(TypedDict):
    """One window's latency histograms (moetui.engine.windows.WINDOW_HISTOGRAMS), encoded."""

    start_s: int
    ok: NotRequired[str]
    ok_corrected: NotRequired[str]
    model: NotRequired[str]
    outside: NotRequired[str]


class Windows(TypedDict):
    seconds: int
    rows: list[WindowRow]


class NodeInfo(TypedDict):
    """A node's own report names its node (moetui.nodes)."""

    rank: int
    of: int
    host: str
    share: dict[str, Any] | None
    """The node's part of the load (its config keys and values)."""
    barrier_waited_s: float | None


class NodeRow(TypedDict):
    """A multi-node run's merged report: one row per node."""

    rank: int
    of: NotRequired[int]
    host: NotRequired[str]
    share: NotRequired[dict[str, Any] | None]
    barrier_waited_s: NotRequired[float | None]
    started_at: str
    start_offset_s: float
    ok: int
    failed: int
    throughput_rps: float
    valid: bool
    reasons: list[str]
    interrupted: bool


class Report(TypedDict):
    """A run's report, "moetui.report/1": every key a single run's report has, in the order it is written."""

    schema: str
    tool: Tool
    started_at: str
    """ISO 8601 with its offset."""
    wall_s: float
    measured_s: float
    interrupted: bool
    mode: str
    """The load mode (closed, open, burst, steps), or "mixed" for a merge of several."""
    config: dict[str, Any] | None
    """The configuration as run, secrets redacted (moetui.redact.shown_config): its own shape."""
    target: TargetInfo | None
    request_timeout_s: float | None
    requests: Requests
    meanings: dict[str, str]
    """What each status and error kind seen means."""
    error_rate: float
    throughput_rps: float
    received: Received | None
    rate: Rate | None
    latency_ms: Ladder | None
    corrected_latency_ms: Ladder | None
    failed_latency_ms: Ladder | None
    model_latency_ms: Ladder | None
    outside_model_latency_ms: Ladder | None
    model_split: ModelSplit | None
    streaming: Streaming | None
    burst: Burst | None
    steps: Steps | None
    per_second: list[SecondRow]
    request_log: list[LoggedRequest]
    generator: Generator | None
    server_metrics: ServerMetrics | None
    local_processes: LocalProcesses | None
    thresholds: list[Threshold]
    passed: bool
    valid: bool
    exit_status: int
    histograms: dict[str, str]
    """HdrHistogram's compressed base64 form, by name (json_report.REPORT_HISTOGRAMS)."""
    windows: Windows | None
    serving: NotRequired[dict[str, ServedBy]]
    """Only when some answer named its deployment (azureml-model-deployment): answers per deployment."""
    stages: NotRequired[Stages]
    """Only a ramped open run's report ([[load.stages]]): other reports stay as they were."""
    # Only merged, multi-node and annotated reports carry these:
    notes: NotRequired[list[str]]
    """What the run's setup said worth keeping (a profiler variable not used, a request log not written)."""
    merged_from: NotRequired[list[str]]
    merged_modes: NotRequired[list[str]]
    merged_as: NotRequired[str]
    """"overlapping" (runs side by side: rates summed) or "sequential" (one after another: rates not summed)."""
    node: NotRequired[NodeInfo]
    nodes: NotRequired[list[NodeRow]]
    start_spread_s: NotRequired[float]
    start_spread_bound_s: NotRequired[float]
    matrix: NotRequired[list[dict[str, Any]]]
    """A matrix run's table, one row per combination of settings."""


def latency_ladders(report: Report) -> dict[str, Ladder | None]:
    """The report's latency ladders by key (latency_ms, corrected_latency_ms, failed_latency_ms,
    model_latency_ms, outside_model_latency_ms), for readers that walk them; None where a run had none, and
    for a stream's outside_model_latency_ms (see model_time_label)."""
    return {
        "latency_ms": report.get("latency_ms"),
        "corrected_latency_ms": report.get("corrected_latency_ms"),
        "failed_latency_ms": report.get("failed_latency_ms"),
        "model_latency_ms": report.get("model_latency_ms"),
        "outside_model_latency_ms": None if report.get("streaming") else report.get("outside_model_latency_ms"),
    }


#: What a stream's x-ms-run-fn-exec-ms times, said beside its ladder wherever the report is shown.
STREAM_EXEC_NOTE = "a stream's x-ms-run-fn-exec-ms ends when run() returns its generator: no in/outside-model split"


def model_time_label(report: Report, short: bool = False) -> str:
    """The label of model_latency_ms: time in the model's run(); for a stream only run() returning its
    generator (the server's clock stops there, before the first token), so a stream's readers show no
    outside-the-model ladder either (latency_ladders leaves it out)."""
    if report.get("streaming"):
        return "run()" if short else "run() returning its generator (x-ms-run-fn-exec-ms)"
    return "in model" if short else "time in the model (x-ms-run-fn-exec-ms)"
