"""The Target for a configuration's [target] table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from moetui.config.schema import Config
from moetui.errors import ConfigError
from moetui.targets.base import Target


def target_for(config: Config, base_dir: Path, on_progress: Callable[[str], None] | None = None) -> Target:
    """The target a config names; relative paths in it are relative to `base_dir` (the config's folder).

    Raises:
        ConfigError: The target cannot be used by this version.
    """
    target = config.target
    if target.url is not None:
        from moetui.targets.url import UrlTargetSource

        return UrlTargetSource(target.url, base_dir)
    if target.azure is not None:
        raise ConfigError(
            "target.azure: Azure targets are not supported by this version yet; use [target.url] with the "
            "endpoint's scoring URI and key_env or key_file meanwhile"
        )
    from moetui.config.schema import LocalTarget
    from moetui.targets.local import LocalTargetSource

    return LocalTargetSource(target.local or LocalTarget(), base_dir, on_progress)
