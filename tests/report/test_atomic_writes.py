"""paths.write_atomic, the one way reports, outputs, configs, state files and secrets are written: whole or
not at all, and a Ctrl-C that lands mid-write is held until the file is whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from moetui.paths import write_atomic


class _SignalsWhileEncoded(str):
    """A text whose encoding (inside write_atomic, mid-write) sends this process SIGINT."""

    def encode(self, *args: object, **kwargs: object) -> bytes:  # type: ignore[override]
        os.kill(os.getpid(), signal.SIGINT)
        return str(self).encode()


@pytest.mark.parametrize("threads", [0, 4])
def test_a_ctrl_c_mid_write_lands_after_the_file_is_whole(tmp_path: Path, threads: int) -> None:
    """With other threads alive the kernel may hand SIGINT to any of them (blocking it in the writing thread
    did not hold it: this failed under xdist, whose worker has a thread of its own)."""
    path = tmp_path / "report.json"
    path.write_text("old")
    done = threading.Event()
    others = [threading.Thread(target=done.wait, daemon=True) for _ in range(threads)]
    for thread in others:
        thread.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            write_atomic(path, _SignalsWhileEncoded('{"whole": true}\n'))
    finally:
        done.set()
    assert path.read_text() == '{"whole": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("old")
    # RLIMIT_FSIZE in a child, SIGXFSZ ignored: the write fails with EFBIG as on a full disk.
    code = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from moetui.paths import write_atomic\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        "    write_atomic(Path(sys.argv[1]), 'x' * 100_000)\n"
        "except OSError as exc:\n"
        "    print(exc.strerror)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "File too large", done.stderr
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    assert write_atomic(tmp_path / "a" / "b.txt", b"bytes", mode=0o600).read_bytes() == b"bytes"
    assert (tmp_path / "a" / "b.txt").stat().st_mode & 0o777 == 0o600
