"""How long things take, derived from a configuration alone: the per-request timeout rule and a run's
planned length. Imports nothing above config (the engine's LoadPlan and the Azure target read these)."""

from __future__ import annotations

from moetui.config.schema import Config, Mode

#: The per-request timeout when neither the configuration nor the target gives one (the profiler's TIMEOUT).
DEFAULT_TIMEOUT_S = 10.0
#: Added to the deployment's request_timeout_ms: the endpoint answers 408 at its timeout, and that answer
#: (queueing and the network on top) must reach moetui before moetui gives up on its own.
REQUEST_TIMEOUT_MARGIN_S = 5.0


def request_timeout_s(configured_s: float | None, request_timeout_ms: int | None) -> float:
    """The per-request timeout: the configured one, else the deployment's request_timeout_ms plus
    REQUEST_TIMEOUT_MARGIN_S, else DEFAULT_TIMEOUT_S."""
    if configured_s is not None:
        return configured_s
    if request_timeout_ms:
        return request_timeout_ms / 1000 + REQUEST_TIMEOUT_MARGIN_S
    return DEFAULT_TIMEOUT_S


def planned_span_s(mode: Mode, duration_s: float, warmup_s: float, step_duration_s: float, levels: int) -> float:
    """A run's planned length, warm-up included, from plain values (LoadPlan.planned_s reads it too)."""
    # duration_s already holds the warm-up (load.duration_s is the whole run); a sweep's is its own.
    return warmup_s + step_duration_s * levels if mode == "steps" else duration_s


def planned_seconds(config: Config) -> float:
    """How long a configuration's load should take, warm-up included (a burst: its request timeout),
    known before the target is resolved (the Azure target checks its token's expiry against it)."""
    load = config.load
    if load.mode == "burst":
        return request_timeout_s(load.timeout_s, None)
    return planned_span_s(
        load.mode, load.duration_s, load.warmup_s, config.steps.step_duration_s, len(config.steps.levels)
    )
