"""`moetui profile` on [target.azure]: one endpoint, a deployment per cell with 0 % of the traffic, created by
the real azure-ai-ml on canned ARM answers (tests/azure/fake_arm.py), the load sent to a local server standing
in for the scoring URI, which counts the requests per `azureml-model-deployment` header. Each deployment is
deleted once measured; a failed creation or a Ctrl-C deletes what the run created and nothing else; keep
leaves them; the plan (names, instances, time, cost from a canned Retail Prices answer) comes first."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from moetui.azure.clients import AzureClients
from moetui.deployments.base import DeploymentError
from moetui.errors import ExitStatus
from moetui.matrix.config import read_matrix
from moetui.matrix.deploy import deployment_names
from moetui.matrix.printer import MatrixPrinter
from moetui.matrix.run import run_matrix
from tests.azure.fake_arm import RG, SUB, WS, FakeWorkspace
from tests.fixtures.azure_transport import CannedTransport
from tests.http_server import FastServer

METRICS = r"/providers/Microsoft\.Insights/metrics$"
PRICE_ROWS = [
    {"armSkuName": "Standard_DS3_v2", "productName": "Virtual Machines DSv2 Series", "skuName": "DS3 v2",
     "retailPrice": 0.5, "unitOfMeasure": "1 Hour", "currencyCode": "USD"},
]  # fmt: skip


def matrix_file(tmp_path: Path, target_extra: str = "", matrix: str = "", load: str = "") -> Path:
    path = tmp_path / "matrix.toml"
    path.write_text(
        f'[target.azure]\nsubscription_id = "{SUB}"\nresource_group = "{RG}"\nworkspace = "{WS}"\n'
        f'instance_type = "Standard_DS3_v2"\nsleep = 0.05\ntimeout_ms = 30000\n{target_extra}\n'
        + (load or '[load]\nmode = "burst"\nrequests = 4\ntimeout = "5s"\n')
        + '\n[matrix]\nregion = "westeurope"\n'
        + (matrix or "instance_count = [1, 2]\nmax_concurrency = [1, 3]\nworkers = [2]\n")
    )
    return path


@pytest.fixture
def azure(clients: AzureClients, arm: CannedTransport, workspace: FakeWorkspace, server: FastServer) -> FakeWorkspace:
    workspace.scoring_uri = server.url("/sleep?ms=20")
    arm.add("GET", METRICS, json={"cost": 0, "interval": "PT1M", "value": []})  # each run's server metrics
    return workspace


@pytest.fixture
def prices() -> CannedTransport:
    transport = CannedTransport(host="prices.azure.com")
    transport.add("GET", r"^/api/retail/prices$", json={"Items": PRICE_ROWS, "NextPageLink": None})
    return transport


async def profile(path: Path, tmp_path: Path, prices: CannedTransport, **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        status = await run_matrix(
            read_matrix(path),
            report_path=tmp_path / "m.json",
            state_path=tmp_path / "m.state.json",
            listener=MatrixPrinter(out, err),
            price_transport=prices,
            price_cache=tmp_path / "prices.json",
            **kwargs,
        )
    except BaseException:
        print(err.getvalue())
        raise
    return status, out.getvalue(), err.getvalue()


def put_deployments(arm: CannedTransport) -> list[Any]:
    return arm.sent("PUT", r"/onlineEndpoints/[^/]+/deployments/[^/]+$")


def deleted_deployments(arm: CannedTransport) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in arm.sent("DELETE", r"/deployments/[^/]+$")]


def deleted_endpoints(arm: CannedTransport) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in arm.sent("DELETE", r"/onlineEndpoints/[^/]+$")]


async def test_a_deployment_per_cell_routed_by_header_and_deleted_once_measured(
    azure: FakeWorkspace, arm: CannedTransport, server: FastServer, prices: CannedTransport, tmp_path: Path
) -> None:
    plans: list[str] = []
    status, out, err = await profile(
        matrix_file(tmp_path), tmp_path, prices, confirm=lambda plan: plans.append(plan) or True
    )
    assert status == ExitStatus.OK, err
    names = ["n1-c1-w2", "n1-c3-w2", "n2-c1-w2", "n2-c3-w2"]
    # The plan, before anything was created: names, instances, time and cost (price from the canned API).
    plan = plans[0]
    for name in names:
        assert f"  {name} (cell {name}): Standard_DS3_v2 x {name[1]}" in plan
    assert "about 8 min per deployment" in plan and "at most 2 at a time" in plan
    assert "Cost: about" in plan and "0.5 USD/h (Azure Retail Prices API" in plan

    # One endpoint, created without traffic; a deployment per cell with the cell's settings.
    [endpoint_put] = arm.sent("PUT", r"/onlineEndpoints/[^/]+$")
    endpoint = endpoint_put.path.rsplit("/", 1)[1]
    assert not endpoint_put.body["properties"].get("traffic")
    puts = sorted(put_deployments(arm), key=lambda p: str(p.path))  # two at a time: either may go first
    assert [p.path.rsplit("/", 1)[1] for p in puts] == names
    for put, name in zip(puts, names, strict=True):
        props = put.body["properties"]
        assert put.body["sku"]["capacity"] == int(name[1])
        assert props["instanceType"] == "Standard_DS3_v2"
        assert props["requestSettings"]["maxConcurrentRequestsPerInstance"] == int(name[4])
        assert props["environmentVariables"]["WORKER_COUNT"] == "2"
    assert all(endpoint in p.path for p in puts)

    # Each cell's load reached its own deployment by header (4 burst requests each), none without one.
    assert server.deployments() == dict.fromkeys(names, 4)
    report = json.loads((tmp_path / "m.json").read_text())
    assert [c["measurements"][0]["deployment"] for c in report["cells"]] == names
    runs = [c["measurements"][0]["report"] for c in report["cells"]]
    for before, after in itertools.pairwise(runs):  # measurements never overlap
        end = datetime.fromisoformat(before["started_at"]).timestamp() + before["wall_s"]
        assert datetime.fromisoformat(after["started_at"]).timestamp() >= end - 0.01

    # Deleted once measured; at most `parallel` (2) exist at once: cell k+2 is created after cell k is deleted.
    assert sorted(deleted_deployments(arm)) == sorted(names)
    order = [(r.method, r.path.rsplit("/", 1)[1]) for r in arm.requests if "/deployments/" in r.path]
    for k in range(len(names) - 2):
        assert order.index(("DELETE", names[k])) < order.index(("PUT", names[k + 2])), order
    # The new endpoint goes at the end too: nothing keeps billing.
    assert deleted_endpoints(arm) == [endpoint] and not azure.endpoints and not azure.deployments
    assert "Recommendation:" in out


async def test_a_failed_deployment_deletes_what_the_run_created(
    azure: FakeWorkspace, arm: CannedTransport, prices: CannedTransport, tmp_path: Path
) -> None:
    azure.fail_deployments = "Container 'inference-server' failed to start: exit code 3."
    azure.fail_only = {"n1-c3-w2"}
    with pytest.raises(DeploymentError, match=r"cell n1-c3-w2: deployment n1-c3-w2 of endpoint") as caught:
        await profile(matrix_file(tmp_path), tmp_path, prices)
    assert "failed to start" in caught.value.message and caught.value.exit_status != 0
    created = [p.path.rsplit("/", 1)[1] for p in put_deployments(arm)]
    # Two at a time; the first cell's slot freed once it was measured, never one by a failure.
    assert set(created[:2]) == {"n1-c1-w2", "n1-c3-w2"} and "n2-c3-w2" not in created
    [put] = arm.sent("PUT", r"/onlineEndpoints/[^/]+$")
    # The run's own endpoint goes, with every deployment it created.
    assert deleted_endpoints(arm) == [put.path.rsplit("/", 1)[1]]
    assert not azure.endpoints and not azure.deployments
    state = json.loads((tmp_path / "m.state.json").read_text())
    assert list(state["measurements"]) == ["0/n1-c1-w2"]  # the first cell's measurement is kept to resume


async def test_ctrl_c_deletes_the_deployments_created_and_nothing_that_was_there(
    azure: FakeWorkspace, arm: CannedTransport, server: FastServer, prices: CannedTransport, tmp_path: Path
) -> None:
    azure.add_endpoint("shared-ep", {"blue": {}})  # an endpoint with its own deployment and traffic
    path = matrix_file(
        tmp_path,
        'endpoint = "shared-ep"',
        matrix="max_concurrency = [1, 3]\n",
        load='[load]\nmode = "closed"\nconnections = 2\nduration = "30s"\ntimeout = "5s"\n',
    )

    async def interrupt_during_the_first_measurement() -> None:
        for _ in range(600):
            if (await asyncio.to_thread(server.deployments)).get("cell-c1"):
                os.kill(os.getpid(), signal.SIGINT)
                return
            await asyncio.sleep(0.05)

    interrupter = asyncio.create_task(interrupt_during_the_first_measurement())
    plans: list[str] = []
    status, _, err = await asyncio.wait_for(
        profile(path, tmp_path, prices, confirm=lambda plan: plans.append(plan) or True), timeout=120
    )
    await interrupter
    assert server.deployments().get("cell-c3", 0) == 0  # stopped in cell 1: cell 2 never measured
    assert status == ExitStatus.INTERRUPTED, err
    assert "on endpoint shared-ep (kept)" in plans[0]
    # "c1" is too short for Azure (3 to 32 characters): the cells' deployments are cell-c1 and cell-c3.
    created = [p.path.rsplit("/", 1)[1] for p in put_deployments(arm)]
    assert "cell-c1" in created and set(created) <= {"cell-c1", "cell-c3"}
    assert sorted(deleted_deployments(arm)) == sorted(created)
    assert deleted_endpoints(arm) == [] and list(azure.endpoints) == ["shared-ep"]
    assert list(azure.deployments) == [("shared-ep", "blue")]
    assert azure.endpoints["shared-ep"]["properties"]["traffic"] == {"blue": 100}  # never touched


async def test_keep_leaves_them_and_a_no_creates_nothing(
    azure: FakeWorkspace, arm: CannedTransport, server: FastServer, prices: CannedTransport, tmp_path: Path
) -> None:
    path = matrix_file(tmp_path, matrix="workers = [1, 2]\nkeep = true\n")
    status, _, err = await profile(path, tmp_path, prices, confirm=lambda _plan: False)
    assert status == ExitStatus.INTERRUPTED and not put_deployments(arm)
    assert not arm.sent("PUT", r"/onlineEndpoints/[^/]+$")

    status, _, err = await profile(path, tmp_path, prices)
    assert status == ExitStatus.OK, err
    assert deleted_deployments(arm) == [] and deleted_endpoints(arm) == []
    assert sorted(dep for _, dep in azure.deployments) == ["cell-w1", "cell-w2"] and len(azure.endpoints) == 1
    assert "keep = true" in err and server.deployments() == {"cell-w1": 4, "cell-w2": 4}


def test_deployment_names_are_valid_short_and_never_taken() -> None:
    from moetui.deployments.names import name_problem
    from moetui.matrix.axes import Cell

    cells = [
        Cell("Standard_DS3_v2-n1-c3", {}),
        Cell("c3-w3", {}),
        Cell("3x", {}),
        Cell("x" * 40, {}),
        Cell("C3_W3", {}),
        Cell("--", {}),
    ]
    names = deployment_names(cells, taken=["blue", "C3-W3"])
    assert names == {
        "Standard_DS3_v2-n1-c3": "standard-ds3-v2-n1-c3",
        "c3-w3": "c3-w3-2",
        "3x": "cell-3x",
        "--": "m06",
        "x" * 40: "x" * 28,
        "C3_W3": "c3-w3-3",
    }
    assert all(name_problem(name, "deployment") is None for name in names.values())
