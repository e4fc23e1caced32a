"""The cells a [matrix] names: the product of its axes, its explicit `cells`, or its existing
`deployments`. Below both the matrix file's reader (config.py) and the cells' configurations (cells.py)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Bad = Callable[[str, str], None]
#: Axes a matrix may vary, as [matrix] keys; each maps to a key of the target table (None: handled apart).
AXES: dict[str, type] = {
    "instance_type": str,
    "instance_count": int,
    "max_concurrency": int,
    "workers": int,
    "sleep": float,
}


@dataclass(frozen=True)
class Cell:
    """One combination of settings."""

    name: str
    settings: dict[str, Any]
    """Axis -> value (instance_type, instance_count, max_concurrency, workers, sleep)."""
    environment: dict[str, str] = field(default_factory=dict)
    deployment: str | None = None
    """An existing deployment to measure as it is (nothing created)."""

    def describe(self) -> str:
        parts = [f"{key} {value}" for key, value in self.settings.items()]
        parts += [f"{key}={value}" for key, value in self.environment.items()]
        if self.deployment:
            parts.append(f"deployment {self.deployment} (existing)")
        return ", ".join(parts) or "base settings"


#: Short labels for cell names ("w1-c3").
_SHORT = {"instance_type": "", "instance_count": "n", "max_concurrency": "c", "workers": "w", "sleep": "s"}
_MAX_CELLS = 64


def expand(table: Mapping[str, Any], bad: Bad) -> tuple[Cell, ...]:
    """The cells [matrix] names: the product of its axes, its `cells`, or its `deployments`."""
    axes: dict[str, list[Any]] = {}
    for axis, kind in AXES.items():
        if axis in table:
            values = _values(table[axis], f"matrix.{axis}", kind, bad)
            if values:
                axes[axis] = values
    env_axes: dict[str, list[str]] = {}
    env = table.get("environment_variables", {})
    if not isinstance(env, Mapping):
        bad("matrix.environment_variables", "expected a table: NAME = [values].")
    else:
        for name, values in env.items():
            env_axes[str(name)] = [
                str(v) for v in _values(values, f"matrix.environment_variables.{name}", str, bad, any_scalar=True)
            ]
    explicit = table.get("cells")
    deployments = table.get("deployments")
    ways = [bool(axes or env_axes), explicit is not None, deployments is not None]
    if sum(ways) > 1:
        bad("matrix", "names axes, cells and deployments together; allowed: one of the three.")
        return ()
    if deployments is not None:
        names = _values(deployments, "matrix.deployments", str, bad)
        return tuple(Cell(name=name, settings={}, deployment=name) for name in names)
    if explicit is not None:
        return _explicit(explicit, bad)
    if not ways[0]:
        bad(
            "matrix",
            "names no axis; allowed: instance_type, instance_count, max_concurrency, workers, sleep, "
            "environment_variables.NAME (arrays of values), cells = [{...}, ...] or deployments = [names].",
        )
        return ()
    keys = list(axes) + [f"env:{name}" for name in env_axes]
    cells = []
    for combo in itertools.product(*axes.values(), *env_axes.values()):
        settings = {key: value for key, value in zip(axes, combo, strict=False)}
        environment = {name: value for name, value in zip(env_axes, combo[len(axes) :], strict=False)}
        cells.append(Cell(name=_name(settings, environment), settings=settings, environment=environment))
    if len(cells) > _MAX_CELLS:
        bad("matrix", f"{len(cells)} cells ({' x '.join(keys)}); allowed: at most {_MAX_CELLS}.")
    return tuple(cells)


def _explicit(value: Any, bad: Bad) -> tuple[Cell, ...]:
    if not isinstance(value, list) or not value:
        bad("matrix.cells", "expected an array of tables, such as [{ workers = 2, max_concurrency = 2 }].")
        return ()
    cells = []
    for index, item in enumerate(value):
        key = f"matrix.cells[{index}]"
        if not isinstance(item, Mapping):
            bad(key, "expected a table.")
            continue
        settings: dict[str, Any] = {}
        environment: dict[str, str] = {}
        for name, setting in item.items():
            if name in AXES:
                values = _values([setting], f"{key}.{name}", AXES[name], bad)
                if values:
                    settings[name] = values[0]
            elif name == "environment_variables" and isinstance(setting, Mapping):
                environment = {str(k): str(v) for k, v in setting.items()}
            elif name not in ("name", "deployment"):
                bad(
                    f"{key}.{name}",
                    f"unknown key; allowed: name, deployment, environment_variables, {', '.join(AXES)}.",
                )
        deployment = item.get("deployment")
        cells.append(
            Cell(
                name=str(item.get("name") or _name(settings, environment) or f"cell{index + 1}"),
                settings=settings,
                environment=environment,
                deployment=str(deployment) if deployment else None,
            )
        )
    names = [cell.name for cell in cells]
    for name in sorted({n for n in names if names.count(n) > 1}):
        bad("matrix.cells", f"the cell name {name!r} is used twice; allowed: a name per cell.")
    return tuple(cells)


def _values(value: Any, key: str, kind: type, bad: Bad, *, any_scalar: bool = False) -> list[Any]:
    values = value if isinstance(value, list) else [value]
    out: list[Any] = []
    for item in values:
        if any_scalar and isinstance(item, str | int | float) and not isinstance(item, bool):
            out.append(item)
        elif kind is float and isinstance(item, int | float) and not isinstance(item, bool):
            out.append(float(item))
        elif isinstance(item, kind) and not isinstance(item, bool):
            out.append(item)
        else:
            what = {int: "whole numbers", float: "numbers", str: "strings"}[kind]
            bad(key, f"expected {what} (an array of them for an axis); got {item!r}.")
    if len(set(map(str, out))) != len(out):
        bad(key, "names a value twice.")
    return out


def _name(settings: Mapping[str, Any], environment: Mapping[str, str]) -> str:
    parts = [
        f"{_SHORT[key]}{value:g}" if isinstance(value, float) else f"{_SHORT[key]}{value}"
        for key, value in settings.items()
    ]
    parts += [f"{name.lower()}{value}" for name, value in environment.items()]
    return "-".join(parts)
