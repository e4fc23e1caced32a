"""What a run needs after its load is checked before the first request: the report path, the payload
file, the key, workers against connections. Each refusal exits 2, names where the setting came from, and
sends nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.http_server import FastServer


def run_moetui(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moetui", *args], capture_output=True, text=True, timeout=120, env=env)


def url_config(tmp_path: Path, url: str, load: str) -> Path:
    config = tmp_path / "run.toml"
    config.write_text(f'[target.url]\nurl = "{url}"\nkey_env = "MOETUI_TEST_KEY"\n\n[load]\n{load}\n')
    return config


KEY = "k3y-that-must-never-leak"


@pytest.fixture
def env() -> dict[str, str]:
    return dict(os.environ, MOETUI_TEST_KEY=KEY)


def test_a_report_path_that_is_a_directory_is_refused_before_the_run(
    server: FastServer, tmp_path: Path, env: dict[str, str]
) -> None:
    config = url_config(tmp_path, server.url("/fast"), 'mode = "closed"\nrequests = 5\nconnections = 1')
    result = run_moetui("--run", str(config), "--report", str(tmp_path), env=env)
    assert result.returncode == 2, result.stderr
    assert "--report" in result.stderr and "is a directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert server.counts()["requests"] == 0


def test_a_report_under_a_file_is_refused_naming_output_report(
    server: FastServer, tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "afile").write_text("x")
    config = url_config(
        tmp_path,
        server.url("/fast"),
        'mode = "closed"\nrequests = 5\nconnections = 1\n[output]\nreport = "afile/r.json"',
    )
    result = run_moetui("--run", str(config), env=env)
    assert result.returncode == 2, result.stderr
    assert f"{config}: output.report" in result.stderr and "not a directory" in result.stderr
    assert server.counts()["requests"] == 0


def test_a_missing_payload_file_on_a_local_target_is_refused_before_the_endpoint_starts(
    tmp_path: Path, env: dict[str, str]
) -> None:
    config = tmp_path / "run.toml"
    config.write_text('[target.local]\nsleep = 0\n\n[load]\nmode = "burst"\npayload_file = "missing.jsonl"\n')
    temp = tmp_path / "tmp"
    temp.mkdir()
    started = time.monotonic()
    result = run_moetui("--run", str(config), env=dict(env, TMPDIR=str(temp)))
    assert result.returncode == 2, result.stderr
    assert f"{config}: load.payload_file: {tmp_path / 'missing.jsonl'} cannot be read" in result.stderr
    assert "inference server" not in result.stderr  # nothing was started
    assert list(temp.glob("moetui-local-*")) == []
    assert time.monotonic() - started < 30


def test_a_payload_file_that_is_not_utf8_is_sent_as_bytes(
    server: FastServer, tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "latin1.jsonl").write_bytes('{"name": "café"}\n'.encode("latin-1"))
    config = url_config(
        tmp_path, server.url("/fast"), 'mode = "closed"\nrequests = 3\nconnections = 1\npayload_file = "latin1.jsonl"'
    )
    result = run_moetui("--run", str(config), env=env)
    assert result.returncode == 0, result.stderr
    assert server.counts()["requests"] == 3


@pytest.mark.parametrize("key", ["abc\r\nX-Injected: 1", "abc\ndef"], ids=["crlf", "lf"])
def test_a_key_with_a_line_break_is_refused_without_showing_it(server: FastServer, tmp_path: Path, key: str) -> None:
    config = url_config(tmp_path, server.url("/fast"), 'mode = "closed"\nrequests = 3\nconnections = 1')
    result = run_moetui("--run", str(config), env=dict(os.environ, MOETUI_TEST_KEY=key))
    assert result.returncode == 2, result.stderr
    assert "MOETUI_TEST_KEY" in result.stderr and "line break" in result.stderr
    assert "abc" not in result.stderr + result.stdout and "Traceback" not in result.stderr
    assert server.counts()["requests"] == 0


@pytest.mark.parametrize(
    ("load", "key"),
    [
        ('mode = "closed"\nconnections = 1\nworkers = 4', "connections"),
        ('mode = "open"\nclients = 2\nworkers = 3', "clients"),
    ],
)
def test_more_workers_than_connections_is_refused(
    server: FastServer, tmp_path: Path, env: dict[str, str], load: str, key: str
) -> None:
    config = url_config(tmp_path, server.url("/fast"), load + '\nduration = "2s"')
    result = run_moetui("--run", str(config), env=env)
    assert result.returncode == 2, result.stderr
    assert f"{config}: load.workers:" in result.stderr and f"more than {key}" in result.stderr
    assert server.counts()["requests"] == 0
