"""The one rule for reading a file a configuration names (a key, a secret header, payloads, prompts, the
config itself): a regular file, under a stated size, read within a time limit.

Each guard stops a failure seen in use: `key_file = "/dev/zero"` grew the process to 16 GB in 30 s, and a
FIFO as a payload or key file blocked the open (a FIFO waits for a writer) with SIGINT and SIGTERM
ignored. The file is opened without blocking, judged by fstat of what was opened (no race between a check
and the read), and read in a thread the caller waits for at most `timeout_s` (a hung network mount).
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from moetui.errors import ConfigError

KIB = 1024
MIB = 1024 * KIB
#: Keys, tokens and secret header or query values: a few hundred bytes in use (an Entra token ~2 KB).
SECRET_MAX_BYTES = 64 * KIB
#: A TOML configuration, a matrix file or a deployment YAML.
CONFIG_MAX_BYTES = 4 * MIB
#: Payload and prompt files, held in memory for the whole run: large, but bounded.
BODIES_MAX_BYTES = 256 * MIB
#: How long a read may take before the file is given up on.
READ_TIMEOUT_S = 10.0

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
"""What a file that is not a regular one is, for the messages."""


def read_named_file(
    path: Path,
    key: str,
    *,
    max_bytes: int,
    private: bool = False,
    timeout_s: float = READ_TIMEOUT_S,
) -> bytes:
    """The bytes of the regular file `path`, which the setting `key` names.

    Args:
        path: The file.
        key: The setting that named it, for the messages (`target.url.key_file`, `load.payload_file`);
            "" for a file named on the command line (the config file itself): the messages start with it.
        max_bytes: Refused when larger (SECRET_MAX_BYTES, CONFIG_MAX_BYTES, BODIES_MAX_BYTES).
        private: The file holds a secret: refused when its group or others may read it (as ssh does).
        timeout_s: Refused when the read takes longer.

    Raises:
        ConfigError: Missing, unreadable, not a regular file, too large, readable by others when
            private, or too slow; the message names `key` and `path`, never the content.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise _problem(key, path, f"cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        kind = next((kind for test, kind in _KINDS if test(info.st_mode)), "not a regular file")
        if not stat.S_ISREG(info.st_mode):
            raise _problem(key, path, f"is {kind}; allowed: a regular file")
        if info.st_size > max_bytes:
            raise _problem(key, path, f"is {_size(info.st_size)}; allowed: at most {_size(max_bytes)}")
        mode = stat.S_IMODE(info.st_mode)
        if private and mode & 0o077:
            raise _problem(
                key,
                path,
                f"holds a secret but others may read it (mode {mode:04o}); allowed: a file only you can read: "
                f"chmod 600 {path}",
            )
    except BaseException:
        os.close(fd)
        raise
    return _read_within(fd, max_bytes, timeout_s, key, path)  # the reading thread owns fd from here


def read_named_text(path: Path, key: str, *, max_bytes: int, private: bool = False) -> str:
    """read_named_file as UTF-8 text.

    Raises:
        ConfigError: As read_named_file, or the file is not UTF-8 text.
    """
    try:
        return read_named_file(path, key, max_bytes=max_bytes, private=private).decode()
    except UnicodeDecodeError:
        raise _problem(key, path, "is not UTF-8 text") from None


def _read_within(fd: int, max_bytes: int, timeout_s: float, key: str, path: Path) -> bytes:
    """Read up to max_bytes + 1 from `fd` in a daemon thread (it closes `fd`), waiting at most timeout_s."""
    chunks: list[bytes] = []
    failure: list[OSError] = []

    def read() -> None:
        try:
            with os.fdopen(fd, "rb", closefd=True) as file:
                left = max_bytes + 1  # one byte more: a file that grew after fstat is still caught
                while left > 0 and (chunk := file.read(min(left, MIB))):
                    chunks.append(chunk)
                    left -= len(chunk)
        except OSError as exc:
            failure.append(exc)

    reader = threading.Thread(target=read, name=f"read {key}", daemon=True)
    reader.start()
    reader.join(timeout_s)
    if reader.is_alive():
        raise _problem(key, path, f"took more than {timeout_s:g} s to read; allowed: a file that reads at once")
    if failure:
        raise _problem(key, path, f"cannot be read: {failure[0].strerror or failure[0]}")
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise _problem(key, path, f"grew past {_size(max_bytes)} while it was read; allowed: at most that")
    return data


def _problem(key: str, path: Path, what: str) -> ConfigError:
    return ConfigError(f"{key}: {path} {what}" if key else f"{path}: {what}")


def _size(count: int) -> str:
    """Bytes exactly, with the round unit when there is one: "65,537 bytes", "65,536 bytes (64 KB)"."""
    unit = next((f" ({count // size} {name})" for name, size in (("MB", MIB), ("KB", KIB)) if count % size == 0), "")
    return f"{count:,} bytes{unit}" if count else "0 bytes"
