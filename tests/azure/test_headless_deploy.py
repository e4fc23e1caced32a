"""`moetui --run config.toml --deploy --delete-after`: the deployment is created through the real azure-ai-ml
on canned ARM answers, the load goes to a local server standing in for its scoring URI, and the endpoint
is deleted afterwards: after a good run, a run that could not reach its target, a deployment that failed,
and a Ctrl-C during deployment."""

from __future__ import annotations

import io
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from moetui.azure.clients import AzureClients
from moetui.deployments.base import DeploymentError
from moetui.errors import ExitStatus
from moetui.headless import run_config
from tests.azure.fake_arm import RG, SUB, WS, WS_PATH, FakeWorkspace
from tests.fixtures.azure_transport import CannedTransport, Recorded, Reply
from tests.http_server import FastServer

METRICS = r"/providers/Microsoft\.Insights/metrics$"


def write_config(tmp_path: Path, endpoint_line: str = "") -> Path:
    path = tmp_path / "azure.toml"
    path.write_text(
        f'[target.azure]\nsubscription_id = "{SUB}"\nresource_group = "{RG}"\nworkspace = "{WS}"\n{endpoint_line}'
        "max_concurrency = 2\nworkers = 2\nsleep = 0.1\ntimeout_ms = 30000\n\n"
        '[load]\nmode = "burst"\nrequests = 2\ntimeout = "5s"\n'
    )
    return path


@pytest.fixture
def deployed(
    clients: AzureClients, arm: CannedTransport, workspace: FakeWorkspace, server: FastServer
) -> FakeWorkspace:
    workspace.scoring_uri = server.url("/sleep?ms=300")  # 2 at once: about one sleep
    arm.add("GET", METRICS, json={"cost": 0, "interval": "PT1M", "value": []})  # the report's server metrics
    return workspace


def deleted(arm: CannedTransport) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in arm.sent("DELETE", r"/onlineEndpoints/[^/]+$")]


async def test_deploy_run_and_delete(deployed: FakeWorkspace, arm: CannedTransport, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = await run_config(write_config(tmp_path), deploy=True, delete_after=True, out=out, err=err)
    assert status == ExitStatus.OK, out.getvalue() + err.getvalue()
    created = arm.sent("PUT", r"/onlineEndpoints/[^/]+$")[0].path.rsplit("/", 1)[1]
    assert re.fullmatch(r"moetui-[a-z0-9]{8}", created)  # random: the file names no endpoint
    props = arm.sent("PUT", rf"/onlineEndpoints/{created}/deployments/blue$")[0].body["properties"]
    assert props["requestSettings"]["maxConcurrentRequestsPerInstance"] == 2
    assert props["requestSettings"]["requestTimeout"] == "PT30S"
    assert props["environmentVariables"] == {"WORKER_COUNT": "2", "SLEEP_SECONDS": "0.1"}
    # The run went to the created deployment, with its key and header, then the endpoint was deleted.
    assert arm.sent("POST", rf"/onlineEndpoints/{created}/listKeys$")
    assert deleted(arm) == [created] and created not in deployed.endpoints
    lines = err.getvalue()
    assert f"deploying scoring_app/ to endpoint {created}" in lines
    assert f"deleting endpoint {created} (--delete-after)" in lines
    assert "exit status 0" in out.getvalue()


async def test_delete_runs_when_the_run_fails(deployed: FakeWorkspace, arm: CannedTransport, tmp_path: Path) -> None:
    deployed.scoring_uri = "http://127.0.0.1:9/score"  # discard port: nothing listens
    path = write_config(tmp_path, 'endpoint = "moetui-fail0001"\ndeployment = "green"\n')
    status = await run_config(path, deploy=True, delete_after=True, out=io.StringIO(), err=io.StringIO())
    assert status == ExitStatus.UNREACHABLE
    assert arm.sent("PUT", r"/onlineEndpoints/moetui-fail0001/deployments/green$")
    assert deleted(arm) == ["moetui-fail0001"]


async def test_delete_runs_when_the_deployment_fails(
    deployed: FakeWorkspace, arm: CannedTransport, tmp_path: Path
) -> None:
    deployed.fail_deployments = "Container 'inference-server' failed to start: exit code 3."
    err = io.StringIO()
    with pytest.raises(DeploymentError, match="No module named 'numpy'"):
        await run_config(
            write_config(tmp_path, 'endpoint = "moetui-fail0002"\n'), deploy=True, delete_after=True, err=err
        )
    assert deleted(arm) == ["moetui-fail0002"]
    assert not arm.sent("POST", r"/listKeys$")  # no run


async def test_a_name_taken_here_is_never_deleted(
    deployed: FakeWorkspace, arm: CannedTransport, tmp_path: Path
) -> None:
    deployed.add_endpoint("someone-elses", {"blue": {}})
    path = write_config(tmp_path, 'endpoint = "someone-elses"\n')
    with pytest.raises(DeploymentError, match="already exists"):
        await run_config(path, deploy=True, delete_after=True, err=io.StringIO())
    assert deleted(arm) == [] and "someone-elses" in deployed.endpoints


async def test_ctrl_c_while_deploying_still_deletes(
    deployed: FakeWorkspace, arm: CannedTransport, tmp_path: Path
) -> None:
    def interrupt_then_create(request: Recorded, match: re.Match[str]) -> Reply:
        os.kill(os.getpid(), signal.SIGINT)  # as a user's Ctrl-C, while the deployment is being created
        return deployed._put_deployment(request, match)

    arm.add(
        "PUT", rf"^{WS_PATH}/onlineEndpoints/(?P<ep>[^/]+)/deployments/(?P<dep>[^/]+)$", answer=interrupt_then_create
    )
    deployed.polls = 50  # the deployment is still in progress when the signal lands
    err = io.StringIO()
    status = await run_config(
        write_config(tmp_path, 'endpoint = "moetui-intr0001"\n'), deploy=True, delete_after=True, err=err
    )
    assert status == ExitStatus.INTERRUPTED
    assert deleted(arm) == ["moetui-intr0001"]
    assert "interrupted before the load started" in err.getvalue()


async def test_the_flags_need_an_azure_target(tmp_path: Path) -> None:
    from moetui.errors import ConfigError

    path = tmp_path / "url.toml"
    path.write_text('[target.url]\nurl = "http://127.0.0.1:9/score"\n')
    with pytest.raises(ConfigError, match=r"go with a \[target.azure\]"):
        await run_config(path, deploy=True, err=io.StringIO())


def test_the_cli_passes_the_flags_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from moetui import cli

    seen: dict[str, Any] = {}

    async def fake_run_config(path: Path, **kwargs: Any) -> int:
        seen.update(kwargs, path=path)
        return 0

    monkeypatch.setattr("moetui.headless.run_config", fake_run_config)
    assert cli.main(["--run", str(tmp_path / "c.toml"), "--deploy", "--delete-after"]) == 0
    assert seen["deploy"] is True and seen["delete_after"] is True
    with pytest.raises(SystemExit):
        cli.main(["--deploy"])
