"""The HTML report opens in a real headless browser (Debian's chromium, installed by .ci/run) with no console
error, draws its charts, and shows the report's own figures; it references nothing on the network."""

from __future__ import annotations

import html
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from moetui.report.codec import write_report
from moetui.report.distribution import latency_text
from moetui.report.html import fmt_number
from tests.fixtures import canned
from tests.report.conftest import chromium, console_lines, moetui, open_in_browser

pytestmark = pytest.mark.skipif(
    chromium() is None, reason="chromium is not installed (apt-get install chromium; .ci/run installs it)"
)


def _page(report_path: Path, tmp_path: Path) -> tuple[dict[str, Any], str, str]:
    """(report, the page's HTML as written, its DOM after the scripts ran)."""
    page = tmp_path / "report.html"
    done = moetui("report", str(report_path), "--html", str(page))
    assert done.returncode == 0, done.stderr
    opened = open_in_browser(page, tmp_path / "profile", "--dump-dom")
    assert opened.returncode == 0, opened.stderr[-2000:]
    assert console_lines(opened.stderr) == [], console_lines(opened.stderr)
    return json.loads(report_path.read_text()), page.read_text(), opened.stdout


def _charts(dom: str) -> int:
    match = re.search(r'data-charts="(\d+)"', dom)
    assert match is not None, "the page's script did not finish"
    return int(match.group(1))


def _tile(dom: str, name: str) -> str:
    match = re.search(rf'id="tile-{name}".*?<div class="v">([^<]*)</div>', dom, re.S)
    assert match is not None, name
    return match.group(1)


def _fetches_nothing(page: str) -> None:
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert not re.search(r"""@import|url\(\s*["']?(?:https?:)?//""", page)


def test_a_bursts_page_shows_every_request_as_a_lane(reports: dict[str, Path], tmp_path: Path) -> None:
    report, page, dom = _page(reports["burst"], tmp_path)
    _fetches_nothing(page)
    assert report["requests"]["sent"] == 5
    assert _tile(dom, "sent") == "5"
    # The histogram's digits, none above the slowest request's own time (the burst's log has each).
    slowest_ms = max(r["elapsed_s"] for r in report["request_log"]) * 1000
    summary = re.search(r'id="summary".*?</section>', dom, re.S)
    assert summary is not None
    assert f"<td>{latency_text(min(report['latency_ms']['p99'], slowest_ms))}</td>" in summary.group(0)
    assert f"<td>{latency_text(slowest_ms)}</td>" in summary.group(0)
    assert f"{report['latency_ms']['max']:,}" not in summary.group(0)  # the bucket's top, to 3 decimals
    lanes = re.search(r'<svg class="lanes".*?</svg>', dom, re.S)
    assert lanes is not None and lanes.group(0).count("<rect") == len(report["request_log"]) == 5
    assert _lane_rows(lanes.group(0)) == 5  # one lane each: a staircase would show serving one by one
    assert _charts(dom) == 0  # five requests: the lanes show each (no spectrum, no second-by-second curve)
    assert 'id="verdict">PASSED<' in dom
    # What the app's banner says (verdict_lines), and the verdict's figures beside the lanes.
    burst = report["burst"]
    said = "burst " + burst["verdict"] + ("" if burst["as_expected"] else " (NOT as the settings allow)")
    assert f'id="burst-verdict">{said}<' in dom
    note = re.search(r'id="lanes-note">([^<]*)<', dom)
    assert note is not None and f"served at once {burst['served_at_once']:.2f} of 5" in note.group(1)


def _lane_rows(svg: str) -> int:
    """How many lanes the SVG's bars sit on, each lane's bars checked not to overlap."""
    bars: dict[float, list[tuple[float, float]]] = {}
    for x, y, w in re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"', svg):
        bars.setdefault(float(y), []).append((float(x), float(x) + float(w)))
    for row in bars.values():
        row.sort()
        # Bars are at least 1 unit wide and rounded to 0.1: a request answered as the next is sent may touch.
        assert all(a[1] <= b[0] + 1.2 for a, b in itertools.pairwise(row)), row
    return len(bars)


#: Added to a copy of a page: each first-token tick's stroke as the browser styled it, and whether it lies on
#: its lane's bar, written into the DOM that --dump-dom prints.
_TICKS_PROBE = """<script>
const ticks = [...document.querySelectorAll("svg.lanes line.first-token")].map((line) => {
  const bar = line.previousElementSibling.getBBox(), tick = line.getBBox(), style = getComputedStyle(line);
  return {stroke: style.stroke, width: style.strokeWidth, display: style.display,
          onBar: tick.x >= bar.x && tick.x <= bar.x + bar.width
                 && tick.y <= bar.y && tick.y + tick.height >= bar.y + bar.height};
});
document.body.setAttribute("data-ticks", JSON.stringify(ticks));
</script></body>"""


