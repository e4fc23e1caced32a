"""What the TUI remembers between sessions (the last target, never a key) and the run it is building."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moetui.paths import config_dir, write_secret

#: Environment variable through which a key typed into the TUI reaches the engine process (never a file).
TUI_KEY_ENV = "MOETUI_TUI_KEY"
#: Prefix of the environment variables through which a pasted URL's secret query values reach the engine.
TUI_QUERY_ENV = "MOETUI_TUI_QUERY"


def _choice_file() -> Path:
    return config_dir() / "tui-target.json"


def remembered_target() -> dict[str, Any]:
    """The last target table chosen, or {} (a missing or broken file is no error)."""
    try:
        data = json.loads(_choice_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remember_target(target: dict[str, Any]) -> None:
    """Remember the target table; keys never appear in it (they live in key_env or key_file)."""
    # 0600 in a 0700 directory: the URL and the names of variables and files are no one else's business.
    write_secret(_choice_file(), json.dumps(target, indent=2))
