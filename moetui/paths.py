"""Where moetui keeps its files, and how files holding secrets are written (mode 0600 in 0700 directories)."""

from __future__ import annotations

import os
import time
from pathlib import Path

#: The scoring app (score.py, endpoint.yml, deployment.yml): the repository's scoring_app/ through the
#: moetui/scoring_app symlink in a checkout, the package's own copy in an installed wheel.
SCORING_APP_DIR = (Path(__file__).parent / "scoring_app").resolve()


def config_dir() -> Path:
    """The user's moetui config directory: $XDG_CONFIG_HOME/moetui, else ~/.config/moetui."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "moetui"


def runs_dir() -> Path:
    """Where the TUI's exports go (reports, saved TOML, a quit run's partial report):
    $XDG_DATA_HOME/moetui/runs, else ~/.local/share/moetui/runs. They hold no secrets (the report and the
    config are redacted by construction), so the files are ordinary 0644 ones."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "moetui" / "runs"


def export_path(prefix: str, suffix: str) -> Path:
    """A new export in runs_dir(), stamped with the time, e.g. moetui-report-20261123-090000.json."""
    return runs_dir() / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}{suffix}"


def in_runs_dir(path: Path) -> Path:
    """A path the user typed: absolute or ~ as given, a bare or relative name inside runs_dir()."""
    path = path.expanduser()
    return path if path.is_absolute() else runs_dir() / path


def private_dir(path: Path) -> Path:
    """Make `path` a directory only its owner can enter (0700), its missing parents too.

    Missing directories are created 0700 (`mkdir(parents=True)` alone makes the parents 0755, as
    ~/.config/moetui was). Existing ones are narrowed to 0700 when they are the config directory or
    inside it; any other existing directory (the current one, for `--key-file ./k`) is left as it is.

    Returns:
        The path.
    """
    path = path.expanduser()
    missing = [parent for parent in (path, *path.parents) if not parent.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
    own = config_dir()
    for directory in (path, *path.parents):
        if directory == own or own in directory.parents:
            if directory.stat().st_mode & 0o077:
                os.chmod(directory, 0o700)
        else:
            break
    return path


def write_secret(path: Path, text: str) -> Path:
    """Write `text` to `path`, readable by its owner only, never by a moment of wider permissions.

    The file is created with mode 0600 (and an existing file is narrowed to 0600 before it is
    rewritten) in a 0700 directory (`private_dir`), so a key or a remembered target is never on disk
    where another user can read it.

    Returns:
        The path written.
    """
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return path
