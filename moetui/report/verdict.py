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


def thresholds_judged(report: Report) -> bool:
    """Whether the thresholds' pass and FAIL mean anything: a stopped run's figures cover only what it got
    to (its abandoned requests are neither ok nor failed), so its error_rate 0 is no pass."""
    return not report.get("interrupted")


def abandoned_words(report: Report) -> str:
    """'3 requests abandoned in flight when the run was stopped (neither ok nor failed)', or ""."""
    count = report["requests"].get("in_flight_at_end", 0)
    if not count or not report.get("interrupted"):
        return ""
    plural = "s" if count != 1 else ""
    return f"{count:,} request{plural} abandoned in flight when the run was stopped (neither ok nor failed)"
