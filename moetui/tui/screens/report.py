"""Report screen: a finished (or stopped) run at a glance, drawn from the report dict alone (the JSON the
headless runner writes): verdict banner, percentiles, the latency distribution, the burst's lanes, the open
loop's rate, a sweep's levels, a stream's token timing, responses, thresholds and generator health. Exports
the JSON report (j), the HTML report (h, with moetui.report.html) and the TOML (t) into
moetui.paths.runs_dir(); compares with the previous run through moetui.report.compare (the intervals and
verdicts of `moetui compare`), in a thread: its bootstrap takes about a second."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import getters, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from moetui.config.dump import dump_config
from moetui.config.schema import Config
from moetui.errors import ConfigError
from moetui.paths import export_path
from moetui.report.codec import write_report
from moetui.report.compare import Comparison, cell_text, compare_reports, verdict_rule
from moetui.report.model import Report
from moetui.report.summary import local_processes_lines, server_metrics_lines, stopped_by_budget
from moetui.session.process import Finished
from moetui.tui.host import MoetuiHost
from moetui.tui.widgets.histogram import LatencyHistogram
from moetui.tui.widgets.latency_table import LatencyTable
from moetui.tui.widgets.report_tables import (
    BurstRequests,
    GeneratorHealth,
    OfferedRate,
    Outcomes,
    SweepTable,
    Thresholds,
)
from moetui.tui.widgets.streaming_report import StreamingReport
from moetui.tui.widgets.verdict_banner import VerdictBanner

#: The notice of `h` when moetui.report.html is not there.
HTML_MISSING = "HTML reports need moetui.report.html"
#: Below this width the report's side-by-side panels stack (80 columns: one per row, scrolling).
WIDE_COLUMNS = 110


#: The comparison's rows the screen shows (moetui.report.compare's names) with their labels, in this order;
#: `moetui compare` of the two exported reports lists every row.
COMPARED = {
    "ok": "ok",
    "failed": "failed",
    "throughput_rps": "ok/s",
    "error_rate": "error rate",
    "p50": "p50 ms",
    "p90": "p90 ms",
    "p99": "p99 ms",
    "p99_9": "p99.9 ms",
    "corrected_p50": "corr. p50 ms",
    "corrected_p99": "corr. p99 ms",
}


def comparison_view(comparison: Comparison, previous: Report, current: Report) -> Group:
    """Two runs side by side as `moetui compare` judges them: each figure, the change, its 95 % interval and
    the verdict; then what the verdicts mean and the comparison's notes."""
    table = Table(title="this run against the previous one", box=None, padding=(0, 1), expand=False)
    table.add_column("", style="bold")
    table.add_column("previous", justify="right")
    table.add_column("this run", justify="right")
    table.add_column("change", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_column("verdict")
    table.add_row("mode", previous.get("mode", ""), current.get("mode", ""), "", "", "")
    rows = {row.name: row for row in comparison.rows}
    for name, label in COMPARED.items():
        row = rows.get(name)
        if row is None:
            continue
        change = f"{row.relative:+.1%}" if row.relative is not None else cell_text(row, row.diff)
        interval = f"{cell_text(row, row.low)}..{cell_text(row, row.high)}" if row.low is not None else ""
        table.add_row(label, cell_text(row, row.base), cell_text(row, row.new), change, interval, row.verdict)
    words = Text(verdict_rule(comparison) + "".join(f"\nnote: {note}" for note in comparison.notes), style="dim")
    return Group(table, words)


def key_figures(report: Report) -> str:
    """One line: requests ok and failed, throughput, error rate (and warm-up, when there was one)."""
    requests = report["requests"]
    line = (
        f"[b]{requests['ok']:,}[/b] ok · [b]{requests['failed']:,}[/b] failed · "
        f"[b]{report['throughput_rps']:,.1f}[/b] ok/s · errors [b]{report['error_rate']:.2%}[/b]"
    )
    if requests.get("warmup"):
        line += f" · {requests['warmup']:,} warm-up"
    budget = stopped_by_budget(report)
    if budget:
        line += f" · stopped by its request budget of {budget:,} (load.requests)"
    return line


class ReportScreen(Screen[None]):
    """A finished (or stopped) run."""

    app = getters.app(MoetuiHost)
    BINDINGS = [
        Binding("j", "export_json", "Export JSON"),
        Binding("t", "export_toml", "Export TOML"),
        Binding("h", "export_html", "Export HTML"),
        Binding("n", "new_run", "New run"),
        Binding("q", "app.quit", "Quit", system=True),  # the help lists the app's ^q once
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_COLUMNS, "-wide")]

    def __init__(self, config: Config, finished: Finished, previous: Report | None = None) -> None:
        super().__init__()
        self.config = config
        self.finished = finished
        self.report: Report | None = finished.report
        """The report drawn: every figure on the screen comes from it (None: the run ended without one)."""
        self.previous = previous
        """The previous run's report, compared side by side (None: no comparison)."""

    def compose(self) -> ComposeResult:
        report = self.report
        yield Header()
        with ScrollableContainer(id="report-body"):
            if report:
                yield from self._parts(report)
            else:
                yield Static(f"exit status {self.finished.exit_status}: no report", id="report-empty")
        yield Footer()

    def _parts(self, report: Report) -> ComposeResult:
        """The report's panels, in reading order."""
        yield VerdictBanner(report, id="report-banner")
        yield Static(key_figures(report), id="report-figures")
        with Horizontal(classes="report-row"):
            yield LatencyTable(report, id="report-latency")
            yield LatencyHistogram(report, id="report-histogram")
        if report.get("streaming"):
            yield StreamingReport(report, id="report-streaming")
        if report.get("rate") or report["requests"].get("not_sent"):
            yield OfferedRate(report, id="report-rate")
        if report.get("burst"):
            yield BurstRequests(report, id="report-burst")
        if report.get("steps"):
            yield SweepTable(report, id="report-steps")
        with Horizontal(classes="report-row"):
            yield Outcomes(report, id="report-outcomes")
            yield Thresholds(report, id="report-thresholds")
        yield GeneratorHealth(report, id="report-generator")
        metrics = server_metrics_lines(report.get("server_metrics"))
        if metrics:
            yield Static("\n".join(metrics[1:]), id="report-server", classes="report-panel")
        processes = local_processes_lines(report.get("local_processes"))
        if processes:
            yield Static("\n".join(processes[1:] or processes), id="report-processes", classes="report-panel")
        if self.previous:
            yield Static("comparing with the previous run...", id="report-compare")

    @work(thread=True, exclusive=True, group="report-compare", exit_on_error=False, description="compare runs")
    def compare_with_previous(self, previous: Report, current: Report) -> None:
        comparison = compare_reports([previous], [current], ("the previous run",), ("this run",))
        self.app.call_from_thread(
            self.query_one("#report-compare", Static).update, comparison_view(comparison, previous, current)
        )

    def on_mount(self) -> None:
        report = self.report
        if report is None:
            return
        if self.previous:
            self.compare_with_previous(self.previous, report)
        burst, steps = report.get("burst"), report.get("steps")
        titles = {
            "#report-latency": "latency percentiles (successful responses)",
            "#report-histogram": "distribution (successful responses)",
            "#report-rate": "open loop: offered against sent",
            "#report-streaming": "streaming: does it really stream? (token timing, tokens, goodput)",
            "#report-burst": (
                f"burst: {burst['served_at_once']:.2f} of {report['requests']['sent']} served at once "
                f"(expected {burst['expected']})"
                if burst
                else ""
            ),
            "#report-steps": (
                f"sweep over {steps['over']}: p{steps['percentile']:g} under {steps['threshold_ms']:g} ms, "
                f"errors under {steps['error_limit']:.1%}"
                if steps
                else ""
            ),
            "#report-outcomes": "responses",
            "#report-thresholds": "thresholds",
            "#report-generator": "generator health",
            "#report-server": (server["source"] if (server := report.get("server_metrics")) else "server") + " metrics",
            "#report-processes": "local endpoint processes: CPU and memory during the run",
        }
        for selector, title in titles.items():
            for widget in self.query(selector):
                widget.border_title = title

    def action_export_json(self) -> None:
        if self.report is None:
            return
        path = export_path("moetui-report", ".json")
        write_report(self.report, path)
        self.notify(f"Report written to {path}", title="Export")

    def action_export_html(self) -> None:
        """The HTML report, where `j` puts the JSON one (moetui.report.html writes it, when installed)."""
        if self.report is None:
            return
        try:
            from moetui.report.html import write_html_report  # another branch adds it: work either way
        except ImportError:
            self.notify(HTML_MISSING, severity="warning", title="Export HTML")
            return
        path = write_html_report(self.report, export_path("moetui-report", ".html"))
        self.notify(f"HTML report written to {path}", title="Export")

    def action_export_toml(self) -> None:
        """The configuration that replays this run (TuiState.replay_config: the run setup's ctrl+s's rule)."""
        try:
            config = self.app.state.replay_config(self.config)
        except ConfigError as exc:
            self.notify(exc.message, severity="error", title="Export TOML")
            return
        path = export_path("moetui-run", ".toml")
        dump_config(config, path)
        self.notify(f"Configuration written to {path}: replay it with moetui --run {path}", title="Export")

    def action_new_run(self) -> None:
        self.app.pop_screen()
