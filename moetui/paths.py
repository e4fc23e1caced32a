"""Where moetui keeps its files, and how files are written: whole or not at all (write_atomic), and those holding
secrets mode 0600 in 0700 directories."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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

    The file is written by write_atomic with mode 0600 (mkstemp creates it so) in a 0700 directory
    (`private_dir`), so a key or a remembered target is never on disk where another user can read it.

    Returns:
        The path written.
    """
    private_dir(path.parent)
    return write_atomic(path, text, mode=0o600)


def write_atomic(path: Path, data: str | bytes, *, mode: int = 0o644) -> Path:
    """Write `data` (str as UTF-8) to `path` whole or not at all: the one way moetui writes a report, an
    output file, a config, a state file or a secret.

    The bytes go to a temporary file beside `path` (mode 0600 from its creation), which then replaces
    `path` by a rename, so a reader, a crash or a full disk never sees half a file. SIGINT and SIGTERM are
    held meanwhile: a Ctrl-C during the write lands once the file is whole (it lost the report before).

    Args:
        mode: The file's permissions (0644: reports and exports hold no secrets).

    Returns:
        The path written (its missing directories created).

    Raises:
        OSError: The file could not be written; nothing is left behind and an existing file is kept.
    """
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _signals_held():
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data.encode() if isinstance(data, str) else data)
            os.chmod(temp, mode)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    return path


_HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM noted, not acted on, until the block ends; then each arrives again.

    Python runs signal handlers in the main thread only, whichever thread the kernel hands the signal to, so
    blocking it in this thread (pthread_sigmask) is not enough: with any other thread alive (an xdist worker's,
    an executor's) the kernel delivered it there and KeyboardInterrupt still cut the write. Off the main
    thread no handler can interrupt the write, so nothing is swapped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {number: signal.getsignal(number) for number in _HELD_SIGNALS}
    swapped = [number for number, handler in previous.items() if handler is not None]  # None: set outside Python
    for number in swapped:
        signal.signal(number, lambda received, _frame: caught.append(received))
    try:
        yield
    finally:
        for number in swapped:
            signal.signal(number, previous[number])
        for received in caught:
            signal.raise_signal(received)
