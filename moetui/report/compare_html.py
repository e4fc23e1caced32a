"""The comparison of two runs as an HTML page (`moetui compare --html`): the same page machinery as the
report (moetui.report.html: uPlot inlined, nothing fetched), a table of every metric and both runs' percentile
spectra on one "nines" chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from moetui.engine.histogram import new_histogram
from moetui.paths import write_atomic
from moetui.report.compare import SAME, TOO_FEW, Comparison, merged_histogram, verdict_rule
from moetui.report.html import esc, fmt_number, render_page, spectrum_series, table_html
from moetui.report.model import Report


def render_compare_html(
    comparison: Comparison, base: Sequence[Report], new: Sequence[Report], broken: Sequence[str] = ()
) -> str:
    """The page: verdicts, the table of metrics, and the spectra of both sides' successful latencies."""
    rows = []
    for row in comparison.rows:
        interval = f"{fmt_number(row.low, 4)} .. {fmt_number(row.high, 4)}" if row.low is not None else ""
        relative = f" ({row.relative:+.1%})" if row.relative is not None and row.verdict else ""
        cls = (
            ""
            if row.verdict in (SAME, TOO_FEW, "")
            else ("bad" if row.verdict in ("slower", "more errors") else "good")
        )
        rows.append(
            [
                esc(row.label) + (f" ({esc(row.unit)})" if row.unit else ""),
                f"<code>{esc(row.name)}</code>",
                fmt_number(row.base, 4),
                fmt_number(row.new, 4),
                fmt_number(row.diff, 4) + relative,
                interval,
                f'<span class="{cls}">{esc(row.verdict)}</span>',
            ]
        )
    word, cls = ("REGRESSION", "bad") if broken else ("NO REGRESSION", "good")
    gate = "".join(f'<li class="bad">{esc(line)}</li>' for line in broken)
    notes = "".join(f"<li>{esc(note)}</li>" for note in comparison.notes)
    body = (
        f'<header><h1>moetui comparison <span class="verdict {cls}" id="verdict">{word}</span></h1>'
        f'<p class="sub">base: {esc(", ".join(comparison.base_sources))}<br>'
        f"new: {esc(', '.join(comparison.new_sources))}</p></header>"
        f'<section id="comparison"><h2>Metrics</h2><p class="note">difference = new - base, with its 95 % interval '
        f"(with several reports a side, their spread too); {esc(verdict_rule(comparison))}</p>"
        f"{table_html(['metric', '--fail-on', 'base', 'new', 'difference', '95% interval', 'verdict'], rows)}"
        f"<ul>{gate}{notes}</ul></section>"
        '<section id="spectrum-section"><h2>Percentile spectrum</h2><div class="chart" id="spectrum"></div></section>'
    )
    histograms = {}
    for side, reports in (("base", base), ("new", new)):
        merged = merged_histogram(reports, "ok") or new_histogram()
        if merged.get_total_count():
            encoded = merged.encode()
            histograms[side] = encoded.decode() if isinstance(encoded, bytes) else str(encoded)
    data = {"spectrum": spectrum_series(histograms, {"base": "base", "new": "new"})}
    return render_page("moetui comparison", body, data, "compare.js")


def write_compare_html(
    comparison: Comparison,
    base: Sequence[Report],
    new: Sequence[Report],
    path: Path,
    broken: Sequence[str] = (),
) -> Path:
    """Write render_compare_html to `path` (directories created); returns the path."""
    return write_atomic(path, render_compare_html(comparison, base, new, broken))
