"""The HTML report: one self-contained page that opens offline (nothing is fetched when it is opened), built
from the JSON report alone. Figures are static HTML (readable with scripts off, and by tests); the charts are
drawn by uPlot, vendored under report/assets/ and inlined (see assets/README.md for its version and licence).

The page is a list of sections, each a function of the report returning HTML ("" to leave itself out):
SECTIONS. The matrix table and the streaming (token) metrics are hooks there, drawn when a report carries
"matrix" or "streaming". No textual, rich or azure.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from moetui.engine.histogram import decode
from moetui.engine.saturation import cpu_text
from moetui.paths import write_atomic
from moetui.report.distribution import latency_text
from moetui.report.hgrm import percentile_points
from moetui.report.model import (
    Ladder,
    LoggedRequest,
    Report,
    Steps,
    ladder_values,
    latency_ladders,
    model_time_label,
)
from moetui.report.summary import capped_values, exact_max_ms
from moetui.report.verdict import abandoned_words, burst_words, thresholds_judged, verdict_of

#: The vendored uPlot (assets/README.md).
UPLOT_VERSION = "1.6.32"
LATENCY_KEYS = ("p50", "p90", "p95", "p99", "p99_9", "max", "mean", "count")
#: Histograms drawn on the percentile spectrum, with their legends.
SPECTRUM = {
    "ok": "measured",
    "ok_corrected": "corrected",
    "failed": "failed",
    "model": "model",
    "outside": "outside model",
}
#: At most this many requests are drawn as lanes (a burst keeps every request; others the latest).
MAX_LANES = 400


def _asset(name: str) -> str:
    return resources.files("moetui.report").joinpath("assets", name).read_text(encoding="utf-8")


def esc(value: Any) -> str:
    return html.escape(str(value))


def fmt_number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}".rstrip("0").rstrip(".") if not value.is_integer() else f"{value:,.0f}"
    return esc(value)


def table_html(headers: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _header(report: Report) -> str:
    verdict = verdict_of(report)
    word, cls = verdict.word, verdict.tone
    info = report.get("target")
    target = info.get("description", "") if info else ""
    merged = report.get("merged_from")
    origin = f"merged from {esc(', '.join(merged))}" if merged else f"started {esc(report.get('started_at', ''))}"
    burst = report.get("burst")
    burst_tone = "good" if burst and burst["as_expected"] else "bad"
    burst_html = (
        f' <span class="verdict {burst_tone}" id="burst-verdict">{esc(burst_words(burst))}</span>' if burst else ""
    )
    return (
        f'<header><h1>moetui report <span class="verdict {cls}" id="verdict">{word}</span>{burst_html}</h1>'
        f'<p class="sub">{esc(report.get("mode", ""))} load against <code>{esc(target)}</code>, {origin}, '
        f"{fmt_number(report.get('wall_s'))} s (exit status {esc(report.get('exit_status', '-'))})</p></header>"
    )


def _summary(report: Report) -> str:
    requests = report.get("requests", {})
    cells = [
        ("sent", requests.get("sent")),
        ("ok", requests.get("ok")),
        ("failed", requests.get("failed")),
        ("warm-up", requests.get("warmup")),
        ("not sent", requests.get("not_sent")),
        *([("abandoned", requests.get("in_flight_at_end"))] if abandoned_words(report) else []),
        ("throughput req/s", report.get("throughput_rps")),
        ("error rate", report.get("error_rate")),
    ]
    tiles = "".join(
        f'<div class="tile" id="tile-{esc(name.split()[0])}"><div class="k">{esc(name)}</div>'
        f'<div class="v">{fmt_number(value, 4)}</div></div>'
        for name, value in cells
    )
    rows = []
    latency_rows = (
        (report.get("latency_ms"), "latency (measured)"),
        (report.get("corrected_latency_ms"), "latency corrected for coordinated omission"),
        (report.get("failed_latency_ms"), "failed requests"),
        (report.get("model_latency_ms"), model_time_label(report)),
        (latency_ladders(report)["outside_model_latency_ms"], "time outside the model"),
    )
    for block, label in latency_rows:
        if block:
            # The histogram's digits (15.06 s, not 15,056.895), a burst's capped by its slowest request.
            values = capped_values(block, exact_max_ms(report) if block is report.get("latency_ms") else None)
            figures = [latency_text(values.get(k)) for k in LATENCY_KEYS if k != "count"]
            rows.append([esc(label), *figures, fmt_number(block.get("count"))])
    latency = table_html(["latency", *LATENCY_KEYS], rows, "latency") if rows else "<p>No successful response.</p>"
    statuses = [
        [esc(code), fmt_number(count), esc(report.get("meanings", {}).get(code, ""))]
        for code, count in {**requests.get("by_status", {}), **requests.get("by_error", {})}.items()
    ]
    status_table = table_html(["status / error", "count", "meaning"], statuses, "statuses") if statuses else ""
    return f'<section id="summary"><h2>Summary</h2><div class="tiles">{tiles}</div>{latency}{status_table}</section>'


_PASS = '<span class="good">pass</span>'
_FAIL = '<span class="bad">FAIL</span>'


def _section(section_id: str, title: str, inner: str) -> str:
    return f'<section id="{section_id}"><h2>{esc(title)}</h2>{inner}</section>'


def _thresholds(report: Report) -> str:
    checks = report.get("thresholds")
    if checks is None:
        return ""
    if not checks:
        return _section("thresholds", "Thresholds", "<p>No threshold was set.</p>")
    judged = thresholds_judged(report)  # a stopped run's error_rate 0 is no pass
    rows = [
        [
            esc(check["name"]),
            ("at least " if check.get("at_least") else "at most ") + fmt_number(check.get("limit"), 4),
            fmt_number(check.get("value"), 4),
            ((_PASS if check.get("passed") else _FAIL) if judged else "not judged")
            + (" (default)" if check.get("default") else ""),
        ]
        for check in checks
    ]
    stopped = (
        ""
        if judged
        else f'<p class="note" id="not-judged">Not judged: {esc(abandoned_words(report) or "the run was stopped")}.</p>'
    )
    return _section("thresholds", "Thresholds", stopped + table_html(["threshold", "limit", "value", "result"], rows))


def _chart(chart_id: str, title: str, note: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return _section(f"{chart_id}-section", title, f'{note_html}<div class="chart" id="{chart_id}"></div>')


def _over_time(report: Report) -> str:
    if len(report.get("per_second") or []) < 2 or report.get("mode") == "burst":  # a few requests: lanes say more
        return ""
    corrected = any("p99_corrected_ms" in row for row in report["per_second"])
    note = "p50 and p99 of each second's successful requests" + (
        ", measured and corrected for coordinated omission" if corrected else ""
    )
    return _chart("latency-time", "Latency over time", note) + _chart(
        "throughput-time",
        "Throughput and errors over time",
        "requests finished per second, successful and failed, and by status code or error when there were several",
    )


def _spectrum(report: Report) -> str:
    if not report.get("histograms") or report.get("mode") == "burst":  # a few requests: the lanes show each
        return ""
    return _chart(
        "spectrum",
        "Percentile spectrum",
        "latency at each percentile on a log axis of nines (x = 1/(1-percentile)), as HdrHistogram's plotter draws it",
    )


def pack_lanes(log: Sequence[LoggedRequest]) -> list[int]:
    """Each request's lane, requests in send order: the first lane free by its send (its last request
    answered), so a lane is reused and the lanes in use at a moment are the requests in flight then."""
    free_at: list[float] = []  # each lane's last answer
    lanes = []
    for r in log:
        lane = next((i for i, end in enumerate(free_at) if end <= r["sent_at_s"]), len(free_at))
        if lane == len(free_at):
            free_at.append(0.0)
        free_at[lane] = r["sent_at_s"] + r["elapsed_s"]
        lanes.append(lane)
    return lanes


def _lanes(report: Report) -> str:
    log = report.get("request_log") or []
    if not log:
        return ""
    log = sorted(log, key=lambda r: r["sent_at_s"])[-MAX_LANES:]
    burst = report.get("mode") == "burst"
    # A burst keeps a lane per request (a staircase shows serving one by one); other runs' requests, many
    # and short, share lanes, else they draw one thin diagonal line.
    lane_of = list(range(len(log))) if burst else pack_lanes(log)
    count = max(lane_of) + 1
    start = min(r.get("intended_at_s") or r["sent_at_s"] for r in log)
    end = max(r["sent_at_s"] + r["elapsed_s"] for r in log)
    span = max(end - start, 1e-6)
    width, lane_h, left = 1000, 16 if count <= 40 else max(2, 640 // count), 60
    height = lane_h * count + 40
    bars = []
    marked = 0
    for lane, r in zip(lane_of, log, strict=True):
        y = 22 + lane * lane_h
        x = left + (r["sent_at_s"] - start) / span * (width - left - 10)
        w = max(1.0, r["elapsed_s"] / span * (width - left - 10))
        h = max(1, lane_h - 2)
        status = r.get("status")
        ok = status is not None and 200 <= status < 300
        label = r.get("status") or r.get("error")
        title = f"#{r['id']}: sent {r['sent_at_s']:.3f} s, {r['elapsed_s'] * 1000:.1f} ms, {label}"
        if burst and count <= 40:
            bars.append(f'<text x="0" y="{y + h - 2}">#{esc(r["id"])}</text>')
        bars.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{h}" '
            f'class="{"ok" if ok else "err"}"><title>{esc(title)}</title></rect>'
        )
        first_token_s = r.get("first_token_s")
        if (
            isinstance(first_token_s, int | float)
            and not isinstance(first_token_s, bool)
            and math.isfinite(first_token_s)
            and first_token_s >= 0
        ):
            # A tick across the lane where a streamed request's first token came (the TUI's ▸); kept inside
            # the bar, which a first token at the very end can overshoot by the report's rounding (1 ms).
            tick = min(x + first_token_s / span * (width - left - 10), x + w)
            bars.append(
                f'<line x1="{tick:.1f}" x2="{tick:.1f}" y1="{y - 1}" y2="{y + h + 1}" class="first-token">'
                f"<title>#{esc(r['id'])}: first token {first_token_s:.3f} s</title></line>"
            )
            marked += 1
    axis = (
        f'<text x="{left}" y="{height - 5}">{start:.3f} s</text>'
        f'<text x="{width - 10}" y="{height - 5}" text-anchor="end">{end:.3f} s</text>'
    )
    legend = (
        f'<p class="note" id="lanes-first-token"><span class="first-token-key"></span> yellow tick: where each '
        f"streamed request's first token came ({marked} of {len(log)} requests)</p>"
        if marked
        else ""
    )
    heading = f"{len(log)} requests" if burst else f"{len(log)} requests in {count} lanes"
    return (
        f'<section id="lanes-section"><h2>Request lanes</h2><p class="note" id="lanes-note">'
        f"{_lanes_note(report, len(log), count)}</p>"
        f"{legend}"
        f'<svg class="lanes" viewBox="0 0 {width} {height}" width="100%" data-lanes="{count}">'
        f'<text x="0" y="14">{heading}</text>{"".join(bars)}{axis}</svg></section>'
    )


def _lanes_note(report: Report, requests: int, lanes: int) -> str:
    """What the lanes show: for a burst, its verdict in words; else how the requests share lanes."""
    burst = report.get("burst")
    if report.get("mode") == "burst":
        said = (
            f"served at once {burst['served_at_once']:.2f} of {requests} (expected {esc(burst['expected'])}): "
            f"{esc(burst['verdict'])}. "
            if burst
            else ""
        )
        return (
            f"{said}Every request, one lane each, from send to answer (red: failed): lanes side by side were "
            "served together, a staircase one after another."
        )
    return (
        f"The latest {requests:,} requests from send to answer (red: failed); a request takes the first lane "
        f"free when it is sent, so the {lanes:,} lanes are the most requests in flight at once."
    )


def _steps_key(steps: Steps) -> str:
    """The latency key of the sweep's percentile (p99, p99_9); raw text, escaped where it is drawn."""
    return "p99" if steps.get("percentile") == 99 else f"p{steps.get('percentile')}".replace(".", "_")


