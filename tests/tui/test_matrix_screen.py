"""The matrix screen: deployments selected on the deployment screen (space) and compared (m) as matrix cells
under the run setup's load, against two real local endpoints; and its pictures from canned messages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from moetui.deployments.base import DeploymentRequest
from moetui.local_endpoint.deployments import LocalDeployments
from moetui.tui.app import make_app
from moetui.tui.screens.deployment import DeploymentScreen
from moetui.tui.screens.matrix import MatrixScreen
from moetui.tui.state import TUI_KEY_ENV
from tests.fixtures import canned
from tests.tui.test_flow import wait_for


def _request(service: LocalDeployments, sleep_s: float) -> DeploymentRequest:
    base = service.default_request()
    return DeploymentRequest(
        endpoint=base.endpoint,
        deployment="blue",
        instance_type="local process",
        instance_count=1,
        max_concurrent_requests_per_instance=3,
        worker_count=3,
        request_timeout_ms=10_000,
        sleep_s=sleep_s,
    )


@pytest.mark.slow
async def test_two_local_deployments_are_compared_as_matrix_cells(tmp_path: Path) -> None:
    service = LocalDeployments()
    # Sleeps long enough that a busy machine's few tens of ms (the matrix shares the app's process) stay
    # small next to them: the health verdict allows lag up to 5 % of the median latency.
    fast = await service.create(_request(service, 0.6), lambda _line: None)
    slow = await service.create(_request(service, 1.5), lambda _line: None)
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path, local_service=service)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(DeploymentScreen(service))
        screen = await wait_for(pilot, DeploymentScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("m")  # nothing selected: a warning, no matrix
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("space", "down", "space")
        await pilot.pause()
        assert screen.chosen == [(fast.endpoint, "blue"), (slow.endpoint, "blue")]
        assert "✓" in screen.query_one("#deployments", DataTable).get_cell_at((1, 0))
        await pilot.press("m")
        matrix: MatrixScreen = await wait_for(pilot, MatrixScreen)
        saw_progress = ""
        for _ in range(600):  # two bursts of 3 after start-up; generous for a loaded machine
            await pilot.pause(0.1)
            text = str(matrix.query_one("#matrix-progress").render())
            if "cell 2 of 2" in text:
                saw_progress = text
            if matrix.report is not None:
                break
        assert matrix.report is not None, str(matrix.query_one("#matrix-progress").render())
        table = matrix.query_one("#matrix-table", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        answer = str(matrix.query_one("#matrix-answer").render())
        report = matrix.report
        await pilot.press("escape")
        await pilot.pause()
    assert "cell 2 of 2" in saw_progress and f"{slow.endpoint}/blue" in saw_progress
    assert [row[0] for row in rows] == [f"{fast.endpoint}/blue", f"{slow.endpoint}/blue"]
    assert all(row[6] == "met" for row in rows)  # no SLO: each run's own thresholds, which a burst of 3 meets
    p50 = [float(row[3]) for row in rows]
    assert 550 < p50[0] < 1400 < p50[1] < 4000  # 0.6 s against 1.5 s of sleep
    cells = {cell["name"]: cell for cell in report["cells"]}
    assert cells[f"{fast.endpoint}/blue"]["measurements"][0]["report"]["requests"]["ok"] == 3
    assert report["recommendation"]["cell"] == f"{fast.endpoint}/blue"  # no prices: the higher rate
    assert "Recommendation:" in answer and "no chart" in answer
    assert not any(name.startswith(f"{TUI_KEY_ENV}_CELL") for name in os.environ)  # keys gone with the screen


def _canned_screen(*, answered: bool) -> MatrixScreen:
    """Two deployments, the first measured, the second under way (or both, and the answer)."""
    from moetui.matrix.axes import Cell
    from moetui.matrix.recommend import cell_summary, recommend
    from moetui.tui.screens.matrix import MatrixCell
    from moetui.tui.screens.run_setup import default_load

    config = canned.config({"load": default_load()})
    names = ("moetui-k3f9x2qa/blue", "moetui-k3f9x2qa/green")
    cells = [MatrixCell(Cell(name, {}, deployment=name.split("/")[1]), config, "Standard_DS3_v2", 1) for name in names]
    screen = MatrixScreen(cells, default_load(), start=False, now=lambda: 100.0)
    figures = [(14.2, 205.1, 211.0, 0.25), (2.9, 1010.4, 1022.8, 0.25)]
    rows = [
        cell_summary(
            {
                "name": name,
                "describe": cell.cell.describe(),
                "instance_count": 1,
                "cost_per_hour": cost,
                "measurements": [
                    {"rate_rps": rate, "meets_slo": True, "p50_ms": p50, "p99_ms": p99, "error_rate": 0.0}
                ],
            },
            "fixed",
        )
        for name, cell, (rate, p50, p99, cost) in zip(names, cells, figures, strict=True)
    ]

    def feed() -> None:
        screen.post_message(MatrixScreen.CellStarted(0, 2, cells[0].cell))
        screen.post_message(MatrixScreen.CellMeasured(0, rows[0]))
        screen.post_message(MatrixScreen.CellStarted(1, 2, cells[1].cell))
        screen.post_message(MatrixScreen.Said("burst  1.0s  3 sent  0 done  in flight 3"))
        if answered:
            screen.post_message(MatrixScreen.CellMeasured(1, rows[1]))
            screen.post_message(MatrixScreen.Answered({"cells": rows, "recommendation": recommend(rows)}))

    screen.feed = feed  # type: ignore[attr-defined]
    return screen


@pytest.mark.parametrize("answered", [False, True], ids=["mid-run", "answered"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_matrix_screen_pictures(snap_compare: Any, size: tuple[int, int], answered: bool) -> None:
    """Cell 2 of 2 under way with the first row filled; then the table whole, the recommendation, the chart."""

    async def go(pilot: Any) -> None:
        screen = _canned_screen(answered=answered)
        await pilot.app.push_screen(screen)
        await pilot.pause()
        screen.feed()
        await pilot.pause()
        await pilot.pause()

    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=Path("/nonexistent"))
    assert snap_compare(app, terminal_size=size, run_before=go)
