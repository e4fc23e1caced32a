"""The base of the report screen's widgets: each renders from the report dict alone (the JSON the headless
runner writes), so a saved report draws the same picture; colours come from the theme through component
classes ($success, $warning, $error, $primary), never from colour names."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from textual.widget import Widget

#: Labels of the report's percentile keys, in ladder order.
LADDER = {"p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99", "p99_9": "p99.9", "max": "max", "mean": "mean"}


class ReportPart(Widget):
    """A part of a report, drawn from `report`; `look(kind)` is its theme style (ok, warn, bad, muted, bar)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "report--ok",
        "report--warn",
        "report--bad",
        "report--muted",
        "report--bar",
    }
    DEFAULT_CSS = """
    ReportPart { height: auto; }
    ReportPart > .report--ok { color: $text-success; }
    ReportPart > .report--warn { color: $text-warning; }
    ReportPart > .report--bad { color: $text-error; text-style: bold; }
    ReportPart > .report--muted { color: $text-muted; }
    ReportPart > .report--bar { color: $primary; }
    """

    def __init__(self, report: dict[str, Any], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.report = report
        """The report to draw (never changes: a report screen shows one finished run)."""

    def look(self, kind: str) -> Style:
        return self.get_component_rich_style(f"report--{kind}")


def status_look(code: str) -> str:
    """The look of a status code or error kind: 2xx ok, anything else bad."""
    return "ok" if code.isdigit() and 200 <= int(code) < 300 else "bad"
