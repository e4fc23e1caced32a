"""Regenerate screenshots/report-html.png, the README's picture of the HTML report: a short open run
against the local endpoint (examples/open.toml, 10 s at its 50 req/s, 2 s warm-up), its report written as HTML,
and the page photographed by headless chromium (apt-get install chromium).

    .venv/bin/python screenshots/make_report_html.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The picture's size: the top of the page (summary, thresholds, the charts over time and the spectrum).
WINDOW = "1280,1600"


def main() -> int:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="moetui-report-html-") as tmp:
        page = Path(tmp) / "report.html"
        run = subprocess.run(
            [sys.executable, "-m", "moetui", "--run", str(ROOT / "examples" / "open.toml"),
             "--set", "load.duration=10s", "--set", f"output.html={page}"],
            cwd=ROOT, timeout=300,
        )  # fmt: skip
        if not page.exists():
            print(f"the run wrote no page (exit status {run.returncode})", file=sys.stderr)
            return 1
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp}/profile",
             "--hide-scrollbars", f"--screenshot={HERE / 'report-html.png'}", f"--window-size={WINDOW}",
             page.as_uri()],
            check=True, timeout=120, capture_output=True,
        )  # fmt: skip
    print(HERE / "report-html.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
