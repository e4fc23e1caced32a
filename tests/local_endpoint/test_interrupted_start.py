"""Ctrl-C while the local endpoint starts (a scorer whose init() takes a minute): `moetui local` and a
`--run` against a local target stop at once, leave no process and no moetui-local-* directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import descendants, kill_all, wait_gone

pytestmark = pytest.mark.slow
SLOW_INIT = Path(__file__).parent.parent / "fixtures" / "slow_init_score.py"


def start(args: list[str], tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "moetui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, TMPDIR=str(temp)),
        start_new_session=True,  # killpg below is a terminal's Ctrl-C, and reaches no test runner
    )
    return process, temp


def interrupt_during_init(process: subprocess.Popen[str], temp: Path) -> tuple[str, float, set[int]]:
    """Wait until the inference server runs init(), Ctrl-C the group; (output, seconds to exit, children)."""
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "Starting 1 inference server" in line:
            break
    else:
        pytest.fail("".join(seen))
    time.sleep(1.0)
    assert list(temp.glob("moetui-local-*")), "the endpoint's directory should exist while it starts"
    children = descendants(process.pid)
    assert children
    os.killpg(process.pid, signal.SIGINT)
    sent = time.monotonic()
    try:
        rest, _ = process.communicate(timeout=30)
    finally:
        process.kill()
        kill_all(children)
    return "".join(seen) + rest, time.monotonic() - sent, children


def test_moetui_local_stops_at_once_when_interrupted_during_init(tmp_path: Path) -> None:
    process, temp = start(
        ["local", "--scorer", str(SLOW_INIT), "--workers", "1", "--key-file", str(tmp_path / "key")], tmp_path
    )
    output, exit_s, children = interrupt_during_init(process, temp)
    assert process.returncode == 130, output
    print(f"exit after {exit_s:.2f} s")
    assert exit_s < 6, output  # ~1 s measured; init() alone would take 60 s
    assert "Traceback" not in output
    assert wait_gone(children, timeout_s=2.0) == set()
    assert list(temp.glob("moetui-local-*")) == []
    assert not (tmp_path / "key").exists()


def test_a_run_against_a_local_target_stops_at_once_when_interrupted_during_init(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(f'[target.local]\nscorer = "{SLOW_INIT}"\nworkers = 1\n\n[load]\nmode = "burst"\nrequests = 1\n')
    process, temp = start(["--run", str(config)], tmp_path)
    output, exit_s, children = interrupt_during_init(process, temp)
    assert process.returncode == 130, output
    assert exit_s < 6, output
    assert "Traceback" not in output
    assert wait_gone(children, timeout_s=2.0) == set()
    assert list(temp.glob("moetui-local-*")) == []
