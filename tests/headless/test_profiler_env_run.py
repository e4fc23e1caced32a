"""`moetui --run --profiler-env`: a profiler job's environment, and nothing else, runs headless against the
test server; the key from SCORING_HEADERS is sent but never printed or written."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tests.headless.test_headless import run_moetui
from tests.helpers import assert_ran
from tests.http_server import FastServer

KEY = "pr0filer-k3y-that-must-never-leak"


def profiler_env(**variables: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name != "MOETUI_PROFILER_KEY"}
    return {**env, **variables}


def test_a_profiler_environment_runs_without_a_config_file(server: FastServer, tmp_path: Path) -> None:
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    env = profiler_env(
        SCORING_URI=server.url(f"/auth?sha256={digest}"),
        SCORING_HEADERS=json.dumps({"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}),
        PROFILING_TOOL="wrk2",
        TARGET_RPS="40",
        CONNECTIONS="4",
        THREAD="1",
        DURATION="2s",
        TIMEOUT="5s",
        PAYLOAD='{"data": [[1, 2, 3]]}',
        CLIENTS="2",
    )
    report_path = tmp_path / "report.json"
    result = run_moetui("--run", "--profiler-env", "--report", str(report_path), env=env)
    text = report_path.read_text()
    assert KEY not in text + result.stdout + result.stderr
    report = json.loads(text)
    assert_ran(result.returncode, report, result.stdout + result.stderr)  # the profiler's variables ran it
    assert report["mode"] == "open"
    assert report["requests"]["by_status"] == {"200": report["requests"]["ok"]}  # the key was sent: no 401
    assert report["requests"]["ok"] == server.counts()["requests"] >= 60
    load, target = report["config"]["load"], report["config"]["target"]["url"]
    # wrk2 times out after its own 2 s: TIMEOUT is labench's only (the profiler's table).
    assert (load["rate"], load["clients"], load["duration"], load["timeout"]) == (40.0, 4, 2.0, 2.0)
    assert load["payload"] == '{"data": [[1, 2, 3]]}'
    assert target["key_env"] == "MOETUI_PROFILER_KEY"
    assert "CLIENTS is not used with PROFILING_TOOL=wrk2" in result.stderr
    # The summary says so too, not only stderr: the timeout each tool implies is part of the result.
    assert any("TIMEOUT" in note for note in report["notes"])
    assert "note:" in result.stdout and "TIMEOUT" in result.stdout
    assert report["request_timeout_s"] == 2.0


def test_a_bad_profiler_variable_exits_2_naming_it() -> None:
    env = profiler_env(SCORING_URI="http://127.0.0.1:9/score", PROFILING_TOOL="wrk3", CONNECTIONS="lots")
    result = run_moetui("--run", "--profiler-env", env=env)
    assert result.returncode == 2
    assert "environment variable PROFILING_TOOL: 'wrk3' is not a profiling tool" in result.stderr
    assert "environment variable CONNECTIONS: load.connections" in result.stderr


def test_run_without_config_needs_profiler_env() -> None:
    result = run_moetui("--run")
    assert result.returncode == 2 and "--profiler-env" in result.stderr