def _at(block: Ladder | None, key: str) -> float | None:
    """The ladder's figure at `key` (p99, p99_9), None without one."""
    return ladder_values(block).get(key) if block else None


def _steps(report: Report) -> str:
    steps = report.get("steps")
    if not steps:
        return ""
    key = _steps_key(steps)
    rows = [
        [
            fmt_number(row["level"]),
            fmt_number(row["rps"]),
            fmt_number(_at(row.get("latency_ms"), key)),
            fmt_number(row["error_rate"], 4),
            fmt_number(row["ok"]),
            fmt_number(row["failed"]),
        ]
        for row in steps["table"]
    ]
    knee = steps.get("knee")
    knee_text = f"knee at {fmt_number(knee)}" if knee is not None else "no level passed: no knee"
    return (
        f'<section id="steps-section"><h2>Sweep over {esc(steps.get("over"))}</h2>'
        f'<p class="note" id="knee">{knee_text} '
        f"(the highest level with {esc(key)} under {fmt_number(steps.get('threshold_ms'))} ms and errors under "
        f'{fmt_number(steps.get("error_limit"), 4)})</p><div class="chart" id="sweep"></div>'
        f"{table_html([str(steps.get('over')), 'req/s', f'{key} ms', 'error rate', 'ok', 'failed'], rows)}</section>"
    )


