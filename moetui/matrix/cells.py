"""Cells: the [matrix] axes expanded into combinations (or explicit cells, or existing deployments by name),
and each cell's run configuration: the base file's target table with the cell's settings laid over it,
through load_config's layer, so a cell is checked like any configuration. No textual, rich or azure."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from moetui.config.load import ConfigLayer, load_config
from moetui.config.schema import Config
from moetui.matrix.axes import Cell
from moetui.matrix.config import MatrixSpec

#: A cell's axis -> the key of [target.local] / [target.azure] it sets.
TARGET_KEYS = {
    "instance_type": "instance_type",
    "instance_count": "instances",
    "max_concurrency": "max_concurrency",
    "workers": "workers",
    "sleep": "sleep",
}


@dataclass(frozen=True)
class PreparedCell:
    """A cell whose configuration a front end made itself (the app compares deployments, each with its own
    URL and key): the cell, its checked configuration, and its size for the price."""

    cell: Cell
    config: Config
    instance_type: str
    instance_count: int


def cell_layer(spec: MatrixSpec, cell: Cell, deployment: str | None = None) -> ConfigLayer:
    """The cell's settings laid over the base file's target table.

    Args:
        deployment: The deployment created for the cell (Azure), reached by `azureml-model-deployment`.
    """
    data = copy.deepcopy(spec.base)
    kind = spec.target_kind
    target = data.setdefault("target", {}).setdefault(kind, {})
    origins: dict[str, str] = {}
    origin = f"{spec.path}: matrix cell {cell.name}"
    if kind in ("local", "azure"):  # an Azure cell's settings are those of the deployment created for it
        for axis, value in cell.settings.items():
            target[TARGET_KEYS[axis]] = value
            origins[f"target.{kind}.{TARGET_KEYS[axis]}"] = origin
    if kind == "local" and cell.environment:
        target["environment"] = {**target.get("environment", {}), **cell.environment}
        origins["target.local.environment"] = origin
    chosen = deployment or cell.deployment
    if chosen:
        target["deployment"] = chosen
        origins[f"target.{kind}.deployment"] = origin
    return ConfigLayer(data=data, origins=origins, source=str(spec.path))


def cell_config(spec: MatrixSpec, cell: Cell, overrides: Sequence[str] = (), deployment: str | None = None) -> Config:
    """The checked configuration of one cell.

    Raises:
        ConfigError: The cell's settings (or the base) have problems, each naming the cell.
    """
    return load_config(None, overrides, layer=cell_layer(spec, cell, deployment))


def check_cells(spec: MatrixSpec, overrides: Sequence[str] = ()) -> list[Config]:
    """Every cell's configuration, checked before anything starts.

    Raises:
        ConfigError: All problems of all cells.
    """
    from moetui.errors import ConfigError
    from moetui.targets.local import local_settings

    configs, problems = [], []
    for cell in spec.cells:
        try:
            config = cell_config(spec, cell, overrides)
            if config.target.local is not None:
                local_settings(config.target.local, base_dir(spec))  # its instance type, scorer, deployment file
            configs.append(config)
        except ConfigError as exc:
            problems.append(f"cell {cell.name}: {exc.message}")
    if problems:
        raise ConfigError("\n".join(dict.fromkeys(problems)))
    return configs


def base_dir(spec: MatrixSpec) -> Path:
    return spec.path.resolve().parent
