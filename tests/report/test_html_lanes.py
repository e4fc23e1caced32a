"""The HTML report's request lanes: a streamed request's first token is marked on its lane (the TUI's ▸) at
send + first_token_s on the lanes' own time scale, read back from the SVG; reports without first tokens
draw no marker and no legend. Reports are the canned ones tests/fixtures/canned.py builds through the real
recorder, aggregator and report builder."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from moetui.report.html import render_html
from tests.fixtures import canned

SVG = "{http://www.w3.org/2000/svg}"


def _section(page: str) -> str:
    match = re.search(r'<section id="lanes-section">.*?</section>', page, re.S)
    assert match is not None, "no lanes section"
    return match.group(0)


def _svg(page: str) -> ET.Element:
    match = re.search(r'<svg class="lanes".*?</svg>', page, re.S)
    assert match is not None
    return ET.fromstring(match.group(0).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def _scale(svg: ET.Element) -> tuple[float, float, float]:
    """(x of the axis' start, its time in s, pixels per second), from the two axis labels under the lanes."""
    axis = [t for t in svg.iter(f"{SVG}text") if (t.text or "").endswith(" s")]
    assert len(axis) == 2, [t.text for t in axis]
    (x0, t0), (x1, t1) = ((float(t.attrib["x"]), float((t.text or "")[:-2])) for t in axis)
    return x0, t0, (x1 - x0) / (t1 - t0)


def _ticks(svg: ET.Element) -> dict[int, tuple[ET.Element, ET.Element]]:
    """Request id -> (its lane, its first-token tick), each tick right after its lane."""
    children = list(svg)
    ticks = {}
    for index, child in enumerate(children):
        if child.tag == f"{SVG}line" and child.attrib.get("class") == "first-token":
            lane = children[index - 1]
            assert lane.tag == f"{SVG}rect"
            title = child.findtext(f"{SVG}title") or ""
            match = re.fullmatch(r"#(\d+): first token (\d+\.\d{3}) s", title)
            assert match is not None, title
            assert (lane.findtext(f"{SVG}title") or "").startswith(f"#{match.group(1)}: ")
            ticks[int(match.group(1))] = (lane, child)
    return ticks


@pytest.mark.parametrize("build", [canned.stream_burst_finished, canned.stream_finished])
def test_each_streamed_request_has_a_tick_where_its_first_token_came(build: Any) -> None:
    report = build()[1].report
    log = {r["id"]: r for r in report["request_log"]}
    assert all(r["first_token_s"] is not None for r in log.values())
    page = render_html(report)
    svg = _svg(page)
    x0, t0, px_per_s = _scale(svg)
    ticks = _ticks(svg)
    assert sorted(ticks) == sorted(log)
    for request_id, (lane, tick) in ticks.items():
        r = log[request_id]
        x = float(tick.attrib["x1"])
        assert tick.attrib["x2"] == tick.attrib["x1"]  # vertical
        assert x == pytest.approx(x0 + (r["sent_at_s"] + r["first_token_s"] - t0) * px_per_s, abs=0.11)
        # On its lane: inside the bar, at first_token_s / elapsed_s of its width, across its height.
        left, width = float(lane.attrib["x"]), float(lane.attrib["width"])
        assert x - left == pytest.approx(r["first_token_s"] / r["elapsed_s"] * width, abs=0.2)
        top, height = float(lane.attrib["y"]), float(lane.attrib["height"])
        assert float(tick.attrib["y1"]) < top and float(tick.attrib["y2"]) > top + height
        assert tick.findtext(f"{SVG}title") == f"#{request_id}: first token {r['first_token_s']:.3f} s"
    legend = re.search(r'<p class="note" id="lanes-first-token">(.*?)</p>', _section(page), re.S)
    assert legend is not None and f"first token came ({len(log)} of {len(log)} requests)" in legend.group(1)


def test_the_burst_whose_second_request_waited_longer_shows_it() -> None:
    """stream_burst_finished: every lane 3 s long; the second's first token at 1.2 s, the others' at 0.4 s."""
    report = canned.stream_burst_finished()[1].report
    ticks = _ticks(_svg(render_html(report)))
    offsets = {
        i: (float(tick.attrib["x1"]) - float(lane.attrib["x"])) / float(lane.attrib["width"])
        for i, (lane, tick) in ticks.items()
    }
    assert offsets[2] == pytest.approx(0.4, abs=0.001) and offsets[1] == offsets[3] == pytest.approx(0.4 / 3, abs=0.001)


@pytest.mark.parametrize("build", [canned.burst_finished, canned.open_finished, canned.steps_finished])
def test_a_report_without_first_tokens_has_no_marker_and_no_legend(build: Any) -> None:
    report = build()[1].report
    assert report["request_log"] and all(r.get("first_token_s") is None for r in report["request_log"])
    section = _section(render_html(report))
    assert "first-token" not in section and "<line" not in section and "first token" not in section
    without_key = copy.deepcopy(report)
    for r in without_key["request_log"]:
        del r["first_token_s"]  # a report written before first tokens were logged
    assert _section(render_html(without_key)) == section


def test_the_markers_are_all_a_streamed_report_adds_to_its_lanes() -> None:
    """The same report with its first tokens taken out draws the same lanes, less the ticks and the legend."""
    report = canned.stream_finished()[1].report
    plain = copy.deepcopy(report)
    for r in plain["request_log"]:
        r["first_token_s"] = None
    marked = _section(render_html(report))
    stripped = re.sub(r'<p class="note" id="lanes-first-token">.*?</p>', "", marked)
    stripped = re.sub(r'<line [^>]*class="first-token">.*?</line>', "", stripped)
    assert stripped != marked and stripped == _section(render_html(plain))


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), -0.1, "0.2"])
def test_a_first_token_that_is_not_a_time_draws_nothing(value: Any) -> None:
    report = copy.deepcopy(canned.stream_burst_finished()[1].report)
    report["request_log"][0]["first_token_s"] = value
    ticks = _ticks(_svg(render_html(report)))
    assert sorted(ticks) == [2, 3]
