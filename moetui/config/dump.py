"""Writing a run configuration back to TOML, in the shape `load.py` reads.

Keys are the TOML names (`duration`, not `duration_s`); unset (None) values and absent target tables
are left out, durations are numbers of seconds. Imports neither textual, rich nor azure.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import tomli_w

from moetui.config.schema import Config
from moetui.errors import ConfigError
from moetui.paths import write_atomic

_EXACT_INT = 2**53
"""Whole floats below this are written as integers (`duration = 300`, not `300.0`); all are exact."""


def config_to_dict(config: Config) -> dict[str, Any]:
    """A TOML-ready dict of the configuration: TOML key names, no None values, lists for tuples.

    Args:
        config: The configuration.

    Returns:
        Tables and keys as `load.config_from_dict` reads them back into an equal Config.
    """
    return _table(config)


def dumps_config(config: Config) -> str:
    """The configuration as TOML text.

    Args:
        config: The configuration.

    Returns:
        The TOML document.
    """
    return tomli_w.dumps(config_to_dict(config))


def dump_config(config: Config, path: Path) -> None:
    """Write the configuration to a TOML file, atomically: a reader sees the old file or the new one.

    Args:
        config: The configuration.
        path: The file; its directory is created when missing.

    Raises:
        ConfigError: The file cannot be written.
    """
    text = dumps_config(config)
    try:
        # Keep the mode of the file being replaced, or a config's usual 0644.
        write_atomic(path, text, mode=path.stat().st_mode & 0o777 if path.exists() else 0o644)
    except OSError as error:
        raise ConfigError(f"{path}: cannot be written: {error.strerror or error}.") from error


def _table(obj: Any) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        # An empty array the configuration did not use (no stages) is left out: reports stay as they were.
        if value is not None and not (field.metadata.get("omit_empty") and not value):
            table[field.metadata.get("key", field.name)] = _value(value)
    return table


def _value(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return _table(value)
    if isinstance(value, list | tuple):
        return [_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _value(item) for key, item in value.items()}
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INT:
        return int(value)
    return value