#: Generator health's measures in words, with how each value reads (the rest are said below the table).
_GENERATOR_WORDS: dict[str, tuple[str, str]] = {
    "valid": ("measurement valid", "yes/no"),
    "loop_lag_p99_ms": ("event-loop lag, p99 (ms)", "ms"),
    "loop_lag_max_ms": ("event-loop lag, max (ms)", "ms"),
    "drift_p99_ms": ("send drift behind schedule, p99 (ms)", "ms"),
    "cpu_share": ("generator CPU (of one core)", "share"),
    "send_rate_share": ("share of the asked rate sent", "share"),
    "machine_busy": ("machine CPU busy", "share"),
    "machine_cpus": ("machine CPUs", "count"),
    "workers": ("generator processes", "count"),
    "nodes": ("nodes", "count"),
    "header_refreshes": ("token refreshes", "count"),
    "header_refresh_failures": ("token refresh failures", "count"),
    "header_refresh_error": ("last token refresh error", "text"),
}


def _health_value(value: Any, kind: str) -> str:
    if kind == "share" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.0%}"
    if kind == "ms" and value is None:
        return "- (nothing measured)"
    return fmt_number(value, 2)


def _generator(report: Report) -> str:
    health = report.get("generator")
    if not health:
        return ""
    rows = [
        [esc(label), _health_value(health.get(key), kind)]
        for key, (label, kind) in _GENERATOR_WORDS.items()
        if key in health and not (kind == "text" and not health.get(key))
    ]
    if health.get("process_cpu"):
        rows.append(["CPU of each process (of one core)", esc(cpu_text(health["process_cpu"]))])
    items = "".join(f'<li class="bad">{esc(r)}</li>' for r in health.get("reasons", []))
    if health.get("remedy"):
        items += f'<li class="bad">{esc(health["remedy"])}</li>'
    items += "".join(f"<li>{esc(n)}</li>" for n in health.get("notes", []))
    return _section("generator", "Generator health", f"{table_html(['measure', 'value'], rows)}<ul>{items}</ul>")


