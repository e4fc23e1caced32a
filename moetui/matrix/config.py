"""A matrix file: an ordinary run configuration plus [matrix] (the axes or cells, how each cell is measured,
[matrix.slo], [matrix.goodput]) and [prices]. Read into a `MatrixSpec`; every problem is reported at once,
each naming the file and the key, before anything starts. No textual, rich or azure."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moetui.config.load import read_toml
from moetui.config.schema import DEFAULT_ERROR_RATE
from moetui.errors import ConfigError
from moetui.matrix.axes import AXES, Cell, expand

#: [matrix] keys that are not axes.
OPTIONS = (
    "search",
    "rounds",
    "keep",
    "parallel",
    "region",
    "deployment_file",
    "cells",
    "deployments",
    "environment_variables",
)
TABLES = ("slo", "goodput")
SEARCHES = ("fixed", "goodput")


@dataclass(frozen=True)
class Slo:
    """[matrix.slo]: what a cell must hold. Latency is judged on the corrected p99 in open mode (the goodput
    probes), on the measured one in a closed or burst load."""

    p99_ms: float | None = None
    error_rate: float = DEFAULT_ERROR_RATE


@dataclass(frozen=True)
class GoodputSpec:
    """[matrix.goodput]: the search for the highest rate at which the SLO holds: double from start_rate
    until a probe fails, then bisect until the bracket is narrower than `precision` of its top."""

    start_rate: float = 1.0
    max_rate: float = 1000.0
    precision: float = 0.1
    """Relative: the search ends when (failed - passed) <= precision x failed."""
    probe_s: float = 5.0
    warmup_s: float = 1.0
    retries: int = 2
    """How often a probe the generator could not keep up with (invalid) is repeated before the search stops."""


@dataclass(frozen=True)
class MatrixSpec:
    path: Path
    base: dict[str, Any]
    """The file without [matrix] and [prices]: each cell's configuration starts from it."""
    cells: tuple[Cell, ...]
    search: str = "fixed"
    rounds: int = 1
    keep: bool = False
    parallel: int = 2
    region: str | None = None
    deployment_file: Path | None = None
    """An Azure cell's deployment YAML (the user's model, code, environment); None: scoring_app's sleep scorer."""
    slo: Slo | None = None
    goodput: GoodputSpec = field(default_factory=GoodputSpec)
    prices: dict[str, float] = field(default_factory=dict)
    fingerprint: str = ""
    """Digest of the file's settings and the overrides: a state file of another matrix is not resumed."""

    @property
    def target_kind(self) -> str:
        target = self.base.get("target")
        if isinstance(target, Mapping):
            for kind in ("url", "azure", "local"):
                if kind in target:
                    return kind
        return "local"


def read_matrix(path: Path, overrides: Sequence[str] = ()) -> MatrixSpec:
    """Read a matrix file.

    Raises:
        ConfigError: The file cannot be read, or [matrix] or [prices] has problems (all of them).
    """
    data = read_toml(path)
    return matrix_from_dict(data, str(path), path=path, overrides=overrides)


def matrix_from_dict(
    data: Mapping[str, Any], source: str, *, path: Path | None = None, overrides: Sequence[str] = ()
) -> MatrixSpec:
    problems: list[str] = []

    def bad(key: str, message: str) -> None:
        problems.append(f"{source}: {key}: {message}")

    base = {key: value for key, value in data.items() if key not in ("matrix", "prices")}
    table = data.get("matrix")
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: matrix: missing; a matrix file has a [matrix] table naming axes or cells.")
    for key in table:
        if key not in (*AXES, *OPTIONS, *TABLES):
            allowed = [*AXES, *OPTIONS, *TABLES]
            bad(
                f"matrix.{key}",
                f"unknown key. Allowed keys in [matrix]: {', '.join(allowed)}.{_did_you_mean(key, allowed)}",
            )
    search = table.get("search", "fixed")
    if search not in SEARCHES:
        bad("matrix.search", f"{search!r} is not allowed; allowed: one of {', '.join(SEARCHES)}.")
    rounds = _whole(table.get("rounds", 1), "matrix.rounds", 1, 20, bad)
    parallel = _whole(table.get("parallel", 2), "matrix.parallel", 1, 20, bad)
    keep = table.get("keep", False)
    if not isinstance(keep, bool):
        bad("matrix.keep", "expected true or false.")
    region = table.get("region")
    if region is not None and (not isinstance(region, str) or not region.strip()):
        bad("matrix.region", 'expected an Azure region name such as "westeurope".')
    deployment_file = _deployment_file(table.get("deployment_file"), data, path or Path(source), bad)
    cells = _cells(table, bad)
    slo = _slo(table.get("slo"), bad) if "slo" in table else None
    goodput = _goodput(table.get("goodput", {}), bad)
    if search == "goodput" and (slo is None or slo.p99_ms is None):
        bad("matrix.slo", 'search = "goodput" needs [matrix.slo] p99_ms: goodput is the highest rate within it.')
    prices = _prices(data.get("prices", {}), bad)
    if problems:
        raise ConfigError("\n".join(problems))
    digest = hashlib.sha256(json.dumps([data, list(overrides)], sort_keys=True, default=str).encode()).hexdigest()
    return MatrixSpec(
        path=path or Path(source),
        base=base,
        cells=cells,
        search=str(search),
        rounds=rounds,
        keep=bool(keep),
        parallel=parallel,
        region=region,
        deployment_file=deployment_file,
        slo=slo,
        goodput=goodput,
        prices=prices,
        fingerprint=digest[:16],
    )


