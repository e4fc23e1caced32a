"""`moetui run URL ...`: wrk-style flags, the same counts and exit statuses as `--run`, --save replays
exactly, and a key typed in -H never shows."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from moetui.cli import build_parser
from moetui.commands.adhoc import adhoc_run
from moetui.config.load import load_config
from moetui.errors import ConfigError
from tests.helpers import assert_ran
from tests.http_server import FastServer

KEY = "adhoc-K3Y-0f9e8d7c6b5a"


def moetui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moetui", *args], capture_output=True, text=True, timeout=120, env=env)


def parse(*argv: str) -> object:
    return build_parser().parse_args(["run", *argv])


def test_closed_loop_counts_match_the_server_and_the_saved_config_replays_them(
    server: FastServer, tmp_path: Path
) -> None:
    """About counts and the replay, not the measurement: a 5 ms target keeps one generator process far from
    its ceiling, and whether it was judged valid is the machine's (assert_ran)."""
    saved, first, second = tmp_path / "run.toml", tmp_path / "adhoc.json", tmp_path / "replay.json"
    flags = (server.url("/sleep?ms=5"), "-c", "8", "-d", "2s")
    done = moetui("run", *flags, "--report", str(first), "--save", str(saved))
    adhoc_count = server.counts()["requests"]
    report = json.loads(first.read_text())
    assert_ran(done.returncode, report, done.stdout + done.stderr)
    assert report["requests"]["completed"] == adhoc_count > 0
    assert report["config"]["load"]["connections"] == 8

    server.reset()
    replay = moetui("--run", str(saved), "--report", str(second))
    replayed = json.loads(second.read_text())
    assert_ran(replay.returncode, replayed, replay.stdout + replay.stderr)
    assert replayed["requests"]["completed"] == server.counts()["requests"] > 0
    # Same configuration, so the same plan: the file says what the flags said.
    args = parse(*flags)
    assert load_config(saved) == load_config(None, layer=adhoc_run(args).layer)  # type: ignore[arg-type]


def test_rate_makes_an_open_loop_and_c_caps_its_clients() -> None:
    layer = adhoc_run(parse("http://127.0.0.1:9/score", "-R", "40", "-c", "5", "-d", "3s")).layer  # type: ignore[arg-type]
    config = load_config(None, layer=layer)
    assert (config.load.mode, config.load.rate, config.load.clients, config.load.duration_s) == ("open", 40, 5, 3)


def test_a_request_budget_alone_bounds_the_run_by_count_and_by_an_hour() -> None:
    config = load_config(None, layer=adhoc_run(parse("http://127.0.0.1:9/score", "-n", "50")).layer)  # type: ignore[arg-type]
    assert (config.load.mode, config.load.requests, config.load.duration_s) == ("closed", 50, 3600)


def test_a_bad_flag_value_names_the_flag_and_the_key() -> None:
    layer = adhoc_run(parse("http://127.0.0.1:9/score", "-d", "soon")).layer  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"-d: load\.duration"):
        load_config(None, layer=layer)


