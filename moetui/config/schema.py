"""The run configuration, one frozen dataclass per TOML table.

Each field's metadata tells the loader how to read it:
- "key": the TOML key when it differs from the field name (`duration` -> `duration_s`);
- "duration": the value is a duration: a number of seconds or a string such as "300s", "5m", "250ms";
- "min" / "max" (inclusive) and "above" (exclusive lower bound) for numbers;
- "choices": the allowed strings (a Literal-typed field needs none: its Literal's values are the choices);
- "omit_empty": a saved configuration leaves the field out while it is empty.
Keys are never secrets: a config names where a key is (`key_env`, `key_file`), never the key itself, and
so for secret headers and query parameters (`header_env`, `header_file`, `query_env`, `query_file`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

#: The load modes: the one list (MODES, the loader's choices and MODE_MEANINGS's keys follow it).
Mode = Literal["burst", "closed", "open", "steps"]
#: The load modes (one module each under engine/modes/) and what each does: the one list; the TUI's mode
#: picker shows these lines.
MODE_MEANINGS: dict[Mode, str] = {
    "burst": "N requests at once (the concurrency check)",
    "closed": "connections back to back (wrk)",
    "open": "constant rate (wrk2, LaBench)",
    "steps": "sweep levels, find the knee",
}
MODES: tuple[Mode, ...] = get_args(Mode)
#: Azure's largest request_timeout_ms for a managed online deployment (the local twin keeps the same cap):
#: the one bound for every place that takes one (config, --timeout-ms, the create dialog, deployment.yml).
MAX_REQUEST_TIMEOUT_MS = 180_000


def _meta(**kwargs: Any) -> dict[str, Any]:
    return kwargs


@dataclass(frozen=True)
class UrlTarget:
    """[target.url]: any HTTP scoring endpoint, Azure's or not (the profiler's SCORING_URI)."""

    url: str = field(default="", metadata=_meta(required=True))
    """Scoring URI, http:// or https://."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra request headers (the profiler's SCORING_HEADERS); never a secret-looking one (moetui.redact)."""
    header_env: dict[str, str] | None = None
    """Secret headers: header name -> environment variable that holds its value (`"api-key" = "AOAI_KEY"`)."""
    header_file: dict[str, str] | None = None
    """Secret headers: header name -> file, readable by its owner only, that holds its value."""
    query_env: dict[str, str] | None = None
    """Secret query parameters (`code`, `sig`): name -> environment variable, appended to the URL's query."""
    query_file: dict[str, str] | None = None
    """Secret query parameters: name -> file, readable by its owner only, that holds its value."""
    key_env: str | None = None
    """Environment variable that holds the key, sent as `Authorization: Bearer <key>`."""
    key_file: str | None = None
    """File that holds the key: the key alone, or JSON with a "key" field (a cred.json as a deploy script writes it)."""
    deployment: str | None = None
    """Sent as `azureml-model-deployment`, which routes to one deployment of an Azure endpoint."""
    max_concurrency: int | None = field(default=None, metadata=_meta(min=1))
    """The deployment's max_concurrent_requests_per_instance x instance_count, when known."""


@dataclass(frozen=True)
class LocalTarget:
    """[target.local]: start the local endpoint for the run and stop it after. Unset values come from
    the deployment file (scoring_app/deployment.yml)."""

    deployment_file: str | None = None
    """Azure ML deployment YAML to read the settings from; scoring_app/deployment.yml when unset."""
    scorer: str | None = None
    """Entry script: "sleep" (scoring_app/score.py, when unset), "stream" (scoring_app/stream_score.py,
    OpenAI-style streamed chat completions, timed by STREAM_* variables) or a path."""
    buffer: bool | None = None
    """true: the gateway reads a streamed answer whole before sending it (unset: chunks pass as they come)."""
    sleep: float | None = field(default=None, metadata=_meta(min=0, max=3600))
    """SLEEP_SECONDS of the sleep scorer."""
    workers: int | None = field(default=None, metadata=_meta(min=1, max=256))
    """WORKER_COUNT: worker processes per instance."""
    max_concurrency: int | None = field(default=None, metadata=_meta(min=1, max=1024))
    """max_concurrent_requests_per_instance."""
    instances: int | None = field(default=None, metadata=_meta(min=1, max=64))
    """instance_count."""
    timeout_ms: int | None = field(default=None, metadata=_meta(min=1, max=MAX_REQUEST_TIMEOUT_MS))
    """request_timeout_ms."""
    deployment: str | None = None
    """Send `azureml-model-deployment: <name>`; by default the traffic split decides."""
    instance_type: str | None = None
    """"local-<N>cpu" (such as "local-1cpu"): each instance's inference server is pinned to N CPUs, a real
    limit as an Azure VM size is; unset: all the CPUs this process may use."""
    environment: dict[str, str] | None = None
    """environment_variables laid over the deployment file's (such as OMP_NUM_THREADS), passed to the scorer."""


