"""`make screenshots` keeps working: the script that draws the README's pictures runs to the end (it broke
once when the app's run factory gained an argument, and nothing noticed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_screenshot_script_draws_every_picture(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "screenshots" / "make_screenshots.py")],
        env=dict(os.environ, MOETUI_SHOTS_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    drawn = sorted(path.name for path in tmp_path.glob("*.svg"))
    assert len(drawn) == done.stdout.count("wrote "), drawn
    assert {"live-stream.svg", "report.svg", "report-stream.svg", "run-setup.svg"} <= set(drawn)