def test_an_authorization_header_is_sent_but_never_shown_or_saved(server: FastServer, tmp_path: Path) -> None:
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    saved, report = tmp_path / "run.toml", tmp_path / "r.json"
    done = moetui(
        "run",
        server.url(f"/auth?sha256={digest}"),
        "-n",
        "20",
        "-H",
        f"Authorization: Bearer {KEY}",
        "-H",
        "azureml-model-deployment: blue",
        "--report",
        str(report),
        "--save",
        str(saved),
        env={k: v for k, v in os.environ.items() if k != "MOETUI_KEY"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(report.read_text())
    assert data["requests"]["ok"] == 20
    for text in (done.stdout, done.stderr, report.read_text(), saved.read_text()):
        assert KEY not in text
    assert 'key_env = "MOETUI_KEY"' in saved.read_text()
    assert 'deployment = "blue"' in saved.read_text()


def test_secret_headers_and_signed_query_values_are_sent_but_never_shown_or_saved(
    server: FastServer, tmp_path: Path
) -> None:
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    saved, report = tmp_path / "run.toml", tmp_path / "r.json"
    url = server.url(f"/secret?sha256={digest}&header=x-api-key&param=code&code={KEY}")
    done = moetui("run", url, "-n", "10", "-H", f"x-api-key: {KEY}", "--report", str(report), "--save", str(saved))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(report.read_text())["requests"]["ok"] == 10
    for text in (done.stdout, done.stderr, report.read_text(), saved.read_text()):
        assert KEY not in text
    assert "MOETUI_HEADER_X_API_KEY" in saved.read_text() and "MOETUI_QUERY_CODE" in saved.read_text()


def test_a_malformed_header_is_refused_without_echoing_its_value() -> None:
    done = moetui("run", "http://127.0.0.1:9/score", "-H", f"Authorization {KEY}")
    assert done.returncode == 2
    assert "-H" in done.stderr and KEY not in done.stderr
    basic = moetui("run", "http://127.0.0.1:9/score", "-H", f"Authorization: Basic {KEY}")
    assert basic.returncode == 2 and "Bearer" in basic.stderr and KEY not in basic.stderr


@pytest.mark.parametrize("command", ["run", "--run"])
def test_report_dash_writes_the_json_to_stdout_and_the_summary_to_stderr(
    server: FastServer, tmp_path: Path, command: str
) -> None:
    if command == "run":
        args = ["run", server.url("/fast"), "-c", "2", "-n", "40", "--report", "-"]
    else:
        config = tmp_path / "run.toml"
        config.write_text(
            f'[target.url]\nurl = "{server.url("/fast")}"\n[load]\nmode = "closed"\nconnections = 2\nrequests = 40\n'
        )
        args = ["--run", str(config), "--report", "-"]
    done = moetui(*args)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # nothing but the report on stdout
    assert report["schema"] == "moetui.report/1" and report["requests"]["ok"] == 40
    assert "latency (successful responses)" in done.stderr and "exit status 0" in done.stderr
    assert "latency histogram" in done.stderr and "■" in done.stderr
    assert not list(tmp_path.glob("-")) and not Path("-").exists()  # no file named "-"


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[str]:
    """`python3 -m http.server` on 127.0.0.1 (a port it picks and prints), serving an empty folder; stopped by
    its PID. It answers GET with 200 and POST with 501, as the issue's new user met it."""
    folder = tmp_path / "www"
    folder.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        match = re.search(r"port (\d+)", line)
        assert match, line
        yield f"http://127.0.0.1:{match.group(1)}/"
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_run_gets_a_url_without_a_body_as_wrk_does_and_says_so(static_server: str, tmp_path: Path) -> None:
    """Issue 26 item 3: `moetui run URL -c 4 -d 2s` against `python3 -m http.server` gets 200s (it POSTed, and
    got 13,143 x 501 with no meaning); the method is in the summary's first line."""
    report_path = tmp_path / "r.json"
    done = moetui("run", static_server, "-c", "4", "-d", "2s", "--report", str(report_path))
    report = json.loads(report_path.read_text())
    assert_ran(done.returncode, report, done.stdout + done.stderr)
    assert report["config"]["load"]["method"] == "GET"
    assert report["requests"]["ok"] > 0 and report["requests"]["by_status"] == {"200": report["requests"]["ok"]}
    assert done.stdout.splitlines()[0].startswith(f"moetui closed run against GET {static_server}")


def test_a_body_makes_it_a_post_and_a_501_names_the_method(static_server: str, tmp_path: Path) -> None:
    report_path = tmp_path / "r.json"
    done = moetui("run", static_server, "-n", "3", "-b", '{"request_id": 1}', "--report", str(report_path))
    report = json.loads(report_path.read_text())
    assert report["requests"]["by_status"] == {"501": 3}, done.stdout + done.stderr
    assert "does not implement POST" in report["meanings"]["501"]
    assert "against POST" in done.stdout.splitlines()[0] and "does not implement POST" in done.stdout


@pytest.mark.parametrize(
    ("flags", "method"),
    [
        ((), "GET"),
        (("-b", "{}"), "POST"),
        (("-b", "@bodies.jsonl"), "POST"),
        (("--set", "load.payload={}"), "POST"),
        (("-m", "put"), "PUT"),
        (("-m", "POST"), "POST"),
    ],
)
def test_the_method_is_get_unless_a_body_is_given_or_one_is_named(flags: tuple[str, ...], method: str) -> None:
    args = parse("http://127.0.0.1:9/", *flags)
    assert adhoc_run(args).layer.data["load"]["method"] == method  # type: ignore[arg-type]


def test_a_bare_number_of_seconds_is_a_duration_as_wrk_reads_it() -> None:
    """`-d 2` was refused by a message that said a number of seconds is allowed."""
    config = load_config(None, layer=adhoc_run(parse("http://127.0.0.1:9/", "-d", "2", "-t", "1.5")).layer)  # type: ignore[arg-type]
    assert (config.load.duration_s, config.load.timeout_s) == (2, 1.5)


@pytest.mark.parametrize("header", ["Authorization: Bearer ", "Authorization:", "x-api-key: "])
def test_an_empty_key_is_reported_as_empty_naming_its_header(header: str) -> None:
    """`-H "Authorization: Bearer $KEY"` with $KEY unset was reported as a header of the wrong form."""
    done = moetui("run", "http://127.0.0.1:9/score", "-H", header)
    assert done.returncode == 2
    name = header.partition(":")[0]
    assert f"-H {name}:" in done.stderr and "empty" in done.stderr, done.stderr


def test_a_run_whose_every_answer_is_401_says_give_the_key(server: FastServer, tmp_path: Path) -> None:
    report_path = tmp_path / "r.json"
    done = moetui("run", server.url("/status/401"), "-c", "2", "-n", "40", "--report", str(report_path))
    assert json.loads(report_path.read_text())["requests"]["by_status"] == {"401": 40}
    assert "every answer is 401 (40 so far): the endpoint wants its key" in done.stdout, done.stdout
    mixed = moetui("run", server.url("/fast"), "-n", "20")
    assert "every answer is 401" not in mixed.stdout


def test_ramp_makes_a_ramped_open_loop_whose_stages_make_the_duration() -> None:
    layer = adhoc_run(parse("http://127.0.0.1:9/score", "--ramp", "10:100:60s:100:30s")).layer  # type: ignore[arg-type]
    config = load_config(None, layer=layer)
    assert (config.load.mode, config.load.duration_s) == ("open", 90.0)
    assert [(s.rate, s.duration_s) for s in config.load.stages] == [(10, 0), (100, 60), (100, 30)]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (("--ramp", "10:100"), "--ramp: expected RATE:RATE:DURATION"),
        (("--ramp", "10:100:60s", "-R", "5"), "--ramp and -R both give the rate"),
        (("--ramp", "10:100:60s", "-d", "5s"), "--ramp and -d both give the duration"),
    ],
)
def test_a_malformed_ramp_is_refused(flags: tuple[str, ...], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        adhoc_run(parse("http://127.0.0.1:9/score", *flags))  # type: ignore[arg-type]


def test_a_bad_ramp_value_names_the_flag_and_the_key() -> None:
    layer = adhoc_run(parse("http://127.0.0.1:9/score", "--ramp", "10:fast:60s")).layer  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"--ramp: load\.stages\[1\]\.rate"):
        load_config(None, layer=layer)
