"""What the TUI remembers between sessions (the last target, never a key) and the run it is building."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moetui.paths import config_dir

#: Environment variable through which a key typed into the TUI reaches the engine process (never a file).
TUI_KEY_ENV = "MOETUI_TUI_KEY"


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
    path = _choice_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(target, indent=2))