def _config(report: Report) -> str:
    config = report.get("config")
    if config is None:
        return ""
    return f'<section id="config"><h2>Configuration</h2><pre>{esc(json.dumps(config, indent=2))}</pre></section>'


def _matrix(report: Report) -> str:
    """Hook: a matrix run's table (one row per combination of settings), when reports carry "matrix"."""
    matrix = report.get("matrix")
    if not matrix:
        return ""
    headers = list(matrix[0])
    rows = [[fmt_number(row.get(h)) for h in headers] for row in matrix]
    return _section("matrix", "Matrix", table_html(headers, rows))


def _streaming(report: Report) -> str:
    """Hook: streaming metrics (time to first token, inter-token gaps), when reports carry "streaming"."""
    streaming = report.get("streaming")
    if not streaming:
        return ""
    rows = [
        [esc(name), *(fmt_number(block.get(k)) for k in LATENCY_KEYS)]
        for name, block in streaming.items()
        if isinstance(block, dict)
    ]
    return f'<section id="streaming"><h2>Streaming</h2>{table_html(["metric (ms)", *LATENCY_KEYS], rows)}</section>'


#: The page's sections in order; add one here (a function of the report returning HTML or "").
SECTIONS: list[Callable[[Report], str]] = [
    _summary,
    _thresholds,
    _spectrum,
    _over_time,
    _lanes,
    _steps,
    _matrix,
    _streaming,
    _generator,
    _config,
]


