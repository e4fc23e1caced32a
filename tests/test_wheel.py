"""moetui works installed, not only from a checkout: a wheel built from the repository carries the scoring
app and the app's stylesheet, and `moetui check` and `moetui local` run from another directory."""

from __future__ import annotations

import json
import os
import signal
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.fixtures import canned

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed (its dependencies come from this environment's
    site-packages through a .pth line, so nothing is downloaded; moetui itself only from the wheel)."""
    root = tmp_path_factory.mktemp("wheel")
    # Built with this environment's setuptools (a dependency's dependency, >= pyproject's 68): an isolated
    # build environment took 16 s against 6 s here (the same files in the wheel), and downloads on a fresh machine.
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(root / "dist"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("moetui-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Our site-packages as a plain path: its .pth files (the editable moetui among them) are not processed.
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", purelib, str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    return env_dir


def run_installed(env_dir: Path, cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    code = "import sys; from moetui.cli import main; sys.exit(main())"
    return subprocess.Popen(
        [str(env_dir / "bin" / "python"), "-c", code, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.slow
def test_the_installed_wheel_checks_concurrency_from_another_directory(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import moetui.paths as p; print(p.__file__, p.SCORING_APP_DIR)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    ).stdout
    module, scoring_app = where.split()
    assert str(REPO) not in module and str(REPO) not in scoring_app, where  # the wheel's, not the checkout's
    assert Path(scoring_app, "score.py").is_file() and Path(scoring_app, "deployment.yml").is_file()

    check = run_installed(installed, tmp_path, "check", "--sleep", "0.5")
    out, err = check.communicate(timeout=180)
    assert check.returncode == 0, out + err
    assert "concurrent" in out


@pytest.mark.slow
def test_the_installed_wheel_serves_the_local_endpoint(installed: Path, tmp_path: Path) -> None:
    local = run_installed(installed, tmp_path, "local", "--sleep", "0.1", "--key-file", str(tmp_path / "k"))
    try:
        assert local.stdout is not None
        lines = []
        for line in local.stdout:
            lines.append(line)
            if "/score" in line:
                break
        assert any("http://127.0.0.1:" in line for line in lines), "".join(lines)
    finally:
        os.killpg(local.pid, signal.SIGINT)
        try:
            local.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(local.pid, signal.SIGKILL)
            local.communicate()
    assert local.returncode in (0, 130)


@pytest.mark.slow
def test_the_installed_wheel_writes_the_html_report_with_its_inlined_charts(installed: Path, tmp_path: Path) -> None:
    """The vendored uPlot (report/assets/) is in the wheel: the page carries it, so it opens offline."""
    # A whole report (the reader refuses one without the fields it reads): a canned open-loop run's.
    (tmp_path / "r.json").write_text(json.dumps(canned.open_finished()[1].report))
    done = subprocess.run(
        [str(installed / "bin" / "python"), "-m", "moetui", "report", "r.json", "--html", "r.html"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "r.html").read_text()
    assert "uPlot" in page and len(page) > 50_000  # uPlot.iife.min.js is ~51 KB
