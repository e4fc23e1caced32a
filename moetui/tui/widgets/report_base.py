"""The base of the report screen's widgets: each renders from the report dict alone (the JSON the headless
runner writes), so a saved report draws the same picture; colours come from the theme through component
classes (moetui.tui.widgets.base.Themed), never from colour names."""

from __future__ import annotations

from moetui.report.model import Report
from moetui.tui.widgets.base import Themed

#: Labels of the report's percentile keys, in ladder order.
LADDER = {"p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99", "p99_9": "p99.9", "max": "max", "mean": "mean"}


class ReportPart(Themed):
    """A part of a report, drawn from `report`; `look(kind)` is its theme style (ok, warn, bad, muted, bar)."""

    DEFAULT_CSS = """
    ReportPart { height: auto; }
    ReportPart > .look--bad { text-style: bold; }
    """

    def __init__(self, report: Report, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.report = report
        """The report to draw (never changes: a report screen shows one finished run)."""


def status_look(code: str) -> str:
    """The look of a status code or error kind: 2xx ok, anything else bad."""
    return "ok" if code.isdigit() and 200 <= int(code) < 300 else "bad"