@dataclass(frozen=True)
class AzureTarget:
    """[target.azure]: a deployment of an Azure ML managed online endpoint, resolved when the run starts
    (scoring URI, key or token, `azureml-model-deployment`, request settings). With `moetui --run --deploy`
    the deployment is first created from scoring_app/ with the settings below."""

    subscription_id: str = field(default="", metadata=_meta(required=True))
    resource_group: str = field(default="", metadata=_meta(required=True))
    workspace: str = field(default="", metadata=_meta(required=True))
    endpoint: str = field(default="", metadata=_meta(required=True))
    """Online endpoint name. `moetui --run --deploy` creates it (a random name when the file names none)."""
    deployment: str | None = None
    """Sent as `azureml-model-deployment`; unset: the endpoint's traffic split decides."""
    instance_type: str | None = None
    """--deploy: the VM size (deployment.yml's instance_type when unset)."""
    instances: int | None = field(default=None, metadata=_meta(min=1, max=64))
    """--deploy: instance_count."""
    max_concurrency: int | None = field(default=None, metadata=_meta(min=1, max=1024))
    """--deploy: max_concurrent_requests_per_instance."""
    workers: int | None = field(default=None, metadata=_meta(min=1, max=256))
    """--deploy: WORKER_COUNT, the inference server's worker processes per instance."""
    sleep: float | None = field(default=None, metadata=_meta(min=0, max=3600))
    """--deploy: SLEEP_SECONDS of the sleep scorer."""
    timeout_ms: int | None = field(default=None, metadata=_meta(min=1, max=MAX_REQUEST_TIMEOUT_MS))
    """--deploy: request_timeout_ms (Azure's maximum is 180000)."""


@dataclass(frozen=True)
class TargetConfig:
    """[target]: exactly one of its tables, url, local or azure, says what is loaded."""

    url: UrlTarget | None = None
    local: LocalTarget | None = None
    azure: AzureTarget | None = None

    @property
    def kind(self) -> str:
        """ "url", "local" or "azure": the one table present."""
        for name in ("url", "local", "azure"):
            if getattr(self, name) is not None:
                return name
        return "local"


#: A stage's shape: "ramp" goes linearly from the previous stage's rate (0 before the first) to its own over its
#: duration; "step" jumps to its rate at its start and holds it (a spike is a short step up, then a step down).
StageShape = Literal["ramp", "step"]


@dataclass(frozen=True)
class Stage:
    """One [[load.stages]] entry of an open run whose rate changes (k6's ramping-arrival-rate)."""

    rate: float = field(default=0.0, metadata=_meta(required=True, min=0, max=1_000_000))
    """Requests per second at the stage's end."""
    duration_s: float = field(
        default=0.0, metadata=_meta(key="duration", required=True, duration=True, min=0, max=86400)
    )
    """How long the stage lasts; 0 jumps to its rate at once."""
    shape: StageShape = "ramp"


