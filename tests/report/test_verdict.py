"""One verdict word (moetui.report.verdict): the HTML report's heading and the app's banner say the same word
in the same tone for a passed, failed, invalid, interrupted and merged (never judged) report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from moetui.report.html import render_html
from moetui.report.model import Report
from moetui.report.verdict import verdict_of
from moetui.tui.widgets.verdict_banner import verdict_class, verdict_lines

GOLDEN = Path(__file__).resolve().parent / "golden"


def _burst(**changes: Any) -> Report:
    report = json.loads((GOLDEN / "burst.json").read_text())
    report.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del report[key]
    return cast(Report, report)


CASES = {
    "passed": (_burst(), "PASSED", "good", "-ok"),
    "failed": (_burst(passed=False, exit_status=1), "FAILED", "bad", "-bad"),
    "invalid": (_burst(valid=False, passed=False, exit_status=4), "INVALID MEASUREMENT", "warn", "-warn"),
    "interrupted": (_burst(interrupted=True, exit_status=130), "INTERRUPTED", "warn", "-warn"),
    "merged": (_burst(passed=None, valid=None, exit_status=None), "MERGED", "warn", "-warn"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_html_heading_and_the_banner_say_one_word(case: str) -> None:
    report, word, tone, banner_class = CASES[case]
    assert verdict_of(report).word == word and verdict_of(report).tone == tone
    assert f'<span class="verdict {tone}" id="verdict">{word}</span>' in render_html(report)
    headline, _ = verdict_lines(report)
    assert headline.split(" · ")[0] == word
    assert verdict_class(report) == banner_class