def test_a_streamed_bursts_lanes_mark_each_first_token(tmp_path: Path) -> None:
    report_path = tmp_path / "stream.json"
    write_report(canned.stream_burst_finished()[1].report, report_path)
    report, page, dom = _page(report_path, tmp_path)
    _fetches_nothing(page)
    lanes = re.search(r'<svg class="lanes".*?</svg>', dom, re.S)
    assert lanes is not None
    titles = re.findall(r'<line [^>]*class="first-token"><title>([^<]*)</title></line>', lanes.group(0))
    assert titles == [f"#{r['id']}: first token {r['first_token_s']:.3f} s" for r in report["request_log"]]
    assert 'id="lanes-first-token"' in dom and "first token came (3 of 3 requests)" in dom
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", _TICKS_PROBE, 1))
    opened = open_in_browser(probed, tmp_path / "profile", "--dump-dom")
    assert console_lines(opened.stderr) == [], console_lines(opened.stderr)
    match = re.search(r'data-ticks="([^"]*)"', opened.stdout)
    assert match is not None, "the probe did not run"
    ticks = json.loads(html.unescape(match.group(1)))
    assert ticks == [{"stroke": "rgb(251, 188, 4)", "width": "3px", "display": "inline", "onBar": True}] * 3


def test_an_open_runs_page_shows_measured_and_corrected_latency(reports: dict[str, Path], tmp_path: Path) -> None:
    report, page, dom = _page(reports["open"], tmp_path)
    _fetches_nothing(page)
    assert _tile(dom, "sent") == f"{report['requests']['sent']:,}"
    assert _tile(dom, "warm-up") == f"{report['requests']['warmup']:,}"
    for block in ("latency_ms", "corrected_latency_ms"):
        for key in ("p50", "p99"):
            assert f"<td>{latency_text(report[block][key])}</td>" in dom, (block, key)
    for check in report["thresholds"]:
        assert f"<td>{check['name']}</td>" in dom
    assert _charts(dom) == 3  # latency over time, throughput over time, spectrum
    over_time = re.search(r'id="latency-time".*?</section>', dom, re.S)
    assert over_time is not None and "p99 corrected" in over_time.group(0)
    assert all("p99_corrected_ms" in row for row in report["per_second"])
    spectrum = re.search(r'id="spectrum".*?</section>', dom, re.S)
    assert spectrum is not None and "corrected" in spectrum.group(0) and "<canvas" in spectrum.group(0)
    assert json.dumps(report["config"]["load"]["rate"]) in dom  # the configuration section


def test_an_open_runs_lanes_are_shared_and_its_health_is_in_words(reports: dict[str, Path], tmp_path: Path) -> None:
    """200 requests of 20 ms at 100/s are a handful in flight at once: lanes reused, not 200 thin rows drawn
    as a diagonal line; Generator health names its measures, not the report's keys."""
    report, _page_html, dom = _page(reports["open"], tmp_path)
    log = report["request_log"]
    assert len(log) > 100  # the latest 200 of about 300 (a loaded machine may send fewer)
    lanes = re.search(r'<svg class="lanes".*?</svg>', dom, re.S)
    assert lanes is not None and lanes.group(0).count("<rect") == len(log)
    rows = _lane_rows(lanes.group(0))
    in_flight = max(
        sum(1 for o in log if o["sent_at_s"] <= r["sent_at_s"] < o["sent_at_s"] + o["elapsed_s"]) for r in log
    )
    assert rows == in_flight < 50, (rows, in_flight)  # the most in flight at once (a loaded machine: more)
    assert f'data-lanes="{rows}"' in lanes.group(0) and f"{len(log)} requests in {rows} lanes" in lanes.group(0)
    health = re.search(r'id="generator".*?</section>', dom, re.S)
    assert health is not None
    assert "event-loop lag, p99 (ms)" in health.group(0) and "generator processes" in health.group(0)
    assert not re.search(r"<td>[a-z]+_[a-z_0-9]+</td>", health.group(0)), "a raw key is shown"


def test_a_sweeps_page_draws_the_curve_and_names_the_knee(reports: dict[str, Path], tmp_path: Path) -> None:
    report, page, dom = _page(reports["steps"], tmp_path)
    _fetches_nothing(page)
    knee = report["steps"]["knee"]
    assert knee is not None and f"knee at {fmt_number(knee)}" in dom
    steps = re.search(r'id="steps-section".*?</section>', dom, re.S)
    assert steps is not None and steps.group(0).count("<tr>") == len(report["steps"]["table"]) + 1
    assert _charts(dom) == 4  # the sweep as well
    assert f"{report['requests']['ok']:,}" in dom


def test_the_comparison_page_opens_too(reports: dict[str, Path], tmp_path: Path) -> None:
    page = tmp_path / "compare.html"
    done = moetui("compare", str(reports["open"]), str(reports["steps"]), "--html", str(page))
    assert done.returncode == 0, done.stderr
    opened = open_in_browser(page, tmp_path / "profile", "--dump-dom")
    assert console_lines(opened.stderr) == []
    assert _charts(opened.stdout) == 1
    assert 'id="comparison"' in opened.stdout and "<td><code>p99</code></td>" in opened.stdout
    _fetches_nothing(page.read_text())


def test_a_script_error_would_be_seen(tmp_path: Path) -> None:
    """The console check above can fail: chromium logs an uncaught error of a page to stderr."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>notDefined();</script></body></html>")
    opened = open_in_browser(page, tmp_path / "profile", "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console_lines(opened.stderr))