@dataclass(frozen=True)
class LoadConfig:
    """[load]: how the load is shaped. Names and defaults follow the endpoint model profiler's."""

    mode: Mode = "closed"
    """burst (N at once), closed (as wrk), open (constant rate, as wrk2/LaBench) or steps (a sweep)."""
    duration_s: float = field(default=300.0, metadata=_meta(key="duration", duration=True, above=0, max=7 * 86400))
    """How long closed and open load runs (profiler DURATION, default 300s)."""
    requests: int | None = field(default=None, metadata=_meta(min=1, max=1_000_000_000))
    """burst: how many at once (default: connections). closed/open: stop after this many as well."""
    connections: int | None = field(default=None, metadata=_meta(min=1, max=10_000))
    """closed: connections sending back to back (profiler CONNECTIONS).

    Default: the deployment's max_concurrent_requests_per_instance."""
    clients: int | None = field(default=None, metadata=_meta(min=1, max=10_000))
    """open: most requests in flight at once (profiler CLIENTS). Default: the deployment's
    max_concurrent_requests_per_instance; when the target does not say (a [target.url] without
    max_concurrency), rate x timeout, at most 500: by Little's law the cap then never holds the rate back
    by itself, and a target too slow for the rate shows as sends not sent."""
    rate: float = field(default=50.0, metadata=_meta(above=0, max=1_000_000))
    """open: target requests per second (profiler TARGET_RPS, default 50)."""
    arrivals: str = field(default="even", metadata=_meta(choices=("even", "poisson")))
    """open: evenly spaced sends (wrk2, LaBench) or Poisson arrivals."""
    stages: tuple[Stage, ...] = field(default=(), metadata=_meta(omit_empty=True))
    """open: a rate that changes ([[load.stages]], k6's ramping-arrival-rate) instead of `rate`; the run lasts
    their durations' sum (`duration` is then not set)."""
    timeout_s: float | None = field(default=None, metadata=_meta(key="timeout", duration=True, above=0, max=3600))
    """Per-request timeout (profiler TIMEOUT). Unset: the deployment's request_timeout_ms plus 5 s, so that
    the endpoint's own 408 arrives before moetui gives up (a 15 s scorer behind a 60 s request timeout is
    never cut at 10 s); 10 s when the target does not say."""
    warmup_s: float = field(default=0.0, metadata=_meta(key="warmup", duration=True, min=0, max=3600))
    """Load sent first and left out of the statistics: the start of `duration` (steps: before the first step)."""
    payload: str | None = None
    """Request body sent as is (profiler PAYLOAD)."""
    payload_file: str | None = None
    """File of request bodies, one per line, used in turn."""
    method: str = field(default="POST", metadata=_meta(choices=("POST", "GET", "PUT")))
    client: str = field(default="aiohttp", metadata=_meta(choices=("aiohttp", "httpx")))
    """HTTP client: aiohttp (fast, HTTP/1.1) or httpx (HTTP/2 with http2 = true)."""
    http2: bool = False
    """Speak HTTP/2 (httpx only)."""
    workers: int = field(default=1, metadata=_meta(min=1, max=64))
    """Generator processes; each records its own histograms and the main process merges them."""
    seed: int | None = None
    """Seed of the Poisson arrivals, for repeatable timetables."""
    api: str = field(default="scoring", metadata=_meta(choices=("scoring", "chat")))
    """What the target speaks: "scoring" (an Azure ML scoring URI; bodies as given) or "chat"
    (OpenAI-compatible chat completions: bodies from [workload], `stream: true` with usage; a URL without a
    path gets /v1/chat/completions; Azure OpenAI's /openai/deployments/{name}/chat/completions?api-version=
    form is used as given)."""
    stream: bool | None = None
    """Read each answer as a stream and time its tokens (TTFT, inter-token gaps); unset: true for
    api = "chat", false for "scoring" (a streaming scorer sets it)."""


@dataclass(frozen=True)
class TokenSpread:
    """A token count drawn per request from a normal distribution (rounded, at least 1)."""

    mean: float = field(default=100.0, metadata=_meta(min=1, max=1_000_000))
    stddev: float = field(default=0.0, metadata=_meta(min=0, max=1_000_000))


@dataclass(frozen=True)
class WorkloadConfig:
    """[workload]: the prompts of a generative run (api = "chat", or a streaming scorer): from a JSONL file,
    or synthetic with a stated spread of input and output tokens, seeded so that runs repeat. The bodies are
    made before the load starts and used in turn by every load model."""

    prompts_file: str | None = None
    """JSONL: one prompt per line, `{"messages": [...]}` or `{"prompt": "..."}` (optionally "max_tokens")."""
    input_tokens: TokenSpread = field(default_factory=lambda: TokenSpread(mean=200.0))
    """Synthetic prompts: their length in tokens (one word, one token)."""
    output_tokens: TokenSpread = field(default_factory=TokenSpread)
    """`max_tokens` of each request (synthetic prompts, and file prompts that name none)."""
    prompts: int = field(default=100, metadata=_meta(min=1, max=100_000))
    """How many synthetic bodies are made (then used in turn)."""
    seed: int = 1
    """Seed of the synthetic prompts and token counts."""
    model: str | None = None
    """The body's "model" (OpenAI and vLLM ask for one; Azure OpenAI takes the deployment from the URL)."""


@dataclass(frozen=True)
class SloConfig:
    """[slo]: goodput's limits. A streamed request is good when its time to first token (measured from
    the intended send in open mode) and its time per output token are within these."""

    ttft_ms: float | None = field(default=None, metadata=_meta(above=0))
    tpot_ms: float | None = field(default=None, metadata=_meta(above=0))


#: The error-rate threshold a burst, closed or open run is held to when [thresholds] sets none: at most
#: 1 % of requests may fail. One failure in a hundred is already what an SLO of "two nines" allows; a
#: run meant to find the limit sets its own (error_rate = 1 checks nothing), and a sweep is judged by its
#: knee, whose error_limit has the same default.
DEFAULT_ERROR_RATE = 0.01


