"""The matrix screen, its matrix in a child process: deployments selected on the deployment screen (space)
and compared (m) as matrix cells, against two real local endpoints; a matrix file's axes run from the
app, fed to the live widgets, stopped and resumed; a quit mid-matrix; and its pictures from canned events."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from moetui.deployments.base import DeploymentRequest
from moetui.local_endpoint.deployments import LocalDeployments
from moetui.matrix.process import Planned
from moetui.tui.app import make_app
from moetui.tui.screens.deployment import DeploymentScreen
from moetui.tui.screens.matrix import MatrixScreen
from moetui.tui.state import TUI_KEY_ENV, MatrixOpen
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


async def _until_ended(pilot: Any, matrix: MatrixScreen, timeout_s: float = 90.0) -> list[str]:
    """Pause until the matrix has ended; the progress texts seen on the way."""
    seen = []
    for _ in range(int(timeout_s / 0.1)):
        await pilot.pause(0.1)
        seen.append(str(matrix.query_one("#matrix-progress").render()))
        if matrix.finished is not None:
            break
    assert matrix.finished is not None, seen[-1]
    return seen


@pytest.mark.slow
async def test_two_local_deployments_are_compared_as_matrix_cells(tmp_path: Path) -> None:
    service = LocalDeployments()
    fast = await service.create(_request(service, 0.3), lambda _line: None)
    slow = await service.create(_request(service, 0.9), lambda _line: None)
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
        assert matrix.handle is not None and matrix.handle.pid not in (None, os.getpid())  # a child process
        seen = await _until_ended(pilot, matrix)
        saw_progress = next((text for text in seen if "cell 2 of 2" in text), "")
        assert matrix.report is not None, matrix.finished
        table = matrix.query_one("#matrix-table", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        answer = str(matrix.query_one("#matrix-answer").render())
        chart = str(matrix.query_one("#matrix-chart").render())
        report = matrix.report
        await pilot.press("escape")
        await pilot.pause()
    assert "cell 2 of 2" in saw_progress and f"{slow.endpoint}/blue" in saw_progress
    assert [row[0] for row in rows] == [f"{fast.endpoint}/blue", f"{slow.endpoint}/blue"]
    assert all(row[8] == "met" for row in rows)  # no SLO: each run's own thresholds, which a burst of 3 meets
    p50 = [float(row[3]) for row in rows]
    assert 250 < p50[0] < 800 < p50[1] < 3000  # 0.3 s against 0.9 s of sleep
    cells = {cell["name"]: cell for cell in report["cells"]}
    assert cells[f"{fast.endpoint}/blue"]["measurements"][0]["report"]["requests"]["ok"] == 3
    assert report["recommendation"]["cell"] == f"{fast.endpoint}/blue"  # no prices: the higher rate
    assert "Recommendation:" in answer
    assert "no chart" in chart  # no prices
    assert not any(name.startswith(f"{TUI_KEY_ENV}_CELL") for name in os.environ)  # keys gone with the screen


MATRIX = """
[target.local]
sleep = 0.3

[load]
mode = "burst"
requests = 3
timeout = "10s"

[matrix]
workers = [1, 3]

