"""Report screen: the summary, verdict or knee, thresholds; export the JSON report and the TOML; compare
with the previous run side by side."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from moetui.config.dump import dump_config
from moetui.config.schema import Config
from moetui.report.json_report import write_report
from moetui.report.summary import format_summary
from moetui.session.process import Finished


def export_path(prefix: str, suffix: str) -> Path:
    """Where an export is written: the working directory, stamped with the time, e.g. moetui-report-….json."""
    return Path(f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}{suffix}")


def comparison(current: dict[str, Any], previous: dict[str, Any]) -> Table:
    """The key figures of two runs side by side."""
    table = Table(title="this run against the previous one", expand=False)
    table.add_column("")
    table.add_column("previous", justify="right")
    table.add_column("this run", justify="right")

    def figures(report: dict[str, Any]) -> dict[str, str]:
        latency = report.get("latency_ms") or {}
        return {
            "mode": report.get("mode", ""),
            "ok": f"{report['requests']['ok']:,}",
            "failed": f"{report['requests']['failed']:,}",
            "ok/s": f"{report['throughput_rps']:,.1f}",
            **{key: f"{latency[key]:,.1f} ms" if key in latency else "-" for key in ("p50", "p90", "p99", "max")},
            "exit status": str(report.get("exit_status", "")),
        }

    before, now = figures(previous), figures(current)
    for key in now:
        table.add_row(key, before[key], now[key])
    return table


class ReportScreen(Screen[None]):
    """A finished (or stopped) run."""

    BINDINGS = [
        Binding("j", "export_json", "Export JSON"),
        Binding("t", "export_toml", "Export TOML"),
        Binding("n", "new_run", "New run"),
        Binding("q", "app.quit", "Quit", system=True),  # the help lists the app's ^q once
    ]

    def __init__(self, config: Config, finished: Finished) -> None:
        super().__init__()
        self.config = config
        self.finished = finished
        self.report: dict[str, Any] = finished.report or {}

    def compose(self) -> ComposeResult:
        yield Header()
        with ScrollableContainer(id="report-body"):
            yield Static(self._headline(), id="report-headline")
            yield Static(format_summary(self.report) if self.report else "no report", id="report-summary")
            previous = getattr(self.app, "previous_report", None)
            if previous:
                yield Static(comparison(self.report, previous), id="report-compare")
        yield Footer()

    def on_mount(self) -> None:
        self.app.previous_report = self.report  # type: ignore[attr-defined]

    def _headline(self) -> str:
        status = self.finished.exit_status
        meaning = {
            0: "passed",
            1: "a threshold failed",
            3: "target unreachable",
            4: "INVALID MEASUREMENT",
            130: "stopped",
        }
        burst = self.report.get("burst")
        verdict = f" · {burst['verdict']}" if burst else ""
        steps = self.report.get("steps")
        if steps:
            verdict += f" · knee {steps['knee']:g}" if steps["knee"] is not None else " · no knee"
        return f"exit status {status}: {meaning.get(status, '')}{verdict}"

    def action_export_json(self) -> None:
        path = export_path("moetui-report", ".json")
        write_report(self.report, path)
        self.notify(f"Report written to {path}", title="Export")

    def action_export_toml(self) -> None:
        path = export_path("moetui-run", ".toml")
        dump_config(self.config, path)
        self.notify(f"Configuration written to {path}: moetui --run {path}", title="Export")

    def action_new_run(self) -> None:
        self.app.pop_screen()
