"""Where moetui keeps its files, and how files holding secrets are written (mode 0600)."""

from __future__ import annotations

import os
from pathlib import Path

#: The scoring app shipped beside the package (score.py, endpoint.yml, deployment.yml).
SCORING_APP_DIR = Path(__file__).resolve().parent.parent / "scoring_app"


def config_dir() -> Path:
    """The user's moetui config directory: $XDG_CONFIG_HOME/moetui, else ~/.config/moetui."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "moetui"


def write_secret(path: Path, text: str) -> Path:
    """Write `text` to `path`, readable by its owner only, never by a moment of wider permissions.

    The file is created with mode 0600 (and an existing file is narrowed to 0600 before it is
    rewritten), so a key is never on disk where another user can read it.

    Returns:
        The path written.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return path
