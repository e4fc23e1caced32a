"""Reports made by real headless runs against the test server (tests/http_server.py), shared by the report
tests: a burst, an open run and a sweep, each run once per package."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.http_server import FastServer

#: chromium's flags: headless, no network of its own (updates, sync), no first-run work, logs on stderr.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
)


def moetui(*args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    """`python -m moetui ARGS` in a child process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "moetui", *args], capture_output=True, text=True, timeout=timeout_s)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def open_in_browser(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Open `page` in headless chromium (the DOM after its scripts ran on stdout with --dump-dom)."""
    browser = chromium()
    assert browser is not None
    return subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )


def console_lines(stderr: str) -> list[str]:
    """The page's console messages and uncaught errors in chromium's log."""
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def run_report(directory: Path, url: str, *args: str) -> dict[str, Any]:
    path = directory / "report.json"
    done = moetui("run", url, "--report", str(path), *args)
    assert done.returncode in (0, 1, 4), done.stdout + done.stderr  # 4: a loaded CI machine's generator
    report: dict[str, Any] = json.loads(path.read_text())
    return report


@pytest.fixture(scope="package")
def reports(fast_server: FastServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """JSON reports of a burst of 5, an open run at 100/s for 3 s (1 s warm-up) and a sweep over 1, 2 and 4
    connections (1 s each), against /sleep?ms=20; name -> path."""
    url = fast_server.url("/sleep?ms=20")
    runs = {
        "burst": ("-n", "5", "-c", "5", "--set", "load.mode=burst"),
        "open": ("-R", "100", "-c", "20", "-d", "3s", "--set", "load.warmup=1s"),
        "steps": (
            "--set",
            "load.mode=steps",
            "--set",
            "steps.levels=[1,2,4]",
            "--set",
            "steps.step_duration=1s",
            "--set",
            "steps.threshold_ms=1000",
        ),
    }
    paths = {}
    for name, args in runs.items():
        directory = tmp_path_factory.mktemp(name)
        run_report(directory, url, *args)
        paths[name] = directory / "report.json"
    return paths
