"""One recognisable secret through every route it can take into moetui, and every place it must not come out.

The routes: key_env, key_file, secret headers from header_env and header_file (x-api-key, api-key,
Ocp-Apim-Subscription-Key, Proxy-Authorization), a query value from query_env (`?code=`), the profiler's
SCORING_HEADERS and SCORING_URI, `--key` on `moetui local`, argparse's usage errors, and the TUI's target
screen. The places: stdout, stderr, the JSON report, the saved TOML, the TUI's saved files, the files in the
config directory (logs), and the command lines of the local endpoint's processes. Each run also proves the
secret was really sent: the test server answers 401 without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moetui.config.dump import dump_config, dumps_config
from moetui.config.load import load_config
from moetui.paths import config_dir, private_dir, write_secret
from moetui.redact import MASK, shown_headers, shown_url
from tests.helpers import descendants
from tests.http_server import FastServer

SECRET = "MOETUI-SECRET-7f3a9c"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()


def run_moetui(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moetui", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def config_texts() -> str:
    """Every file moetui wrote under the (test's) config directory: logs, remembered target, key files."""
    root = config_dir()
    if not root.exists():
        return ""
    return "".join(path.read_text(errors="replace") for path in root.rglob("*") if path.is_file())


def secret_file(path: Path, text: str = SECRET) -> Path:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


ROUTES: dict[str, tuple[str, str]] = {
    # name: (the [target.url] lines after url, the server path that checks the secret arrived)
    "key_env": ('key_env = "SCAN_SECRET"', f"/auth?sha256={DIGEST}"),
    "key_file": ('key_file = "secret.key"', f"/auth?sha256={DIGEST}"),
    "x-api-key from header_env": (
        'header_env = { "x-api-key" = "SCAN_SECRET" }',
        f"/secret?sha256={DIGEST}&header=x-api-key",
    ),
    "api-key from header_file": (
        'header_file = { "api-key" = "secret.key" }',
        f"/secret?sha256={DIGEST}&header=api-key",
    ),
    "Ocp-Apim-Subscription-Key and Proxy-Authorization": (
        'header_env = { "Ocp-Apim-Subscription-Key" = "SCAN_SECRET", "Proxy-Authorization" = "SCAN_SECRET" }',
        f"/secret?sha256={DIGEST}&header=Ocp-Apim-Subscription-Key&header=Proxy-Authorization",
    ),
    "code from query_env": ('query_env = { "code" = "SCAN_SECRET" }', f"/secret?sha256={DIGEST}&param=code"),
    "sig from query_file": ('query_file = { "sig" = "secret.key" }', f"/secret?sha256={DIGEST}&param=sig"),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_secret_is_sent_and_never_shown(server: FastServer, tmp_path: Path, route: str) -> None:
    lines, path = ROUTES[route]
    secret_file(tmp_path / "secret.key")
    config = tmp_path / "run.toml"
    config.write_text(
        f'[target.url]\nurl = "{server.url(path)}"\nheaders = {{ "X-Custom" = "custom-value" }}\n{lines}\n\n'
        '[load]\nmode = "closed"\nconnections = 1\nrequests = 5\n\n[output]\nprogress_interval = 0.1\n'
    )
    report_path = tmp_path / "report.json"
    env = dict(os.environ, SCAN_SECRET=SECRET)
    result = run_moetui("--run", str(config), "--report", str(report_path), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(report_path.read_text())
    assert report["requests"]["by_status"] == {"200": 5}  # the server saw the secret: 401 without it
    saved = tmp_path / "saved.toml"
    dump_config(load_config(config), saved)
    for where, text in {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "report": report_path.read_text(),
        "saved TOML": saved.read_text(),
        "config directory": config_texts(),
    }.items():
        assert SECRET not in text, f"the secret is in the {where}"
    assert "load against http://127.0.0.1" in result.stderr  # the progress line names the target, masked
    # Only allow-listed header values are shown; query values never are.
    assert report["config"]["target"]["url"]["headers"] == {"X-Custom": MASK}
    assert "custom-value" not in report_path.read_text()
    assert f"sha256={MASK}" in report["target"]["url"] and DIGEST not in report_path.read_text()
    # The saved TOML replays: the same configuration, the secret still read from where it was.
    assert load_config(saved) == load_config(config)


def test_the_profilers_secret_headers_and_query_values_travel_in_variables(server: FastServer, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    env = dict(
        os.environ,
        SCORING_URI=server.url(f"/secret?sha256={DIGEST}&header=x-api-key&param=code&code={SECRET}"),
        SCORING_HEADERS=json.dumps({"x-api-key": SECRET, "Content-Type": "application/json"}),
        PROFILING_TOOL="wrk",
        CONNECTIONS="1",
        DURATION="1s",
    )
    result = run_moetui("--run", "--profiler-env", "--set", "load.requests=5", "--report", str(report_path), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    text = report_path.read_text()
    assert json.loads(text)["requests"]["by_status"] == {"200": 5}
    assert SECRET not in result.stdout + result.stderr + text + config_texts()
    assert json.loads(text)["config"]["target"]["url"]["header_env"] == {"x-api-key": "MOETUI_PROFILER_HEADER_0"}


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('headers = { "x-api-key" = "MOETUI-SECRET-7f3a9c" }', "target.url.headers.x-api-key"),
        ('headers = { "api-key" = "MOETUI-SECRET-7f3a9c" }', "target.url.headers.api-key"),
        ('headers = { "Ocp-Apim-Subscription-Key" = "MOETUI-SECRET-7f3a9c" }', "Ocp-Apim-Subscription-Key"),
        ('headers = { "Proxy-Authorization" = "Basic MOETUI-SECRET-7f3a9c" }', "Proxy-Authorization"),
        ('headers = { "X-Amz-Security-Token" = "MOETUI-SECRET-7f3a9c" }', "X-Amz-Security-Token"),
    ],
)
def test_a_secret_header_inline_is_refused_naming_the_file_key_and_fix(tmp_path: Path, table: str, named: str) -> None:
    config = tmp_path / "run.toml"
    config.write_text(f'[target.url]\nurl = "http://127.0.0.1:9/score"\n{table}\n')
    result = run_moetui("--run", str(config))
    assert result.returncode == 2
    assert str(config) in result.stderr and named in result.stderr and "header_env" in result.stderr
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("query", ["code", "sig", "api-key", "subscription-key", "access_token"])
def test_a_secret_query_value_inline_is_refused_naming_the_parameter(tmp_path: Path, query: str) -> None:
    config = tmp_path / "run.toml"
    config.write_text(f'[target.url]\nurl = "http://127.0.0.1:9/score?api-version=1&{query}={SECRET}"\n')
    result = run_moetui("--run", str(config))
    assert result.returncode == 2
    assert f"target.url.url: its query parameter {query!r}" in result.stderr and "query_env" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_a_secret_set_on_the_command_line_is_refused_without_echo(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('[target.url]\nurl = "http://127.0.0.1:9/score"\n')
    result = run_moetui("--run", str(config), "--set", f"target.url.headers.api-key={SECRET}")
    assert result.returncode == 2 and "target.url.headers.api-key" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_a_user_and_password_in_the_url_is_refused_without_echo(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(f'[target.url]\nurl = "http://user:{SECRET}@127.0.0.1:9/score"\n')
    result = run_moetui("--run", str(config))
    assert result.returncode == 2 and "user name or password" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_a_secret_file_others_may_read_is_refused(server: FastServer, tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text(SECRET)
    (tmp_path / "secret.key").chmod(0o644)
    config = tmp_path / "run.toml"
    config.write_text(
        f'[target.url]\nurl = "{server.url("/fast")}"\nheader_file = {{ "x-api-key" = "secret.key" }}\n'
        '[load]\nmode = "closed"\nrequests = 1\nconnections = 1\n'
    )
    result = run_moetui("--run", str(config))
    assert result.returncode == 2
    assert "target.url.header_file.x-api-key" in result.stderr and "chmod 600" in result.stderr
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--key", SECRET],
        ["--ke", SECRET],
        ["--run", "x.toml", f"--key={SECRET}"],
        ["merge", "a.json", "--key", SECRET],
        ["local", "--key", SECRET, "--bogus", SECRET],
        ["check", f"--key={SECRET}", "extra"],
    ],
)
def test_usage_errors_never_echo_the_key(argv: list[str]) -> None:
    result = run_moetui(*argv, timeout=30)
    assert result.returncode == 2 and "error" in result.stderr
    assert SECRET not in result.stdout + result.stderr


@pytest.fixture
def stopped() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test started, killed by PID with their trees if the test did not stop them."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        tree = descendants(process.pid)
        process.kill()
        process.wait()
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.slow
def test_moetui_local_keeps_the_key_off_its_childrens_command_lines(stopped: list[subprocess.Popen[str]]) -> None:
    private = config_dir()
    private.mkdir(parents=True, mode=0o755)
    private.chmod(0o755)  # as older moetui versions left it
    process = subprocess.Popen(
        [sys.executable, "-m", "moetui", "local", "--sleep", "0", "--workers", "1", "--key", SECRET],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stopped.append(process)
    assert process.stdout is not None and process.stderr is not None
    printed, uri = [], ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "Press Ctrl-C" not in "".join(printed):
        line = process.stdout.readline()
        if not line:
            break
        printed.append(line)
        if line.startswith("Scoring URI"):
            uri = line.split()[2]
    assert uri, "".join(printed)
    request = urllib.request.Request(
        uri, data=b"{}", headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200  # the endpoint really holds this key
    tree = descendants(process.pid)
    assert len(tree) >= 3  # gateway, inference server master and worker
    for pid in tree:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert SECRET not in cmdline, f"pid {pid}: {cmdline!r}"
    key_file = private / "local-endpoint.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(private.stat().st_mode) == 0o700  # narrowed when moetui wrote the key in it
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert SECRET not in "".join(printed) + out + err


def test_private_dir_makes_parents_0700_and_narrows_the_config_dir(tmp_path: Path) -> None:
    root = config_dir()
    root.parent.mkdir(parents=True, exist_ok=True)
    path = write_secret(root / "credentials" / "x.json", "{}")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700  # mkdir(parents=True) made it 0755
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    root.chmod(0o755)
    private_dir(root / "credentials")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir(mode=0o755)
    elsewhere.chmod(0o755)
    write_secret(elsewhere / "k", "k")
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755  # not moetui's directory: left alone


def test_redaction_rule() -> None:
    assert shown_url(f"https://h/score?code={SECRET}&api-version=2024") == "https://h/score?code=***&api-version=***"
    assert shown_url(f"https://u:{SECRET}@h/score") == "https://***@h/score"
    assert shown_url("http://127.0.0.1:8080/score") == "http://127.0.0.1:8080/score"
    assert shown_headers({"Content-Type": "application/json", "X-Tag": "t", "api-key": SECRET}) == {
        "Content-Type": "application/json",
        "X-Tag": MASK,
        "api-key": MASK,
    }


async def test_the_tui_keeps_a_pasted_key_and_signed_url_out_of_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import Checkbox, Input, RadioButton

    from moetui.tui.app import make_app
    from moetui.tui.screens.run_setup import RunSetupScreen
    from moetui.tui.state import TUI_KEY_ENV, TUI_QUERY_ENV
    from tests.fixtures import canned

    monkeypatch.delenv(TUI_KEY_ENV, raising=False)
    monkeypatch.delenv(f"{TUI_QUERY_ENV}_0", raising=False)
    monkeypatch.chdir(tmp_path)
    config_dir().mkdir(parents=True, mode=0o755)
    config_dir().chmod(0o755)
    saved = tmp_path / "from-tui.toml"
    app = make_app(run_factory=lambda config, base_dir, refresh: canned.FakeRun([]), base_dir=tmp_path)
    try:
        async with app.run_test(size=(100, 40)) as pilot:
            app.screen.query_one("#url", RadioButton).value = True
            await pilot.pause()
            app.screen.query_one("#url-url", Input).value = f"http://127.0.0.1:9/score?api-version=1&code={SECRET}"
            app.screen.query_one("#url-key", Input).value = SECRET
            app.screen.query_one("#save-key", Checkbox).value = True
            await pilot.pause()
            await pilot.press("ctrl+n")
            for _ in range(50):
                await pilot.pause(0.05)
                if isinstance(app.screen, RunSetupScreen):
                    break
            assert isinstance(app.screen, RunSetupScreen), app.screen.query_one("#target-error").render()
            app.screen.query_one("#save-path", Input).value = str(saved)
            await pilot.press("ctrl+s")
            await pilot.pause()
            shown = app.screen.check_settings()
        assert shown is not None and shown.target.url is not None
        assert shown.target.url.query_env == {"code": f"{TUI_QUERY_ENV}_0"}
        assert os.environ[f"{TUI_QUERY_ENV}_0"] == SECRET  # the run gets it through the environment
        remembered = config_dir() / "tui-target.json"
        assert stat.S_IMODE(remembered.stat().st_mode) == 0o600
        assert stat.S_IMODE(config_dir().stat().st_mode) == 0o700
        assert stat.S_IMODE((config_dir() / "credentials" / "url.json").stat().st_mode) == 0o600
        assert "api-version=1" in remembered.read_text()
        for name, text in {"tui-target.json": remembered.read_text(), "saved TOML": saved.read_text()}.items():
            assert SECRET not in text, name
        assert SECRET not in dumps_config(shown)
        assert load_config(saved) == shown
        # The config directory's only copy of the key is the 0600 credentials file the user asked for.
        holders: list[Any] = [p.name for p in config_dir().rglob("*") if p.is_file() and SECRET in p.read_text()]
        assert holders == ["url.json"]
    finally:
        os.environ.pop(f"{TUI_QUERY_ENV}_0", None)
        os.environ.pop(TUI_KEY_ENV, None)
