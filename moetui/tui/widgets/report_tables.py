"""The report screen's smaller tables, each from the report dict alone: responses with their meanings,
thresholds pass/fail, generator health, the open loop's offered against sent rate, a sweep's levels and
knee, and a burst's requests as lanes."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from moetui.report.model import ladder_values
from moetui.report.summary import generator_cpu
from moetui.report.verdict import abandoned_words, thresholds_judged
from moetui.tui.widgets.base import bar, ms
from moetui.tui.widgets.report_base import ReportPart, status_look
from moetui.tui.widgets.timeline import Span, draw_lanes

#: Requests of a burst listed one per row; more are summed up in a last line.
BURST_ROWS = 20


def _table() -> Table:
    return Table(box=None, padding=(0, 1), show_edge=False, expand=False)


class Outcomes(ReportPart):
    """Responses by status code and errors by kind, with their share and Azure's meaning (cut short with an
    ellipsis rather than wrapped when the panel is narrow)."""

    DEFAULT_CSS = """
    Outcomes { text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def render(self) -> Text:
        requests = self.report["requests"]
        meanings = self.report.get("meanings", {})
        rows = [*requests.get("by_status", {}).items(), *requests.get("by_error", {}).items()]
        total = sum(count for _, count in rows) or 1
        stopped = bool(abandoned_words(self.report))
        extra = [
            (name, count, label)
            for name, count, label in (
                ("late", requests.get("late", 0), "held back by the clients cap"),
                (
                    "abandoned" if stopped else "in flight at end",
                    requests.get("in_flight_at_end", 0),
                    "in flight when the run was stopped" if stopped else "unanswered at the end",
                ),
            )
            if count
        ]
        if not rows and not extra:  # a stopped burst may have no response, but its abandoned requests
            return Text("no responses", style=self.look("muted"))
        code_width = max(len(name) for name in [*(code for code, _ in rows), *(name for name, _, _ in extra)])
        count_width = max(len(f"{count:,}") for count in [*(c for _, c in rows), *(c for _, c, _ in extra)])
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, (code, count) in enumerate(rows):
            text.append(("\n" if index else "") + f"{code:<{code_width}}", style=self.look(status_look(code)))
            text.append(f" {count:>{count_width},} {count / total:>6.1%}  ")
            text.append(meanings.get(code, ""), style=self.look("muted"))
        for index, (name, count, label) in enumerate(extra):
            text.append(("\n" if rows or index else "") + f"{name:<{code_width}}", style=self.look("warn"))
            text.append(f" {count:>{count_width},}{'':>7}  ")
            text.append(label, style=self.look("muted"))
        return text


class Thresholds(ReportPart):
    """Each threshold: its limit, the run's value and pass or FAIL."""

    def render(self) -> Table | Text:
        checks = self.report.get("thresholds", [])
        if not checks:
            return Text("no thresholds set", style=self.look("muted"))
        table = _table()
        table.add_column("", width=4)
        table.add_column("threshold", no_wrap=True)
        table.add_column("value", justify="right")
        table.add_column("limit", justify="right", no_wrap=True)
        judged = thresholds_judged(self.report)  # a stopped run's error_rate 0 is no pass
        for check in checks:
            passed = check["passed"]
            value = "—" if check["value"] is None else f"{check['value']:,.4g}"
            limit = f"{'≥' if check.get('at_least') else '≤'} {check['limit']:,.4g}"
            verdict = Text("pass" if passed else "FAIL", style=self.look("ok" if passed else "bad"))
            if not judged:
                verdict = Text("—", style=self.look("muted"))
            # A limit moetui applies unless the config sets its own says so, as the text summary does.
            name = Text(check["name"])
            if check.get("default"):
                name.append(" (default)", style=self.look("muted"))
            table.add_row(verdict, name, value, limit)
        return table


class GeneratorHealth(ReportPart):
    """Whether the generator kept up (loop lag, send drift, CPU), why not, and what was not its fault."""

    DEFAULT_CSS = """
    GeneratorHealth { height: auto; }
    """

    def render(self) -> Text:
        generator = self.report.get("generator")
        if not generator:
            return Text("no generator figures", style=self.look("muted"))
        text = Text()
        if generator["valid"]:
            text.append("generator ok", style=self.look("ok"))
        else:
            text.append("INVALID MEASUREMENT", style=self.look("bad"))
        text.append(
            f"  lag p99 {ms(generator.get('loop_lag_p99_ms'))} · drift p99 {ms(generator.get('drift_p99_ms'))} · "
            f"{generator_cpu(generator)}",
            style=self.look("muted"),
        )
        for reason in generator.get("reasons", []):
            text.append(f"\n✕ {reason}", style=self.look("bad"))
        if generator.get("remedy"):
            text.append(f"\n→ {generator['remedy']}", style=self.look("bad"))
        for note in generator.get("notes", []):
            text.append(f"\n• {note}", style=self.look("muted"))
        if generator.get("header_refreshes"):
            text.append(f"\ntoken refreshed {generator['header_refreshes']} time(s)", style=self.look("muted"))
        if generator.get("header_refresh_failures"):
            text.append(
                f"\ntoken refresh failed {generator['header_refresh_failures']} time(s), last: "
                f"{generator.get('header_refresh_error')}",
                style=self.look("bad"),
            )
        return text


class OfferedRate(ReportPart):
    """Open loop: the rate asked for against the rate sent, and the sends the target could not take."""

    DEFAULT_CSS = """
    OfferedRate { text-wrap: nowrap; text-overflow: clip; }
    """

    def render(self) -> Table:
        rate = self.report.get("rate")
        not_sent = self.report["requests"].get("not_sent", 0)
        offered, sent = (rate["offered_per_s"], rate["sent_per_s"]) if rate else (None, 0.0)
        width = max(5, min(30, self.content_size.width - 40))
        top = max(offered or 0, sent) or 1
        table = _table()
        table.show_header = False
        table.add_column("", style="bold")
        table.add_column("", justify="right")
        table.add_column("")
        if offered is not None:
            table.add_row("offered", f"{offered:,.1f}/s", Text(bar(offered / top, width), style=self.look("muted")))
        table.add_row(
            "sent",
            f"{sent:,.1f}/s",
            Text(bar(sent / top, width), style=self.look("bar")).append(
                f" over {rate['sending_s'] if rate else 0:.1f} s"
            ),
        )
        intended = (rate.get("intended") if rate else None) or self.report["requests"].get("sent", 0) + not_sent
        share = not_sent / intended if intended else 0.0
        table.add_row(
            Text("not sent", style=self.look("warn" if not_sent else "ok")),
            f"{not_sent:,}",
            f"of {intended:,} intended ({share:.1%})"
            + (f", {clients:,} clients" if rate and (clients := rate.get("clients")) else ""),
        )
        return table


class SweepTable(ReportPart):
    """A sweep's levels: throughput, latency, errors, whether each met the limit, and the knee."""

    def render(self) -> Table | Text:
        steps = self.report.get("steps")
        if not steps or not steps.get("table"):
            return Text("no level finished", style=self.look("muted"))
        label = f"p{steps['percentile']:g}"
        table = _table()
        table.add_column(str(steps.get("over", "level")), justify="right")
        table.add_column("ok/s", justify="right")
        table.add_column("p50", justify="right")
        table.add_column(label if label != "p50" else "p50 ", justify="right")
        table.add_column("errors", justify="right")
        table.add_column("", no_wrap=True)
        knee = steps.get("knee")
        for row in steps["table"]:
            block = row.get("latency_ms")
            figures = ladder_values(block) if block else {}
            value = figures.get("p" + label[1:].replace(".", "_"))
            met = value is not None and value < steps["threshold_ms"] and row["error_rate"] < steps["error_limit"]
            mark = Text("✓ met" if met else "✕ over", style=self.look("ok" if met else "bad"))
            if knee is not None and row["level"] == knee:
                mark.append("  ◀ knee", style=self.look("ok"))
            errors = f"{row['error_rate']:.2%}"
            table.add_row(f"{row['level']:g}", f"{row['rps']:,.1f}", ms(figures.get("p50")), ms(value), errors, mark)
        return table


class BurstRequests(ReportPart):
    """A burst's requests as lanes (side by side: served at once) and one row each: sent at, elapsed, status."""

    def render(self) -> Group | Text:
        log = sorted(self.report.get("request_log") or [], key=lambda record: record["id"])
        if not log:
            return Text("no requests", style=self.look("muted"))
        spans: list[Span] = [
            (
                r["sent_at_s"],
                r["sent_at_s"] + r["elapsed_s"],
                "ok" if r["status"] == 200 else "failed",
                None if (first := r.get("first_token_s")) is None else r["sent_at_s"] + first,
            )
            for r in log
        ]
        end = max(span[1] for span in spans)
        styles = {"ok": self.look("ok"), "failed": self.look("bad"), "flight": self.look("bar")}
        lanes = draw_lanes(spans, end, max(10, self.content_size.width), styles, self.look("muted"))
        meanings = self.report.get("meanings", {})
        table = _table()
        table.add_column("#", justify="right", style="bold")
        table.add_column("sent at", justify="right")
        table.add_column("elapsed", justify="right")
        table.add_column("status", no_wrap=True)
        for record in log[:BURST_ROWS]:
            code = str(record["status"]) if record["status"] is not None else str(record.get("error") or "error")
            meaning = meanings.get(code, "") if code != "200" else ""
            status = Text(code, style=self.look(status_look(code))).append(f" {meaning}" if meaning else "")
            table.add_row(str(record["id"]), f"{record['sent_at_s']:.3f} s", f"{record['elapsed_s']:.3f} s", status)
        parts: list[Text | Table] = [lanes, Text(""), table]
        if len(log) > BURST_ROWS:
            parts.append(Text(f"+{len(log) - BURST_ROWS:,} more in the JSON report", style=self.look("muted")))
        return Group(*parts)