[prices]
local-2cpu = 0.20
"""


@pytest.mark.slow
async def test_a_matrix_file_runs_in_the_app_fed_to_the_live_widgets_stopped_and_resumed(tmp_path: Path) -> None:
    """Its axes measured in a child process; the current cell's snapshots reach the live widgets; `s` after
    the first cell keeps it in the state file; opened again, only the second cell runs, and the report is
    written where `moetui profile` writes it."""
    path = tmp_path / "matrix.toml"
    path.write_text(MATRIX)
    report = tmp_path / "m.json"
    opened = MatrixOpen.read(path, report=report)
    assert opened.state_path == tmp_path / "m.state.json"

    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path, matrix=opened)
    async with app.run_test(size=(120, 40)) as pilot:
        matrix: MatrixScreen = await wait_for(pilot, MatrixScreen)
        fed = None
        for _ in range(600):
            await pilot.pause(0.1)
            if matrix.snapshot is not None and fed is None:
                fed = matrix.query_one("#matrix-status").render()
            if 0 in matrix.rows:
                break
        assert 0 in matrix.rows and 1 not in matrix.rows
        await pilot.press("s")  # cell 2 under way (or starting): stopped, cell 1 kept
        await _until_ended(pilot, matrix)
        stopped = str(matrix.query_one("#matrix-answer").render())
        await pilot.press("escape")
        await pilot.pause()
    assert fed is not None and "burst" in str(fed)  # a cell's run reached the status line
    assert matrix.finished is not None and matrix.finished.matrix is None and "Stopped" in stopped
    state = json.loads(opened.state_path.read_text())["measurements"]
    assert list(state) == ["0/w1"]
    assert not report.exists()

    again = MatrixOpen.read(path, report=report)
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path, matrix=again)
    async with app.run_test(size=(120, 40)) as pilot:
        matrix = await wait_for(pilot, MatrixScreen)
        started: list[int] = []
        for _ in range(900):
            await pilot.pause(0.1)
            if matrix.current is not None and matrix.current not in started:
                started.append(matrix.current)
            if matrix.finished is not None:
                break
        assert matrix.report is not None, matrix.finished
        table = matrix.query_one("#matrix-table", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        answer = str(matrix.query_one("#matrix-answer").render())
    assert started == [1]  # only the missing cell ran
    written = json.loads(report.read_text())
    assert written["cells"][0]["measurements"][0] == {**state["0/w1"]}  # the kept cell, whole
    assert [c["name"] for c in written["cells"]] == ["w1", "w3"]
    assert written["cells"][1]["measurements"][0]["report"]["requests"]["ok"] == 3
    assert written["recommendation"]["cell"] == "w3"  # 3 workers serve the burst at once: the higher rate
    assert [row[0] for row in rows] == ["w1", "w3"] and rows[1][8] == "met"
    assert "Recommendation: w3" in answer and str(report) in answer
    assert not opened.state_path.exists()  # the matrix ended: its state file is gone


@pytest.mark.slow
async def test_quitting_mid_matrix_asks_then_stops_its_child(tmp_path: Path) -> None:
    path = tmp_path / "matrix.toml"
    path.write_text(MATRIX.replace("sleep = 0.3", "sleep = 5"))
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path, matrix=MatrixOpen.read(path))
    async with app.run_test(size=(120, 40)) as pilot:
        matrix: MatrixScreen = await wait_for(pilot, MatrixScreen)
        for _ in range(300):
            await pilot.pause(0.1)
            if matrix.snapshot is not None:
                break
        assert matrix.handle is not None and matrix.running
        pid = matrix.handle.pid
        await pilot.press("ctrl+q")
        await pilot.pause(0.3)
        assert matrix.running  # a question first
        await pilot.press("y")
        for _ in range(300):
            await pilot.pause(0.1)
            if not matrix.running:
                break
    assert not matrix.running and matrix.finished is not None and matrix.finished.matrix is None
    assert app.return_code == 130
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("answered", [False, True], ids=["mid-run", "answered"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_matrix_screen_pictures(snap_compare: Any, size: tuple[int, int], answered: bool) -> None:
    """examples/matrix.toml: cell 4 of 4 under way in the live widgets, three rows filled and the chart of
    three; then the table whole, the recommendation, the chart of four."""

    async def go(pilot: Any) -> None:
        screen = canned.matrix_screen(answered=answered)
        await pilot.app.push_screen(screen)
        await pilot.pause()
        screen.feed()
        await pilot.pause()
        await pilot.pause()

    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=Path("/nonexistent"))
    assert snap_compare(app, terminal_size=size, run_before=go)


class _Handle:
    """What the screen asks of its matrix process, for a plan that waits for an answer."""

    def __init__(self) -> None:
        self.creates = True
        self.finished = None
        self.went = self.stopped = False

    def go(self) -> None:
        self.went = True

    def stop(self) -> None:
        self.stopped = True

    def poll(self) -> None:
        return None

    def take_events(self) -> list[Any]:
        return []

    def kill(self, grace_s: float = 0.0) -> None:
        self.stopped = True


@pytest.mark.parametrize("answer", ["y", "n"])
async def test_a_plan_that_creates_deployments_is_asked_first(answer: str) -> None:
    """An Azure matrix's plan (what it creates, the time and cost) is shown and waits: y goes on, n stops."""
    from moetui.matrix.axes import Cell
    from moetui.matrix.config import MatrixSpec

    spec = MatrixSpec(path=Path("azure.toml"), base={"target": {"azure": {}}}, cells=(Cell("c1", {}), Cell("c3", {})))
    screen = MatrixScreen(spec, state_path=Path("/nonexistent/state.json"), start=False)
    handle = _Handle()
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=Path("/nonexistent"))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(screen)
        screen.handle = handle  # type: ignore[assignment]
        plan = "Create under endpoint moetui-k3f9x2qa: c1 (1 x Standard_DS3_v2), c3\nEstimate: 18 min"
        screen.show(Planned(plan, True))
        await pilot.pause()
        assert "moetui-k3f9x2qa" in str(screen.query_one("#matrix-load").render())  # the whole plan, on screen
        assert not handle.went and not handle.stopped  # waiting for the answer
        await pilot.press(answer)
        await pilot.pause()
        said = (handle.went, handle.stopped)  # (leaving the app kills the handle after)
    assert said == ((True, False) if answer == "y" else (False, True))


async def test_the_matrix_file_dialog_names_a_bad_file_and_returns_a_good_one(tmp_path: Path) -> None:
    from moetui.tui.dialogs.matrix_file import MatrixFileDialog

    (tmp_path / "bad.toml").write_text("[matrix]\nworkers = [1, 3]\nmax_concurency = [1]\n")
    (tmp_path / "good.toml").write_text(MATRIX)
    got: list[MatrixOpen | None] = []
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(MatrixFileDialog(tmp_path), got.append)
        await pilot.pause()
        await pilot.press(*"bad.toml", "enter")
        await pilot.pause()
        error = str(app.screen.query_one("#matrix-file-error").render())
        assert isinstance(app.screen, MatrixFileDialog)  # still asking
        field = app.screen.query_one("#matrix-file")
        field.value = "good.toml"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
    assert "bad.toml" in error and "max_concurency" in error
    assert len(got) == 1 and got[0] is not None
    assert [cell.name for cell in got[0].spec.cells] == ["w1", "w3"]
    assert got[0].state_path == tmp_path / "good.state.json"  # beside the file, as `moetui profile` keeps it


def test_profile_live_checks_the_file_before_the_app_starts(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.toml"
    bad.write_text("[matrix]\nworkers = [1, 3]\nmax_concurency = [1]\n")
    result = subprocess.run(
        [sys.executable, "-m", "moetui", "profile", str(bad), "--live"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "bad.toml" in result.stderr and "max_concurency" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "moetui", "profile", str(bad), "--live", "--yes"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--yes goes without --live" in result.stderr
