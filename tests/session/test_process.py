"""SessionProcess (moetui.session.process): a session in a child process, read by a front end that polls."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from pytest import MonkeyPatch

from moetui.config.load import config_from_dict
from moetui.session.process import SessionProcess
from tests.helpers import assert_ran
from tests.http_server import FastServer


def wait_finished(remote: SessionProcess, timeout_s: float = 60) -> list[int]:
    seen = []
    deadline = time.monotonic() + timeout_s
    while remote.finished is None and time.monotonic() < deadline:
        snapshot = remote.poll()
        if snapshot is not None:
            seen.append(snapshot.completed)
        time.sleep(0.1)
    return seen


def test_runs_in_a_child_and_ships_snapshots_then_the_report(server: FastServer) -> None:
    config = config_from_dict(
        {
            "target": {"url": {"url": server.url("/sleep?ms=5")}},
            "load": {"mode": "closed", "duration": 2, "connections": 2},
        }
    )
    remote = SessionProcess(config, Path("."), snapshot_hz=5)
    remote.start()
    try:
        seen = wait_finished(remote)
    finally:
        remote.kill()
    assert remote.finished is not None and remote.finished.error is None
    assert len(seen) >= 5 and seen == sorted(seen)  # live snapshots, growing
    report = remote.finished.report
    assert report is not None and report["requests"]["ok"] == server.counts()["requests"]
    assert_ran(remote.finished.exit_status, report)  # about the shipping; the verdict is the machine's


def test_stop_ends_early_with_a_partial_report(server: FastServer) -> None:
    config = config_from_dict(
        {"target": {"url": {"url": server.url("/sleep?ms=5")}}, "load": {"mode": "closed", "duration": 60}}
    )
    remote = SessionProcess(config, Path("."))
    remote.start()
    started = time.monotonic()
    try:
        while (snapshot := remote.poll()) is None or snapshot.completed < 10:
            assert time.monotonic() - started < 30
            time.sleep(0.05)
        remote.stop()
        wait_finished(remote, 30)
    finally:
        remote.kill()
    assert remote.finished is not None and remote.finished.report is not None
    assert remote.finished.report["interrupted"] is True
    assert remote.finished.exit_status == 130
    assert time.monotonic() - started < 30


def test_a_target_error_comes_back_as_a_message(tmp_path: Path) -> None:
    config = config_from_dict({"target": {"url": {"url": "http://127.0.0.1:9/score", "key_env": "MOETUI_NO_SUCH_VAR"}}})
    remote = SessionProcess(config, tmp_path)
    remote.start()
    try:
        wait_finished(remote, 30)
    finally:
        remote.kill()
    assert remote.finished is not None
    assert remote.finished.exit_status == 2
    assert "MOETUI_NO_SUCH_VAR" in (remote.finished.error or "")


def test_a_token_held_by_the_front_end_reaches_the_child_run(server: FastServer, monkeypatch: MonkeyPatch) -> None:
    """The TUI holds the signed-in service: the child's run asks it for headers over a pipe, and sends the
    new token from then on; the server on 127.0.0.1 counts the requests that carried each token."""
    first, second = "fake-token-first-0123", "fake-token-second-4567"
    digest = [hashlib.sha256(t.encode()).hexdigest() for t in (first, second)]
    monkeypatch.setenv("MOETUI_TEST_TOKEN", first)  # the spawned child reads the first token from here
    url = server.url(f"/auth-any?sha256={digest[0]},{digest[1]}")
    config = config_from_dict(
        {
            "target": {"url": {"url": url, "key_env": "MOETUI_TEST_TOKEN"}},
            "load": {"mode": "closed", "duration": 3, "connections": 2},
        }
    )
    asked: list[str] = []

    def refresh() -> dict[str, str]:
        asked.append("headers?")
        if len(asked) == 3:
            raise RuntimeError("the token service is unreachable")  # counted; the run goes on
        return {"Authorization": f"Bearer {second if digest[0] in server.tokens()['seen'] else first}"}

    remote = SessionProcess(config, Path("."), refresh_headers=refresh, refresh_s=0.2)
    remote.start()
    try:
        wait_finished(remote)
    finally:
        remote.kill()
    assert remote.finished is not None and remote.finished.error is None, remote.finished
    report = remote.finished.report
    assert report is not None and report["requests"]["by_status"] == {"200": report["requests"]["sent"]}
    seen = server.tokens()["seen"]
    assert seen[digest[0]] > 0 and seen[digest[1]] > 0 and server.tokens()["last"] == {digest[1]: 2}
    assert len(asked) >= 5  # every 0.2 s over 3 s
    assert report["generator"]["header_refreshes"] == 1 and report["generator"]["header_refresh_failures"] == 1
    assert first not in json.dumps(report) and second not in json.dumps(report)


_FRONT_END = """
import sys, time
from pathlib import Path
from moetui.config.load import config_from_dict
from moetui.session.process import SessionProcess

if __name__ == "__main__":  # spawn children import this file again
    load = {"mode": "closed", "duration": 60, "connections": 2, "workers": 2}
    remote = SessionProcess(config_from_dict({"target": {"url": {"url": sys.argv[1]}}, "load": load}), Path("."))
    remote.start()
    while remote.finished is None:
        remote.poll()
        time.sleep(0.1)
    print(remote.finished, flush=True)
"""


def test_kill_9_of_the_front_end_ends_the_engine_process_and_its_load(server: FastServer, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.helpers import descendants, kill_all, wait_gone

    script = tmp_path / "front_end.py"
    script.write_text(_FRONT_END)
    front = subprocess.Popen([sys.executable, str(script), server.url("/sleep?ms=5")], stdout=subprocess.PIPE)
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while server.counts()["requests"] < 100:
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.1)
        children = descendants(front.pid)  # the engine process, its two generators, resource trackers
        assert len(children) >= 3
        front.send_signal(signal.SIGKILL)
        front.wait(timeout=10)
        assert wait_gone(children, timeout_s=5.0) == set()
        seen = server.counts()["requests"]
        time.sleep(1.0)
        assert server.counts()["requests"] == seen
    finally:
        front.kill()
        front.communicate(timeout=10)
        kill_all(children)