def spectrum_series(histograms: dict[str, str], names: dict[str, str]) -> dict[str, Any]:
    """The spectrum's data for uPlot: one x (1/(1-percentile), the union of every histogram's rows, the 100 %
    row left out: its x is infinite) and one y series per histogram (null where it has no row)."""
    per_name: dict[str, dict[float, float]] = {}
    for name, label in names.items():
        encoded = histograms.get(name)
        if not encoded:
            continue
        points = percentile_points(decode(encoded))
        per_name[label] = {
            round(1 / (1 - p.percentile / 100), 6): p.value_us / 1000 for p in points if p.percentile < 100.0
        }
    xs = sorted({x for series in per_name.values() for x in series})
    return {"x": xs, "series": {label: [s.get(x) for x in xs] for label, s in per_name.items()}}


def chart_data(report: Report) -> dict[str, Any]:
    """Everything the page's script draws, from the report."""
    seconds = report.get("per_second") or []
    steps = report.get("steps")
    data: dict[str, Any] = {
        "seconds": {
            "t": [row["second"] for row in seconds],
            "p50": [row.get("p50_ms") for row in seconds],
            "p99": [row.get("p99_ms") for row in seconds],
            "p50c": [row.get("p50_corrected_ms") for row in seconds],
            "p99c": [row.get("p99_corrected_ms") for row in seconds],
            "ok": [row.get("ok") for row in seconds],
            "failed": [row.get("failed") for row in seconds],
            # Status codes and error kinds per second (a 429 storm, timeouts), when more than one was seen.
            "statuses": {
                code: [row.get("statuses", {}).get(code, 0) for row in seconds]
                for code in sorted({code for row in seconds for code in row.get("statuses", {})})
            },
        },
        "spectrum": spectrum_series(report.get("histograms") or {}, SPECTRUM),
    }
    if steps:
        key = _steps_key(steps)
        data["sweep"] = {
            "level": [row["level"] for row in steps["table"]],
            "latency": [_at(row.get("latency_ms"), key) for row in steps["table"]],
            "rps": [row["rps"] for row in steps["table"]],
            "key": key,
            "knee": steps.get("knee"),
            "threshold": steps.get("threshold_ms"),
        }
    return data


def _json_for_script(value: Any) -> str:
    """JSON safe inside <script>: no "</" can close the element, and no NaN/Infinity (not JSON)."""
    text = json.dumps(value, allow_nan=False, default=lambda v: None)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def render_page(title: str, body: str, data: dict[str, Any], script: str = "report.js") -> str:
    """A whole page: uPlot and its CSS inlined, `data` as JSON for `script` (an asset's name)."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f'<meta name="generator" content="moetui; uPlot {UPLOT_VERSION} (MIT)">'
        f"<style>{_asset('uPlot.min.css')}</style><style>{_asset('report.css')}</style></head><body>{body}"
        f'<script type="application/json" id="moetui-data">{_json_for_script(_clean(data))}</script>'
        f"<script>{_asset('uPlot.iife.min.js')}</script><script>{_asset(script)}</script></body></html>\n"
    )


def render_html(report: Report) -> str:
    """The HTML report of a JSON report (as read_report returns it)."""
    body = _header(report) + "".join(section(report) for section in SECTIONS)
    return render_page("moetui report", body, chart_data(report))


def write_html_report(report: Report, path: Path) -> Path:
    """Write render_html(report) to `path` (directories created); returns the path written. For the TUI's
    report screen as well as `moetui report --html` and [output] html."""
    return write_atomic(path, render_html(report))
