"""What a matrix's answer says beside its figures (issue 26 item 10): no cost per 1,000 inferences beside a
cell that mostly failed, no "instance type bigger than needed" for a scorer that waits (the sleep scorer) while
its CPU idles; and `moetui report m.json` opens a matrix report (it said "not a moetui report")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from moetui.matrix.prices import Price, prices_block
from moetui.matrix.recommend import cell_summary, recommend
from moetui.matrix.run import MATRIX_SCHEMA, format_answer
from tests.fixtures.canned import MATRIX_FIGURES


def _cell(name: str, *, errors: float = 0.0, cpu: float | None = None, in_model_ms: float | None = None) -> Any:
    measured: dict[str, Any] = {
        "rate_rps": 4.9,
        "meets_slo": errors <= 0.01,
        "p50_ms": 406.0,
        "p99_ms": 412.9,
        "error_rate": errors,
        "utilisation": {"server_cpu_share": cpu} if cpu is not None else None,
        "report": {"latency_ms": {"p50": 406.0}, "model_latency_ms": {"p50": in_model_ms}} if in_model_ms else None,
    }
    entry = {"name": name, "describe": name, "instance_count": 1, "cost_per_hour": 0.2}
    return cell_summary({**entry, "measurements": [measured]}, "fixed")


def test_a_cell_that_mostly_failed_has_no_cost_per_1000_and_says_why() -> None:
    failed, working = _cell("c1", errors=0.998), _cell("c3", errors=0.0)
    assert failed["cost_per_1000"] is None and "99.8% of its requests failed" in failed["note"]
    assert working["cost_per_1000"] is not None and working["note"] is None


def test_a_scorer_that_waits_is_not_called_too_big_an_instance() -> None:
    sleeping = _cell("sleep", cpu=0.03, in_model_ms=400.0)  # run() took 400 of 406 ms at 3 % CPU: a sleep
    assert "waits" in sleeping["note"] and "bigger than the load needs" not in sleeping["note"]
    light = _cell("light", cpu=0.03, in_model_ms=20.0)  # run() short, the CPU idle: the load is light
    assert "bigger than the load needs" in light["note"]
    unknown = _cell("no-header", cpu=0.03)  # no x-ms-run-fn-exec-ms: as before
    assert "bigger than the load needs" in unknown["note"]


def _matrix_report() -> dict[str, Any]:
    cells = []
    for name, (rate, p50, p99, errors) in MATRIX_FIGURES.items():
        measured = {"rate_rps": rate, "meets_slo": errors <= 0.01, "p50_ms": p50, "p99_ms": p99, "error_rate": errors}
        entry = {"name": name, "describe": name, "instance_count": 1, "cost_per_hour": 0.2}
        cells.append(cell_summary({**entry, "measurements": [measured]}, "fixed"))
    prices = prices_block({"local-2cpu": Price("local-2cpu", 0.2, "config examples/matrix.toml")})
    return {
        "schema": MATRIX_SCHEMA,
        "matrix": "examples/matrix.toml",
        "search": "fixed",
        "cells": cells,
        "prices": prices,
        "recommendation": recommend(cells),
    }


def test_moetui_report_prints_a_matrix_reports_answer_and_writes_its_html(tmp_path: Path) -> None:
    report = _matrix_report()
    path, html = tmp_path / "m.json", tmp_path / "m.html"
    path.write_text(json.dumps(report))
    moetui = [sys.executable, "-m", "moetui", "report", str(path)]
    done = subprocess.run(moetui, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == format_answer(report)  # as `moetui profile` printed it
    assert "Recommendation: c3-w3" in done.stdout
    written = subprocess.run([*moetui, "--html", str(html)], capture_output=True, text=True, timeout=60)
    assert written.returncode == 0 and f"html: {html}" in written.stdout, written.stderr
    assert "Recommendation: c3-w3" in html.read_text() and html.read_text().startswith("<!doctype html>")
    junit = subprocess.run([*moetui, "--junit", str(tmp_path / "j.xml")], capture_output=True, text=True, timeout=60)
    assert junit.returncode == 2 and "matrix report" in junit.stderr
