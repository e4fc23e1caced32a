"""A stream's x-ms-run-fn-exec-ms times run() handing back its generator, not the generation (issue 26 item 4):
the summary, the HTML report and the app's latency table label it so and show no outside-the-model ladder (a
stream once read "in model 0.12 ms, outside the model (network, gateway, queue) 722 ms")."""

from __future__ import annotations

import json
from pathlib import Path

from moetui.report.html import render_html
from moetui.report.model import STREAM_EXEC_NOTE, Report, latency_ladders
from moetui.report.summary import format_summary

GOLDEN = Path(__file__).parent / "golden"


def _report(name: str) -> Report:
    report: Report = json.loads((GOLDEN / f"{name}.json").read_text())
    return report


def test_a_streams_summary_labels_its_exec_time_and_has_no_outside_ladder() -> None:
    report = _report("stream_closed")
    assert report["model_latency_ms"] and report["outside_model_latency_ms"]  # the report keeps both figures
    summary = format_summary(report)
    assert "  run()  " in summary and STREAM_EXEC_NOTE in summary
    assert "in model" not in summary and "outside the model" not in summary
    assert latency_ladders(report)["outside_model_latency_ms"] is None


def test_a_streams_html_labels_its_exec_time_and_has_no_outside_row() -> None:
    page = render_html(_report("stream_closed"))
    assert "run() returning its generator" in page
    assert "time outside the model" not in page and "time in the model" not in page


def test_a_whole_answer_keeps_the_in_and_outside_model_split() -> None:
    """The rule is for streams only: an answer read whole still splits its time at run()'s end."""
    report = _report("stream_closed")
    del report["streaming"]  # type: ignore[misc]
    summary = format_summary(report)
    assert "in model" in summary and "outside the model: network, gateway, queue" in summary
    assert "time outside the model" in render_html(report)
