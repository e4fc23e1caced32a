"""`make run` on a fresh machine says what it installs before pip's quiet minute (issue 26 item 10): a new
user saw nothing for 51 s."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
@pytest.mark.parametrize(
    ("target", "what"), [("run", "Installing moetui and its dependencies"), ("test", "with its test extras")]
)
def test_a_fresh_make_says_what_it_installs_first(tmp_path: Path, target: str, what: str) -> None:
    # -n: the commands a fresh checkout would run (VENV elsewhere: none made), in order, run by none
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, f"VENV={tmp_path / 'venv'}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    said = next(i for i, line in enumerate(lines) if what in line)
    installs = next(i for i, line in enumerate(lines) if "pip install" in line)
    assert said < installs  # said before pip starts, not after
