"""The one verdict word of a run's report (PASSED, FAILED, INVALID MEASUREMENT, INTERRUPTED, MERGED) and its
tone, read by the HTML report's heading and the app's banner alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from moetui.report.model import Burst, Report

Tone = Literal["good", "warn", "bad"]


@dataclass(frozen=True)
class Verdict:
    word: str
    tone: Tone
    """good: passed; warn: the figures cannot be judged (interrupted, invalid, merged unjudged); bad: failed."""


def verdict_of(report: Report) -> Verdict:
    """The run's outcome: an interrupted or invalid run is not judged on its thresholds; a merged report
    without `passed` was never judged."""
    if report.get("interrupted"):
        return Verdict("INTERRUPTED", "warn")
    if report.get("valid") is False:
        return Verdict("INVALID MEASUREMENT", "warn")
    if report.get("passed") is False:
        return Verdict("FAILED", "bad")
    if "passed" not in report:
        return Verdict("MERGED", "warn")
    return Verdict("PASSED", "good")


def burst_words(burst: Burst) -> str:
    """The burst's verdict as the app's banner and the HTML report say it: 'burst serialized (NOT as the
    settings allow)'."""
    return f"burst {burst['verdict']}" + ("" if burst["as_expected"] else " (NOT as the settings allow)")
