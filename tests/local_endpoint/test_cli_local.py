"""`moetui local` as a user runs it: ready line, key file, curl-able endpoint, clean stop, clear errors."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import alive, descendants

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parent.parent / "fixtures"


def moetui(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "moetui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_until(process: subprocess.Popen[str], pattern: str, timeout_s: float = 60) -> tuple[re.Match[str], str]:
    """Read stdout lines until one matches; fail with what was printed if the process ends or time runs out."""
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"moetui exited ({process.wait()}) before {pattern!r}: {''.join(seen)}{process.stderr.read()}")  # type: ignore[union-attr]
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match, "".join(seen)
    pytest.fail(f"no {pattern!r} within {timeout_s} s: {''.join(seen)}")


@pytest.fixture
def stopper() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test started; killed with their whole tree if the test did not stop them."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        tree = descendants(process.pid)
        process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serves_until_stopped_and_leaves_no_process_behind(
    tmp_path: Path, stopper: list[subprocess.Popen[str]], stop_signal: signal.Signals
) -> None:
    key_file = tmp_path / "key"
    process = moetui("local", "--sleep", "0", "--workers", "2", "--instances", "2", "--key-file", str(key_file))
    stopper.append(process)
    match, printed = read_until(process, r"Scoring URI\s+(http://127\.0\.0\.1:\d+/score)")
    read_until(process, "Press Ctrl-C to stop")
    uri = match.group(1)

    key = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key and key not in printed
    request = urllib.request.Request(
        uri,
        data=b'{"request_id": 42}',
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read()).startswith("request 42 complete.")

    tree = descendants(process.pid)
    assert len(tree) >= 1 + 2 * 3  # gateway, and 2 instances of a master and 2 workers
    process.send_signal(stop_signal)
    assert process.wait(timeout=20) == 130  # interrupted, as the README says
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in tree if alive(pid)] == []
    assert not key_file.exists()  # the key dies with the endpoint


def test_a_port_in_use_is_a_clear_error(stopper: list[subprocess.Popen[str]]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        process = moetui("local", "--port", str(port))
        stopper.append(process)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 3
    assert f"Port {port} on 127.0.0.1 is already in use" in stderr
    assert time.monotonic() - started < 10
    assert "Traceback" not in stderr


def test_a_missing_scorer_is_a_clear_error(stopper: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    process = moetui("local", "--scorer", str(tmp_path / "nope.py"))
    stopper.append(process)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 3
    assert "nope.py does not exist" in stderr


def test_a_scorer_whose_init_fails_is_a_clear_error(stopper: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    started = time.monotonic()
    # A failed start keeps its moetui-local-* directory (the error points at its logs): keep it in tmp_path.
    env = dict(os.environ, TMPDIR=str(tmp_path))
    process = moetui("local", "--scorer", str(FIXTURES / "failing_init_score.py"), env=env)
    stopper.append(process)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 3
    assert "init() failed: RuntimeError: the model file is missing" in stderr
    assert time.monotonic() - started < 30
    assert [pid for pid in descendants(process.pid) if alive(pid)] == []
    assert [path.name for path in tmp_path.glob("moetui-local-*")], "the failed start's logs were not kept"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--timeout-ms", "200000"], "request_timeout_ms must be a whole number from 1 to 180000"),
        (["--traffic", "blue=60,green=30"], "traffic must add up to 100"),
        (["--traffic", "blue"], "is not NAME=PERCENT"),
        (["--workers", "0"], "WORKER_COUNT) must be a whole number from 1"),
    ],
)
def test_bad_settings_are_refused_before_anything_starts(flags: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "moetui", "local", *flags], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Starting" not in result.stdout


@pytest.mark.parametrize(("workers", "status", "verdict"), [("3", 0, "concurrent"), ("1", 1, "serialized")])
def test_check_prints_the_seeds_lines_and_judges(workers: str, status: int, verdict: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "moetui", "check", "--sleep", "0.5", "--workers", workers],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == status, result.stdout + result.stderr
    for n in (1, 2, 3):
        assert f"request {n} has been made at t=" in result.stdout
        assert re.search(rf'request {n}: 200 after [\d.]+ s  "request {n} complete\. Elapsed time: 0\.5', result.stdout)
    assert "Total time elapsed: " in result.stdout
    assert f"-> {verdict}" in result.stdout
    # One number a newcomer reads: no "effective concurrency 2.00" beside a serialized result.
    served = re.search(rf"Served at once: ([\d.]+) of 3 \(capacity 3\) -> {verdict}\n", result.stdout)
    assert served is not None, result.stdout
    assert (float(served.group(1)) <= 1.25) == (verdict == "serialized")
    assert "effective concurrency" not in result.stdout
