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
import tomllib
from pathlib import Path
from typing import Any

import pytest

from moetui.azure.auth import ARM_SCOPE, sign_in
from moetui.azure.clients import NODE_IDENTITY_ENV, AzureClients
from moetui.azure.errors import explain
from moetui.commands.on_azure import DEFAULT_COMPUTE, run_on_azure
from moetui.config.profiler_env import ARM_TOKEN_ENV
from moetui.deployments.base import DeploymentError
from moetui.errors import ConfigError, ExitStatus
from moetui.nodes.env import TOKEN_ENV, NodeError
from moetui.nodes.job import JobQueuedError, code_folder
from moetui.nodes.merge import judging_config
from moetui.nodes.role import NODE_ROLE_ID
from tests.azure.fake_arm import KEY, RG, SUB, WS, WS_PATH, FakeJobs, FakeWorkspace, answer_monitor, compute_json
from tests.fixtures.azure_transport import CannedTransport
from tests.helpers import assert_ran
from tests.http_server import MSI_SECRET, FastServer

PROFILER_KEY = "profiler-key-that-must-never-leak-0b1"
PRINCIPAL = compute_json("c")["identity"]["principalId"]


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
    answer_monitor(workspace.transport, "ep")
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
    config = azure_config(tmp_path)
    config.write_text(config.read_text() + '\n[output]\njunit = "out/junit.xml"\n')
    status = await run_on_azure(
        config,
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
    # The new cluster's identity got its role on the workspace before the job was submitted.
    (put_role,) = arm.sent("PUT", r"/providers/Microsoft.Authorization/roleAssignments/[^/]+$")
    assert put_role.path.startswith(WS_PATH + "/providers/")
    role = put_role.body["properties"]
    assert role["principalId"] == PRINCIPAL and role["principalType"] == "ServicePrincipal"
    assert role["roleDefinitionId"].endswith(f"/roleDefinitions/{NODE_ROLE_ID}")
    assert arm.requests.index(put_role) < arm.requests.index(put_job)
    assert "gave the cluster moetui-nodes's identity" in said and "AzureML Data Scientist" in said
    # Azure Monitor's block over the merged run's window, read by the launcher (the nodes' own are apart).
    (query,) = arm.sent("GET", r"/onlineEndpoints/ep/providers/Microsoft.Insights/metrics$")
    assert merged["server_metrics"]["metrics"]["RequestsPerMinute"]["average"] == 1200.0
    assert merged["server_metrics"]["timespan"] == query.query["timespan"][0]
    assert not any(note.startswith("server_metrics:") for note in merged.get("notes", []))
    assert merged["requests"]["ok"] == 200 and len(merged["nodes"]) == 2
    assert merged["exit_status"] == status and merged["thresholds"][0]["name"] == "p99_ms"
    assert f"exit status {status} (" in out.getvalue()
    # [output] junit: the merged run, written by the launcher (the nodes on Azure would lose theirs).
    junit = (tmp_path / "out" / "junit.xml").read_text()
    assert 'name="p99_ms"' in junit and f"{merged['thresholds'][0]['value']:g}" in junit
    assert out.getvalue().count("junit: ") == 1
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


async def test_an_existing_cluster_whose_identity_holds_no_role_stops_before_submitting(
    clients: AzureClients, arm: CannedTransport, storage: CannedTransport, jobs: FakeJobs, tmp_path: Path
) -> None:
    jobs.computes["gpu-nodes"] = compute_json("gpu-nodes")  # the user's own: moetui did not make its identity
    with pytest.raises(DeploymentError) as stopped:
        await run_on_azure(
            azure_config(tmp_path), 2, compute="gpu-nodes", out=io.StringIO(), err=io.StringIO(), poll_s=0.01
        )
    message = stopped.value.message
    assert "Nothing was submitted" in message and "10 minutes" in message
    assert (
        f"az role assignment create --assignee-object-id {PRINCIPAL} --assignee-principal-type ServicePrincipal "
        f'--role "AzureML Data Scientist" --scope {WS_PATH}' in message
    )
    (listed,) = arm.sent("GET", r"/providers/Microsoft.Authorization/roleAssignments$")
    assert listed.query["$filter"] == [f"assignedTo('{PRINCIPAL}')"]
    assert not arm.sent("PUT", r"/roleAssignments/") and not arm.sent("PUT", r"/jobs/")
    # With a role held (any, at or above the workspace) the job goes ahead.
    jobs.access.held = [{"id": f"{WS_PATH}/providers/Microsoft.Authorization/roleAssignments/r1", "name": "r1"}]
    jobs.states = ["Canceled"]
    status = await run_on_azure(
        azure_config(tmp_path), 2, compute="gpu-nodes", out=io.StringIO(), err=io.StringIO(), poll_s=0.01
    )
    assert status == ExitStatus.INTERRUPTED and len(arm.sent("PUT", r"/jobs/")) == 1


async def test_a_user_who_may_not_assign_the_role_is_stopped_with_the_command(
    clients: AzureClients, arm: CannedTransport, storage: CannedTransport, jobs: FakeJobs, tmp_path: Path
) -> None:
    jobs.access.may_assign = False
    err = io.StringIO()
    with pytest.raises(DeploymentError, match="Nothing was submitted") as stopped:
        await run_on_azure(azure_config(tmp_path), 2, out=io.StringIO(), err=err, poll_s=0.01)
    assert f"--assignee-object-id {PRINCIPAL}" in stopped.value.message
    assert "you may not assign roles on the workspace" in err.getvalue()
    assert len(arm.sent("PUT", r"/roleAssignments/")) == 1 and not arm.sent("PUT", r"/jobs/")


async def test_a_cluster_without_identity_stops_before_submitting(
    clients: AzureClients, arm: CannedTransport, storage: CannedTransport, jobs: FakeJobs, tmp_path: Path
) -> None:
    jobs.computes["bare"] = compute_json("bare", identity=None)
    with pytest.raises(DeploymentError, match="has no managed identity") as stopped:
        await run_on_azure(azure_config(tmp_path), 2, compute="bare", out=io.StringIO(), err=io.StringIO())
    assert "az ml compute update --name bare --identity-type system_assigned" in stopped.value.message
    assert not arm.sent("PUT", r"/jobs/")


async def test_a_paused_job_is_over(
    clients: AzureClients, arm: CannedTransport, storage: CannedTransport, jobs: FakeJobs, tmp_path: Path
) -> None:
    jobs.states = ["Queued", "Paused"]  # Paused never resumes by itself: waiting on would never end

    def nothing(_ml: Any, _name: str, into: Path) -> None:
        (into / "named-outputs" / "report").mkdir(parents=True)

    with pytest.raises(NodeError, match="ended Paused"):
        await asyncio.wait_for(
            run_on_azure(
                azure_config(tmp_path),
                2,
                out=io.StringIO(),
                err=io.StringIO(),
                poll_s=0.01,
                download=nothing,
                logs=lambda _ml, _name: "",
            ),
            timeout=60,
        )


async def test_a_job_queued_beyond_the_bound_says_the_quota_and_is_cancelled_on_request(
    clients: AzureClients, arm: CannedTransport, storage: CannedTransport, jobs: FakeJobs, tmp_path: Path
) -> None:
    jobs.states = ["Queued"]  # no node is ever allocated
    jobs.access.usage = {"current": 20, "limit": 24}  # 4 cores free; 2 x Standard_DS4_v2 need 16
    config = azure_config(tmp_path)
    config.write_text(config.read_text() + '\n[job]\nqueued_limit = "0.2s"\ncancel_queued = true\n')
    err = io.StringIO()
    with pytest.raises(JobQueuedError) as queued:
        await asyncio.wait_for(run_on_azure(config, 2, out=io.StringIO(), err=err, poll_s=0.05), timeout=60)
    reason = "2 x Standard_DS4_v2 need 16 cores of standardDSv2Family; the quota is 24, 20 in use, 4 available (short)"
    assert reason in queued.value.message and reason in err.getvalue()
    assert "stayed Queued beyond [job] queued_limit" in queued.value.message
    assert len(arm.sent("POST", r"/jobs/[^/]+/cancel$")) == 1
    assert len(arm.sent("GET", r"/usages$")) == 1  # read once, when the bound was passed


async def test_without_cancel_a_queued_job_is_reported_and_waited_for(
    clients: AzureClients, arm: CannedTransport, storage: CannedTransport, jobs: FakeJobs, tmp_path: Path
) -> None:
    jobs.states = ["Queued", "Queued", "Queued", "Queued", "Queued", "Queued", "Canceled"]
    config = azure_config(tmp_path)
    config.write_text(config.read_text() + '\n[job]\nqueued_limit = "0.05s"\n')
    err = io.StringIO()
    status = await asyncio.wait_for(run_on_azure(config, 2, out=io.StringIO(), err=err, poll_s=0.05), timeout=60)
    assert status == ExitStatus.INTERRUPTED  # it ended Canceled on Azure's side, not by moetui
    said = err.getvalue()
    assert said.count("is still Queued after") == 1 and "(short)" not in said
    assert "the quota is 24, 0 in use, 24 available (enough" in said and "Ctrl-C" in said
    assert not arm.sent("POST", r"/jobs/[^/]+/cancel$")


NODE_CLIENT_ID = "7d1c0b6e-0000-4000-8000-00000000c1d0"


@pytest.fixture
def on_a_node(server: FastServer, monkeypatch: pytest.MonkeyPatch) -> FastServer:
    """The environment Azure ML gives a compute cluster's node: its MSI endpoint (here the test server's
    /msi on 127.0.0.1), the secret, and the cluster identity's client id; nothing else that signs in."""
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", ARM_TOKEN_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MSI_ENDPOINT", server.url("/msi"))
    monkeypatch.setenv("MSI_SECRET", MSI_SECRET)
    monkeypatch.setenv(NODE_IDENTITY_ENV, NODE_CLIENT_ID)
    return server


