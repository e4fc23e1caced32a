"""The Target for a configuration's [target] table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from moetui.config.schema import Config
from moetui.targets.base import Target


def target_for(config: Config, base_dir: Path, on_progress: Callable[[str], None] | None = None) -> Target:
    """The target a config names; relative paths in it are relative to `base_dir` (the config's folder).

    Nothing is started or signed in to here: that happens when the target is opened.
    """
    target = config.target
    if target.url is not None:
        from moetui.targets.url import UrlTargetSource

        return UrlTargetSource(target.url, base_dir)
    if target.azure is not None:
        # Imports no Azure SDK until the target is opened.
        from moetui.config.timing import planned_seconds
        from moetui.targets.azure import AzureTargetSource

        return AzureTargetSource(target.azure, base_dir, on_progress, planned_s=planned_seconds(config))
    from moetui.config.schema import LocalTarget
    from moetui.targets.local import LocalTargetSource

    return LocalTargetSource(target.local or LocalTarget(), base_dir, on_progress)