def _deployment_file(value: Any, data: Mapping[str, Any], path: Path, bad: Any) -> Path | None:
    """[matrix] deployment_file: the deployment YAML each created Azure cell starts from, beside the file."""
    from moetui.deployments.deployment_yaml import read_deployment_fields

    if value is None:
        return None
    target = data.get("target")
    if not isinstance(target, Mapping) or "azure" not in target:
        bad("matrix.deployment_file", "goes with [target.azure] (a [target.local] matrix sets its deployment_file).")
        return None
    if not isinstance(value, str) or not value.strip():
        bad("matrix.deployment_file", 'expected the path of a deployment YAML, such as "model/deployment.yml".')
        return None
    found = (path.resolve().parent / Path(value).expanduser()).resolve()
    try:
        read_deployment_fields(found)
    except ConfigError as exc:
        bad("matrix.deployment_file", exc.message)
        return None
    return found


def _cells(table: Mapping[str, Any], bad: Any) -> tuple[Cell, ...]:
    return expand(table, bad)


def _slo(value: Any, bad: Any) -> Slo:
    if not isinstance(value, Mapping):
        bad("matrix.slo", "expected a table with p99_ms and error_rate.")
        return Slo()
    for key in value:
        if key not in ("p99_ms", "error_rate"):
            bad(f"matrix.slo.{key}", "unknown key. Allowed keys in [matrix.slo]: p99_ms, error_rate.")
    p99 = _number(value.get("p99_ms"), "matrix.slo.p99_ms", 0.0, None, bad)
    error_rate = _number(
        value.get("error_rate", DEFAULT_ERROR_RATE), "matrix.slo.error_rate", 0.0, 1.0, bad, inclusive=True
    )
    return Slo(p99_ms=p99, error_rate=error_rate if error_rate is not None else DEFAULT_ERROR_RATE)


def _goodput(value: Any, bad: Any) -> GoodputSpec:
    if not isinstance(value, Mapping):
        bad("matrix.goodput", "expected a table.")
        return GoodputSpec()
    known = {"start_rate", "max_rate", "precision", "probe", "warmup", "retries"}
    for key in value:
        if key not in known:
            bad(f"matrix.goodput.{key}", f"unknown key. Allowed keys in [matrix.goodput]: {', '.join(sorted(known))}.")
    default = GoodputSpec()
    start = _number(value.get("start_rate", default.start_rate), "matrix.goodput.start_rate", 0.0, None, bad)
    top = _number(value.get("max_rate", default.max_rate), "matrix.goodput.max_rate", 0.0, None, bad)
    precision = _number(value.get("precision", default.precision), "matrix.goodput.precision", 0.0, 1.0, bad)
    probe = _duration(value.get("probe", default.probe_s), "matrix.goodput.probe", bad)
    warmup = _duration(value.get("warmup", default.warmup_s), "matrix.goodput.warmup", bad, zero=True)
    retries = _whole(value.get("retries", default.retries), "matrix.goodput.retries", 0, 10, bad)
    if start is not None and top is not None and top < start:
        bad("matrix.goodput.max_rate", f"{top} is below start_rate {start}; allowed: at least start_rate.")
    return GoodputSpec(
        start_rate=start or default.start_rate,
        max_rate=top or default.max_rate,
        precision=precision or default.precision,
        probe_s=probe or default.probe_s,
        warmup_s=warmup if warmup is not None else default.warmup_s,
        retries=retries,
    )


def _prices(value: Any, bad: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        bad("prices", "expected a table of instance type = price per instance-hour.")
        return {}
    prices = {}
    for key, price in value.items():
        number = _number(price, f"prices.{key}", 0.0, None, bad, inclusive=True)
        if number is not None:
            prices[str(key)] = number
    return prices


def _number(value: Any, key: str, low: float, high: float | None, bad: Any, *, inclusive: bool = False) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        bad(key, f"expected a number; got {value!r}.")
        return None
    if (value < low if inclusive else value <= low) or (high is not None and value > high):
        limit = f"{'at least' if inclusive else 'above'} {low:g}" + (
            f" and at most {high:g}" if high is not None else ""
        )
        bad(key, f"{value} is out of range; allowed: a number {limit}.")
        return None
    return float(value)


def _whole(value: Any, key: str, low: int, high: int, bad: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        bad(key, f"expected a whole number from {low} to {high}; got {value!r}.")
        return low
    return value


def _duration(value: Any, key: str, bad: Any, *, zero: bool = False) -> float | None:
    from moetui.config.load import ConfigLayer, load_config  # the one duration parser: [load]'s

    try:
        layer = ConfigLayer(data={"load": {"warmup": value}}, origins={}, source=key)
        seconds = load_config(None, layer=layer).load.warmup_s
    except ConfigError:
        bad(key, f'expected a duration such as "5s" or 5; got {value!r}.')
        return None
    if seconds <= 0 and not zero:
        bad(key, "must be above 0 s.")
        return None
    return seconds


def _did_you_mean(word: str, options: Sequence[str]) -> str:
    matches = difflib.get_close_matches(word, list(options), n=1)
    return f" Did you mean {matches[0]!r}?" if matches else ""