def test_a_node_signs_in_as_the_clusters_identity_by_its_client_id(on_a_node: FastServer) -> None:
    credential = AzureClients().default_credential()
    assert credential.get_token(ARM_SCOPE).token == f"node-token-for-{NODE_CLIENT_ID}"
    # What azure-identity sends by itself (no client id) gets no token from such a node: the bug fixed.
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ManagedIdentityCredential

    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential().get_token(ARM_SCOPE)


def test_a_refused_node_identity_is_named_with_its_role_never_az_login(
    on_a_node: FastServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NODE_IDENTITY_ENV, "refused-0000")
    with pytest.raises(DeploymentError) as refused:
        sign_in(AzureClients())
    message = refused.value.message
    assert "managed identity (client id refused-0000)" in message and "'AzureML Data Scientist'" in message
    assert "az login" not in message
    # An ARM refusal on a node (the key read without the role) is named the same way.
    from azure.core.exceptions import HttpResponseError

    denied = HttpResponseError(message="(AuthorizationFailed) no listKeys")
    denied.status_code = 403
    explained = explain(denied, "reading the key of endpoint ep")
    assert "client id refused-0000" in explained.message and "az login" not in explained.message


@pytest.mark.parametrize("bodies", ["prompts_file", "payload_file"])
def test_the_jobs_code_carries_every_file_its_configuration_names(
    bodies: str, server: FastServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prompts file by ~/, an absolute payload: copied into the code, the copy pointed at them; the code
    snapshot, moved elsewhere with the originals gone, runs as a node runs it (exit 0, every request sent)."""
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    monkeypatch.setenv("HOME", str(home))
    if bodies == "prompts_file":
        named = home / "prompts.jsonl"
        named.write_text('{"prompt": "one"}\n{"messages": [{"role": "user", "content": "two"}]}\n')
        url, table = (
            server.url("/v1/chat/completions?ttft_ms=1&gap_ms=1"),
            '\n[workload]\nprompts_file = "~/prompts.jsonl"\n',
        )
        load = 'api = "chat"\n'
    else:
        named = tmp_path / "elsewhere" / "bodies.txt"
        named.parent.mkdir()
        named.write_text('{"x": 1}\n{"x": 2}\n')
        url, table, load = server.url("/sleep?ms=1"), "", f'payload_file = "{named}"\n'
    config = project / "job.toml"
    config.write_text(
        f'[target.url]\nurl = "{url}"\n\n[load]\nmode = "closed"\nconnections = 2\nrequests = 10\n{load}'
        f'duration = "20s"\n{table}\n[output]\njunit = "~/out/junit.xml"\n'
    )
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    in_code = code_folder(config, judging_config(config, ["load.requests=12"], None), snapshot)
    assert in_code == "run/job.toml"
    copied = tomllib.loads((snapshot / in_code).read_text())
    section = copied["workload"] if bodies == "prompts_file" else copied["load"]
    assert section[bodies] == f"files/{sorted(p.name for p in (snapshot / 'run' / 'files').iterdir())[0]}"
    assert copied["load"]["requests"] == 12  # the overrides are in the copy
    # The node's view: the snapshot somewhere else, nothing of the user's machine left.
    node = tmp_path / "node" / "code"
    shutil.move(snapshot, node)
    named.unlink()
    shutil.rmtree(project)
    ran = subprocess.run(
        [sys.executable, "-m", "moetui", "--run", in_code, "--node-output", str(tmp_path / "outputs")],
        cwd=node,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RANK", "WORLD_SIZE")},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    report = json.loads((tmp_path / "outputs" / "node-0.json").read_text())
    assert report["requests"]["sent"] == 12 == server.counts()["requests"]
    assert not (home / "out").exists()  # [output] is the launcher's: a node writes none of it


async def test_a_named_file_that_is_missing_stops_before_anything_is_sent(
    clients: AzureClients, arm: CannedTransport, tmp_path: Path
) -> None:
    config = azure_config(tmp_path)
    config.write_text(config.read_text().replace("[load]\n", '[load]\npayload_file = "gone.txt"\n'))
    with pytest.raises(ConfigError, match=r"load\.payload_file: .*gone\.txt is not a file"):
        await run_on_azure(config, 2, out=io.StringIO(), err=io.StringIO())
    assert arm.requests == []  # no cluster, role, environment or job made for a run that could not start


async def test_a_local_endpoint_target_is_refused_before_anything_is_sent(
    clients: AzureClients, arm: CannedTransport, tmp_path: Path
) -> None:
    """A [target.local]'s deployment file and scorer would not travel with the job, and each node would load
    an endpoint of its own: refused, naming what to do instead."""
    config = tmp_path / "local.toml"
    config.write_text('[target.local]\nsleep = 0.1\n\n[load]\nmode = "burst"\nrequests = 3\n')
    with pytest.raises(ConfigError, match=r"\[target\.local\].*--local-nodes N.*--deploy"):
        await run_on_azure(config, 2, workspace=f"{SUB}/{RG}/{WS}", out=io.StringIO(), err=io.StringIO())
    assert arm.requests == []
