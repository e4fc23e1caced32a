"""`moetui --run config.toml --on-azure --nodes N`: the compute, the environment and the command job go
through the real azure-ai-ml on canned ARM answers (tests/azure/fake_arm.py FakeJobs); the job's outputs
come through moetui.commands.on_azure's documented `download` seam, filled by real local nodes that loaded a
local server, and are merged and judged as after a real job. Also: a failed job's log tail and the role
command, Ctrl-C cancelling the job, and no key in anything the submission sends or writes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from moetui.azure.clients import AzureClients
from moetui.commands.on_azure import DEFAULT_COMPUTE, run_on_azure
from moetui.errors import ConfigError, ExitStatus
from moetui.nodes.env import TOKEN_ENV, NodeError
from tests.azure.fake_arm import KEY, RG, SUB, WS, FakeJobs, FakeWorkspace
from tests.fixtures.azure_transport import CannedTransport
from tests.helpers import assert_ran
from tests.http_server import FastServer

PROFILER_KEY = "profiler-key-that-must-never-leak-0b1"


def azure_config(tmp_path: Path) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(
        f'[target.azure]\nsubscription_id = "{SUB}"\nresource_group = "{RG}"\nworkspace = "{WS}"\nendpoint = "ep"\n\n'
        '[load]\nmode = "closed"\nconnections = 4\nrequests = 200\nduration = "20s"\n\n[thresholds]\np99_ms = 5000\n'
    )
    return path


@pytest.fixture
def jobs(workspace: FakeWorkspace) -> FakeJobs:
    workspace.add_endpoint("ep", {"blue": {}})
    return FakeJobs(workspace)


def local_node_outputs(server: FastServer, tmp_path: Path) -> Any:
    """The download seam: what two real nodes wrote after loading `server`, in the job's output layout."""

    def download(_ml: Any, job_name: str, into: Path) -> None:
        config = tmp_path / "nodes.toml"
        config.write_text(
            f'[target.url]\nurl = "{server.url("/sleep?ms=2")}"\n\n[load]\nmode = "closed"\nconnections = 4\n'
            'requests = 200\nduration = "20s"\n'
        )
        made = tmp_path / "made.json"
        ran = subprocess.run(
            [
                sys.executable,
                "-m",
                "moetui",
                "--run",
                str(config),
                "--nodes",
                "2",
                "--local-nodes",
                "--report",
                str(made),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        # Whether each node kept up with the server is the machine's (exit 4): the launcher judges it again.
        assert_ran(ran.returncode, json.loads(made.read_text()), ran.stdout + ran.stderr)
        report = into / "named-outputs" / "report"
        report.mkdir(parents=True)
        for rank in range(2):
            shutil.copy(tmp_path / "made.json.nodes" / f"node-{rank}.json", report)

    return download


def secret_scan(transports: list[CannedTransport], secrets: list[str], *paths: Path) -> None:
    """No secret in any recorded request (body, URL, headers other than ARM's Authorization) nor local file."""
    for transport in transports:
        for request in transport.requests:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
            seen = json.dumps([request.url, headers, request.body], default=repr)
            for secret in secrets:
                assert secret not in seen, f"{request.method} {request.url}"
    for root in paths:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file():
                text = path.read_text(errors="replace")
                assert not any(secret in text for secret in secrets), path


async def test_job_submitted_followed_merged_and_judged(
    clients: AzureClients,
    arm: CannedTransport,
    storage: CannedTransport,
    jobs: FakeJobs,
    server: FastServer,
    tmp_path: Path,
) -> None:
    out, err = io.StringIO(), io.StringIO()
    report = tmp_path / "out" / "merged.json"
    status = await run_on_azure(
        azure_config(tmp_path),
        2,
        report_path=report,
        out=out,
        err=err,
        poll_s=0.01,
        download=local_node_outputs(server, tmp_path),
    )
    merged = json.loads(report.read_text())
    assert_ran(status, merged, out.getvalue() + err.getvalue())
    # The compute was missing: created at no cost while idle, with an identity, for 2 nodes.
    (put_compute,) = arm.sent("PUT", rf"/computes/{DEFAULT_COMPUTE}$")
    props = put_compute.body["properties"]
    assert props["computeType"] == "AmlCompute"
    assert props["properties"]["vmSize"] == "Standard_DS4_v2"
    assert props["properties"]["scaleSettings"]["minNodeCount"] == 0
    assert props["properties"]["scaleSettings"]["maxNodeCount"] >= 2
    assert put_compute.body["identity"]["type"] == "SystemAssigned"
    # The environment looked up before it was created.
    (get_env,) = [r for r in arm.sent("GET", r"/environments/moetui-[0-9a-f]{12}/versions/1$")]
    (put_env,) = arm.sent("PUT", r"/environments/moetui-[0-9a-f]{12}/versions/1$")
    assert arm.requests.index(get_env) < arm.requests.index(put_env)
    # The job: the node command, its environment, 2 nodes with PyTorch's distribution, the report output.
    (put_job,) = arm.sent("PUT", r"/jobs/[^/]+$")
    job = put_job.body["properties"]
    assert job["jobType"] == "Command"
    assert job["command"].startswith("python -m moetui --run run/job.toml")
    assert job["command"].endswith("--node-output ${{outputs.report}}")
    assert "moetui-" in job["environmentId"]
    assert job["distribution"] == {"distributionType": "PyTorch", "processCountPerInstance": 1}
    assert job["resources"]["instanceCount"] == 2
    assert job["outputs"]["report"]["jobOutputType"] == "uri_folder"
    assert job["computeId"].endswith(f"/computes/{DEFAULT_COMPUTE}")
    assert not arm.sent("POST", r"/listKeys$")  # the nodes read the key themselves, never the launcher
    # Polled to Completed, each state said with the elapsed time; the merged report judged.
    said = err.getvalue()
    assert "Queued at" in said and "Running at" in said and "Completed at" in said
    assert "AzureML Data Scientist" in said and "az role assignment create --assignee" in said
    assert merged["requests"]["ok"] == 200 and len(merged["nodes"]) == 2
    assert merged["exit_status"] == status and merged["thresholds"][0]["name"] == "p99_ms"
    assert f"exit status {status} (" in out.getvalue()
    secret_scan([arm, storage], [KEY], tmp_path / "out")


async def test_a_failed_job_shows_its_log_tail_and_the_missing_role(
    clients: AzureClients, arm: CannedTransport, storage: CannedTransport, jobs: FakeJobs, tmp_path: Path
) -> None:
    jobs.states = ["Queued", "Running", "Failed"]

    def no_outputs(_ml: Any, _name: str, into: Path) -> None:
        (into / "named-outputs" / "report").mkdir(parents=True)
        (into / "named-outputs" / "report" / "node-1.error").write_text("Azure: the key could not be read (403)\n")

    def log(_ml: Any, _name: str) -> str:
        return "line 1\n(AuthorizationFailed) The client does not have authorization to perform action listKeys\n"

    with pytest.raises(NodeError) as failed:
        await run_on_azure(
            azure_config(tmp_path), 2, out=io.StringIO(), err=io.StringIO(), poll_s=0.01, download=no_outputs, logs=log
        )
    message = failed.value.message
    assert "ended Failed" in message
    assert "node-1: Azure: the key could not be read (403)" in message
    assert "(AuthorizationFailed) The client does not have authorization" in message
    assert '--role "AzureML Data Scientist" --scope /subscriptions/' in message


async def test_ctrl_c_cancels_the_job(
    clients: AzureClients, arm: CannedTransport, storage: CannedTransport, jobs: FakeJobs, tmp_path: Path
) -> None:
    jobs.states = ["Queued", "Running"]  # runs until cancelled

    async def interrupt_when_running() -> None:
        while not any(job["status_now"] == "Running" for job in jobs.jobs.values()):
            await asyncio.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    err = io.StringIO()
    interrupter = asyncio.create_task(interrupt_when_running())
    status = await asyncio.wait_for(
        run_on_azure(azure_config(tmp_path), 2, out=io.StringIO(), err=err, poll_s=0.05), timeout=60
    )
    await interrupter
    assert status == ExitStatus.INTERRUPTED
    assert len(arm.sent("POST", r"/jobs/[^/]+/cancel$")) == 1
    assert "cancelling job" in err.getvalue()


async def test_profiler_env_goes_into_the_job_without_its_secret(
    clients: AzureClients,
    arm: CannedTransport,
    storage: CannedTransport,
    jobs: FakeJobs,
    server: FastServer,
    tmp_path: Path,
) -> None:
    environ = {
        "ONLINE_ENDPOINT": "ep",
        "SUBSCRIPTION": SUB,
        "RESOURCE_GROUP": RG,
        "WORKSPACE": WS,
        "SCORING_HEADERS": json.dumps({"Authorization": f"Bearer {PROFILER_KEY}"}),
        "PROFILING_TOOL": "wrk",
        "CONNECTIONS": "4",
        "DURATION": "20s",
    }
    status = await run_on_azure(
        None,
        2,
        report_path=tmp_path / "out" / "r.json",
        profiler_env=environ,
        out=io.StringIO(),
        err=io.StringIO(),
        poll_s=0.01,
        download=local_node_outputs(server, tmp_path),
    )
    assert status in (ExitStatus.OK, ExitStatus.THRESHOLD_FAILED, ExitStatus.INVALID_MEASUREMENT)  # the machine's
    (put_job,) = arm.sent("PUT", r"/jobs/[^/]+$")
    job = put_job.body["properties"]
    token = job["environmentVariables"].pop(TOKEN_ENV)  # the nodes' barrier token, fresh for this run
    assert len(token) == 32 and token not in str(environ)
    assert job["environmentVariables"] == {k: v for k, v in environ.items() if k != "SCORING_HEADERS"}
    assert "--profiler-env" in job["command"]
    secret_scan([arm, storage], [PROFILER_KEY, KEY], tmp_path / "out")


async def test_a_secret_that_would_have_to_travel_is_refused_before_anything_is_sent(
    clients: AzureClients, arm: CannedTransport, tmp_path: Path
) -> None:
    config = tmp_path / "url.toml"
    config.write_text('[target.url]\nurl = "https://example.invalid/score"\nkey_env = "K"\n')
    with pytest.raises(ConfigError, match="--workspace SUB/RG/WS"):
        await run_on_azure(config, 2, out=io.StringIO(), err=io.StringIO())
    with pytest.raises(ConfigError, match=r"target\.url\.key_env names a secret"):
        await run_on_azure(config, 2, workspace=f"{SUB}/{RG}/{WS}", out=io.StringIO(), err=io.StringIO())
    profiler = {"SCORING_URI": "https://example.invalid/score", "SCORING_HEADERS": '{"Authorization": "Bearer s"}'}
    with pytest.raises(ConfigError, match="SCORING_HEADERS holds a secret"):
        await run_on_azure(
            None, 2, profiler_env=profiler, workspace=f"{SUB}/{RG}/{WS}", out=io.StringIO(), err=io.StringIO()
        )
    assert arm.requests == []
