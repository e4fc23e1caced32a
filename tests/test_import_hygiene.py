"""The engine, config, report and target interface import neither the UI nor Azure; the headless runner
never imports textual. Checked in a fresh interpreter, where sys.modules tells the truth."""

from __future__ import annotations

import subprocess
import sys

import pytest

FORBIDDEN = ("textual", "rich", "azure")


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("moetui.engine.run", FORBIDDEN),
        ("moetui.engine.evaluate", FORBIDDEN),
        ("moetui.config.load", FORBIDDEN),
        ("moetui.config.dump", FORBIDDEN),
        ("moetui.report.json_report", FORBIDDEN),
        ("moetui.report.summary", FORBIDDEN),
        ("moetui.report.html", FORBIDDEN),
        ("moetui.report.compare_html", FORBIDDEN),
        ("moetui.report.hgrm", FORBIDDEN),
        ("moetui.report.junit", FORBIDDEN),
        ("moetui.commands.report", FORBIDDEN),
        ("moetui.engine.request_log", FORBIDDEN),
        ("moetui.targets.base", FORBIDDEN),
        ("moetui.targets.factory", FORBIDDEN),
        ("moetui.session", ("textual", "azure")),
        ("moetui.headless", ("textual", "azure")),
        ("moetui.local_endpoint", FORBIDDEN),
    ],
)
def test_module_does_not_import(module: str, forbidden: tuple[str, ...]) -> None:
    code = f"import sys, {module}\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & {set(forbidden)!r}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