@dataclass(frozen=True)
class StepsConfig:
    """[steps]: a sweep for mode = "steps"; each level runs for step_duration."""

    over: str = field(default="connections", metadata=_meta(choices=("connections", "rate")))
    """Sweep closed-loop connections or open-loop rates."""
    levels: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    """The connection counts or rates, in order."""
    step_duration_s: float = field(default=30.0, metadata=_meta(key="step_duration", duration=True, above=0, max=86400))
    percentile: float = field(default=99.0, metadata=_meta(above=0, max=100))
    """The percentile the knee is judged on."""
    threshold_ms: float = field(default=1000.0, metadata=_meta(above=0))
    """The knee is the highest level whose percentile stays under this ..."""
    error_limit: float = field(default=DEFAULT_ERROR_RATE, metadata=_meta(min=0, max=1))
    """... with errors under this share of requests."""


@dataclass(frozen=True)
class Thresholds:
    """[thresholds]: limits that fail the run (exit 1) when missed; unset ones are not checked, except
    error_rate, which is DEFAULT_ERROR_RATE outside sweeps."""

    p50_ms: float | None = field(default=None, metadata=_meta(above=0))
    p90_ms: float | None = field(default=None, metadata=_meta(above=0))
    p99_ms: float | None = field(default=None, metadata=_meta(above=0))
    error_rate: float | None = field(default=None, metadata=_meta(min=0, max=1))
    """Largest allowed share of failed requests (0.01 = 1 %); DEFAULT_ERROR_RATE when unset, but for sweeps."""
    min_rps: float | None = field(default=None, metadata=_meta(min=0))
    """Smallest allowed throughput of successful requests per second."""
    max_not_sent: float | None = field(default=0.01, metadata=_meta(min=0, max=1))
    """open (and steps over rate): largest allowed share of the timetable's sends that never left before
    the duration ended (default 0.01 = 1 %: above it the run did not deliver the load it claims); 1 turns
    the check off."""
    ttft_p99_ms: float | None = field(default=None, metadata=_meta(above=0))
    """Streaming: largest allowed p99 time to first token (corrected in open mode)."""
    tpot_p90_ms: float | None = field(default=None, metadata=_meta(above=0))
    """Streaming: largest allowed p90 time per output token."""
    itl_p99_ms: float | None = field(default=None, metadata=_meta(above=0))
    """Streaming: largest allowed p99 inter-token gap."""
    goodput: float | None = field(default=None, metadata=_meta(min=0, max=1))
    """Streaming: smallest allowed share of requests within [slo] (needs [slo])."""
    output_tokens_per_s: float | None = field(default=None, metadata=_meta(min=0))
    """Streaming: smallest allowed output tokens per second, all requests together."""


@dataclass(frozen=True)
class OutputConfig:
    """[output]: what is written and shown."""

    report: str | None = None
    """Path of the JSON report (also --report; `-`: stdout, the summary then goes to stderr)."""
    html: str | None = None
    """Path of the HTML report, one self-contained page (also `moetui report REPORT.json --html`)."""
    hgrm: str | None = None
    """Directory for HdrHistogram percentile-distribution files, one NAME.hgrm per histogram."""
    junit: str | None = None
    """Path of a JUnit XML file: each threshold a test case (for CI test reporters)."""
    requests: str | None = None
    """Path of the request log: every request as it finishes, CSV (JSON lines for .jsonl); also --requests."""
    recent_requests: int = field(default=200, metadata=_meta(min=0, max=100_000))
    """How many of the latest requests are kept for display and the report (bursts keep every one)."""
    progress_interval_s: float = field(default=5.0, metadata=_meta(key="progress_interval", duration=True, above=0))
    """How often a plain progress line is printed when the output is not a terminal (as in CI)."""


@dataclass(frozen=True)
class JobConfig:
    """[job]: the Azure ML job of `--on-azure` (and the app's Run on Azure)."""

    queued_limit_s: float | None = field(
        default=None, metadata=_meta(key="queued_limit", duration=True, above=0, max=7 * 86400)
    )
    """How long the job may stay Queued before moetui says why (the VM family's quota: cores needed vs
    available). Default: the cluster's scale-up allowance plus a margin (moetui.nodes.job.QUEUED_LIMIT_S)."""
    cancel_queued: bool = False
    """Cancel the job when it is still Queued at queued_limit (for CI); otherwise it goes on waiting."""


@dataclass(frozen=True)
class Config:
    """A whole run: target, load, steps, thresholds and output."""

    target: TargetConfig = field(default_factory=lambda: TargetConfig(local=LocalTarget()))
    load: LoadConfig = field(default_factory=LoadConfig)
    steps: StepsConfig = field(default_factory=StepsConfig)
    thresholds: Thresholds = field(default_factory=Thresholds)
    output: OutputConfig = field(default_factory=OutputConfig)
    workload: WorkloadConfig | None = None
    slo: SloConfig = field(default_factory=SloConfig)
    job: JobConfig | None = None
