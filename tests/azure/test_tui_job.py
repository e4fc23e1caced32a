"""The run setup's "Run on Azure" end to end on the real azure-ai-ml with canned ARM answers (FakeJobs): the
job is submitted, its state shown as it is polled, and the nodes' merged report (made by real local nodes
that loaded FastServer, through moetui.nodes.job's download seam) ends on the report screen. Escape cancels the
job; for a target that is no Azure ML deployment the button and its key are absent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Log, Select, Static

from moetui.azure.clients import AzureClients
from moetui.nodes.job import JobSeams
from moetui.tui.app import MoetuiApp, make_app
from moetui.tui.messages import TargetChosen
from moetui.tui.screens.azure_job import AzureJobScreen
from moetui.tui.screens.report import ReportScreen
from moetui.tui.screens.run_setup import RunSetupScreen
from tests.azure.fake_arm import KEY, RG, SUB, WS, FakeJobs, FakeWorkspace, answer_monitor
from tests.azure.test_jobs import local_node_outputs, secret_scan
from tests.fixtures import canned
from tests.fixtures.azure_transport import CannedTransport
from tests.fixtures.memory_targets import MemoryDeployments
from tests.helpers import assert_ran
from tests.http_server import FastServer
from tests.tui.test_flow import wait_for

AZURE = {"subscription_id": SUB, "resource_group": RG, "workspace": WS, "endpoint": "ep", "deployment": "blue"}


@pytest.fixture
def jobs(workspace: FakeWorkspace) -> FakeJobs:
    workspace.add_endpoint("ep", {"blue": {}})
    answer_monitor(workspace.transport, "ep")
    return FakeJobs(workspace)


def app_for(seams: JobSeams | None, tmp_path: Path) -> MoetuiApp:
    return make_app(
        run_factory=lambda config, base_dir, refresh: canned.FakeRun([]),
        base_dir=tmp_path,
        local_service=MemoryDeployments(kind="local"),
        job_seams=seams,
    )


async def azure_setup(pilot: Pilot[Any]) -> RunSetupScreen:
    """An Azure ML deployment chosen as the credentials screen hands it up: its URL with the key in the
    environment to run from here, and its [target.azure] table."""
    url = {"url": "https://ep.westeurope.inference.ml.azure.com/score", "key_env": "MOETUI_TUI_KEY"}
    pilot.app.post_message(TargetChosen({"url": url}, {"azure": AZURE}))
    screen: RunSetupScreen = await wait_for(pilot, RunSetupScreen)
    await pilot.pause()
    return screen


async def test_run_on_azure_follows_the_job_to_the_merged_report(
    clients: AzureClients,
    arm: CannedTransport,
    storage: CannedTransport,
    jobs: FakeJobs,
    server: FastServer,
    tmp_path: Path,
) -> None:
    jobs.states = ["Queued"] * 4 + ["Running"] * 20 + ["Completed"]  # Running for 20 polls: about a second
    seams = JobSeams(poll_s=0.05, download=local_node_outputs(server, tmp_path))
    app = app_for(seams, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        setup = await azure_setup(pilot)
        # The load the local nodes of the download seam ran: closed, 4 connections, 200 requests, 2 nodes.
        setup.query_one("#mode", Select).value = "closed"
        await pilot.pause()
        setup.query_one("#load-connections").value = "4"  # type: ignore[attr-defined]
        setup.query_one("#load-duration").value = "20s"  # type: ignore[attr-defined]
        setup.query_one("#load-budget").value = "200"  # type: ignore[attr-defined]
        setup.query_one("#azure-nodes").value = "2"  # type: ignore[attr-defined]
        assert setup.query_one("#azure-compute").value == "moetui-nodes"  # type: ignore[attr-defined]
        assert setup.query_one("#azure-run", Button).display
        await pilot.press("ctrl+o")
        job: AzureJobScreen = await wait_for(pilot, AzureJobScreen)
        states: list[str] = []
        lines: list[str] = []
        for _ in range(1200):  # the local nodes take a few seconds; 60 s at most
            if isinstance(app.screen, ReportScreen):
                break
            if isinstance(app.screen, AzureJobScreen):
                shown = str(job.query_one("#job-state", Static).render())
                if not states or states[-1] != shown:
                    states.append(shown)
                lines = list(job.query_one("#job-lines", Log).lines)
            await pilot.pause(0.05)
        assert isinstance(app.screen, ReportScreen), "\n".join([*states, *lines[-15:]])
        await pilot.pause(0.3)  # the report's header mounts (an app leaving within that frame fails in it)
        report = app.screen.finished.report
    said = "\n".join(lines)
    assert "Queued at" in said and "Running at" in said and "Completed at" in said, said
    assert any(" s since submitted" in state and "Running" in state for state in states), states
    assert report is not None and report["requests"]["ok"] == 200 and len(report["nodes"]) == 2
    assert_ran(report["exit_status"], report)  # whether each node kept up is the machine's
    # The job the button submitted: 2 nodes on moetui-nodes, the configuration's [target.azure], no key.
    (put_job,) = arm.sent("PUT", r"/jobs/[^/]+$")
    body = put_job.body["properties"]
    assert body["resources"]["instanceCount"] == 2 and body["computeId"].endswith("/computes/moetui-nodes")
    assert body["command"].startswith("python -m moetui --run run/moetui-run.toml")
    # The app's new cluster got its identity's role before the job, as on the command line.
    (put_role,) = arm.sent("PUT", r"/providers/Microsoft.Authorization/roleAssignments/[^/]+$")
    assert arm.requests.index(put_role) < arm.requests.index(put_job)
    assert "gave the cluster moetui-nodes's identity" in said
    assert report["server_metrics"] is not None and "RequestsPerMinute" in report["server_metrics"]["metrics"]
    secret_scan([arm, storage], [KEY])


async def test_escape_cancels_the_job(
    clients: AzureClients, arm: CannedTransport, storage: CannedTransport, jobs: FakeJobs, tmp_path: Path
) -> None:
    jobs.states = ["Queued", "Running"]  # runs until cancelled
    app = app_for(JobSeams(poll_s=0.05), tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await azure_setup(pilot)
        await pilot.click("#azure-run")
        await wait_for(pilot, AzureJobScreen)
        for _ in range(1200):
            if any(job["status_now"] == "Running" for job in jobs.jobs.values()):
                break
            await pilot.pause(0.05)
        await pilot.press("escape")
        await wait_for(pilot, RunSetupScreen, timeout_s=30)
    assert len(arm.sent("POST", r"/jobs/[^/]+/cancel$")) == 1


async def test_no_azure_button_for_a_local_target(tmp_path: Path) -> None:
    app = app_for(None, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        pilot.app.post_message(TargetChosen({"local": {}}))
        setup: RunSetupScreen = await wait_for(pilot, RunSetupScreen)
        await pilot.pause()
        assert not setup.query_one("#azure-run", Button).display
        assert not setup.query_one("#azure-job").display
        assert setup.check_action("azure", ()) is False  # its key hidden from the footer and the help
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, RunSetupScreen)


async def test_a_failed_job_returns_to_the_setup_with_its_error(
    clients: AzureClients, arm: CannedTransport, storage: CannedTransport, jobs: FakeJobs, tmp_path: Path
) -> None:
    jobs.states = ["Queued", "Failed"]

    def node_error(_ml: Any, _name: str, into: Path) -> None:
        (into / "named-outputs" / "report").mkdir(parents=True)
        (into / "named-outputs" / "report" / "node-0.error").write_text("Azure: the key could not be read (403)\n")

    app = app_for(JobSeams(poll_s=0.05, download=node_error, logs=lambda _ml, _name: "the log\n"), tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await azure_setup(pilot)
        await pilot.press("ctrl+o")
        for _ in range(600):  # the job screen may come and go between two looks: wait for the error
            if app._notifications and isinstance(app.screen, RunSetupScreen):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, RunSetupScreen)
        shown = [notification.message for notification in app._notifications]
    assert any("ended Failed" in text and "node-0: Azure: the key could not be read (403)" in text for text in shown)
    assert any("AzureML Data Scientist" in text for text in shown)


async def test_a_role_the_user_may_not_assign_stops_the_app_before_the_job_with_the_command(
    clients: AzureClients, arm: CannedTransport, storage: CannedTransport, jobs: FakeJobs, tmp_path: Path
) -> None:
    jobs.access.may_assign = False
    app = app_for(JobSeams(poll_s=0.05), tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await azure_setup(pilot)
        await pilot.press("ctrl+o")
        for _ in range(600):
            if app._notifications and isinstance(app.screen, RunSetupScreen):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, RunSetupScreen)
        shown = "\n".join(str(notification.message) for notification in app._notifications)
    assert "Nothing was submitted" in shown and "az role assignment create --assignee-object-id" in shown, shown
    assert not arm.sent("PUT", r"/jobs/")
