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
from moetui.errors import ConfigError, ExitStatus
from moetui.matrix import deploy
from moetui.matrix.config import read_matrix
from moetui.matrix.deploy import deployment_names
from moetui.matrix.printer import MatrixPrinter
from moetui.matrix.run import run_matrix
from tests.azure.fake_arm import RG, SUB, WS, FakeWorkspace, busy_endpoint, serve_usages, total_row, usage_row
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
    serve_usages(arm)  # DSv2: 2 of 100 vCPUs in use
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
    # Quota: ceil(1.2 x instances) x 4 vCPUs per deployment, the two largest at once (parallel 2), vs 100 - 2.
    assert "Quota in westeurope" in plan and "at most 2 deployment(s) at once" in plan
    assert "standardDSv2Family: needs 24 (n2-c1-w2 12, n2-c3-w2 12), available 98 (limit 100, 2 in use)" in plan
    assert "all families: needs 24, available 198 (limit 200, 2 in use)" in plan
    [usage] = arm.sent("GET", r"/locations/westeurope/usages$")
    assert arm.requests.index(usage) < arm.requests.index(arm.sent("PUT")[0])  # read before anything created

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


async def test_a_failed_deployment_is_that_cells_failure_and_the_rest_are_measured(
    azure: FakeWorkspace, arm: CannedTransport, server: FastServer, prices: CannedTransport, tmp_path: Path
) -> None:
    azure.fail_deployments = "Container 'inference-server' failed to start: exit code 3."
    azure.fail_only = {"n1-c3-w2"}
    status, out, err = await profile(matrix_file(tmp_path), tmp_path, prices)
    assert status == ExitStatus.OK, err
    assert "cell n1-c3-w2: deployment n1-c3-w2 of endpoint" in err and "failed to start" in err
    assert "cell n1-c3-w2 is recorded as failed; the other cells go on" in err
    # The other three cells were measured on their own deployments; the failed one got no load.
    assert server.deployments() == {"n1-c1-w2": 4, "n2-c1-w2": 4, "n2-c3-w2": 4}
    report = json.loads((tmp_path / "m.json").read_text())
    failed = next(c for c in report["cells"] if c["name"] == "n1-c3-w2")
    assert failed["meets_slo"] is False and failed["rate_rps"] == 0
    assert failed["measurements"][0]["failed"] and "its deployment failed" in failed["note"]
    assert report["recommendation"]["cell"] != "n1-c3-w2"
    assert "n1-c3-w2: its deployment failed" in out
    # Everything this run created went: the failed deployment too, and the endpoint at the end.
    created = [p.path.rsplit("/", 1)[1] for p in put_deployments(arm)]
    assert sorted(created) == sorted(deleted_deployments(arm)) and len(created) == 4
    [put] = arm.sent("PUT", r"/onlineEndpoints/[^/]+$")
    assert deleted_endpoints(arm) == [put.path.rsplit("/", 1)[1]]
    assert not azure.endpoints and not azure.deployments


async def test_a_busy_endpoint_is_waited_for(
    azure: FakeWorkspace,
    arm: CannedTransport,
    server: FastServer,
    prices: CannedTransport,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deploy, "BUSY_BACKOFF_S", (0.05, 0.05, 0.05))
    busy_endpoint(arm, times=2)  # the first two deployment PUTs: 409 "... in Updating provisioning state"
    path = matrix_file(tmp_path, matrix="max_concurrency = [1]\n")
    path.write_text(path.read_text().replace('region = "westeurope"\n', ""))  # the workspace's region, then
    status, _, err = await profile(path, tmp_path, prices)
    assert status == ExitStatus.OK, err
    assert "armRegionName eq 'westeurope'" in prices.requests[0].query["$filter"][0]
    assert err.count("endpoint is busy with another operation") == 0  # said with the endpoint's name
    assert err.count("is busy with another operation; deployment cell-c1 is tried again in 0.05 s") == 2
    # Refused twice, created by the third PUT of the same deployment, then measured.
    assert [p.path.rsplit("/", 1)[1] for p in put_deployments(arm)] == ["cell-c1"] * 3
    assert server.deployments() == {"cell-c1": 4}


@pytest.mark.parametrize(
    ("matrix", "says"),
    [
        ('instance_type = ["Standard_DS3_v2", "local-2cpu"]\n', "cell local-2cpu: instance_type 'local-2cpu' is "),
        ('instance_type = ["Standard_B2s"]\n', "cell Standard_B2s: instance_type 'Standard_B2s' is not on"),
        ("instance_count = [2, 60]\n", "cell n60: instance_count 60 is over Azure's limit of 50 instances"),
        ("max_concurrency = [1]\n", "cell c1: its load holds 600 connections; a managed online endpoint takes 500"),
    ],
)
async def test_a_matrix_azure_refuses_stops_before_any_request(
    azure: FakeWorkspace,
    arm: CannedTransport,
    prices: CannedTransport,
    tmp_path: Path,
    matrix: str,
    says: str,
) -> None:
    load = '[load]\nmode = "closed"\nconnections = 600\nduration = "5s"\n' if "connections" in says else ""
    with pytest.raises(ConfigError) as caught:
        await profile(matrix_file(tmp_path, matrix=matrix, load=load), tmp_path, prices)
    assert says in caught.value.message and str(tmp_path / "matrix.toml") in caught.value.message
    assert arm.requests == []  # nothing asked of Azure, nothing created


async def test_a_quota_shortfall_stops_before_the_endpoint_is_created(
    azure: FakeWorkspace, arm: CannedTransport, prices: CannedTransport, tmp_path: Path
) -> None:
    serve_usages(arm, [total_row(10, 200), usage_row("DSv2", 10, 24)])  # 14 left; two n2 cells need 24
    with pytest.raises(DeploymentError) as caught:
        await profile(matrix_file(tmp_path), tmp_path, prices)
    message = caught.value.message
    assert "Not enough quota" in message and "cell n2-c1-w2" in message
    assert "need 24 vCPUs of standardDSv2Family quota in westeurope" in message
    assert "14 available (limit 24, 10 in use)" in message and "nothing was created" in message
    assert not arm.sent("PUT") and not arm.sent("DELETE")


async def test_an_endpoint_holds_at_most_20_deployments(
    azure: FakeWorkspace, arm: CannedTransport, prices: CannedTransport, tmp_path: Path
) -> None:
    azure.add_endpoint("full-ep", {f"d{i:02d}": {} for i in range(19)})
    path = matrix_file(tmp_path, 'endpoint = "full-ep"', matrix="workers = [1, 2]\nkeep = true\n")
    with pytest.raises(ConfigError, match=r"endpoint full-ep would hold 21 deployments \(19 there already, 2 created"):
        await profile(path, tmp_path, prices)
    assert not arm.sent("PUT")


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
    assert "Warning: endpoint shared-ep carries traffic (blue 100 %)" in plans[0]
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


async def test_cells_deploy_the_users_deployment_yaml(
    azure: FakeWorkspace, arm: CannedTransport, server: FastServer, prices: CannedTransport, tmp_path: Path
) -> None:
    folder = tmp_path / "bert"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "score.py").write_text("def init():\n    pass\n\n\ndef run(raw):\n    return raw\n")
    (folder / "deployment.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json\n"
        "name: blue\nendpoint_name: bert-ep\nmodel: azureml:bert:3\n"
        "code_configuration:\n  code: ./src\n  scoring_script: score.py\n"
        "environment: azureml:bert-env:7\ninstance_type: Standard_F4s_v2\ninstance_count: 1\n"
    )
    # One request at a time: the run's concurrency check then never depends on the machine's speed.
    path = matrix_file(tmp_path, matrix='max_concurrency = [1]\ndeployment_file = "bert/deployment.yml"\n')
    status, out, err = await profile(path, tmp_path, prices)
    assert status == ExitStatus.OK, err
    [put] = put_deployments(arm)
    props = put.body["properties"]
    assert props["model"].endswith("/models/bert/versions/3")
    assert props["environmentId"].endswith("/environments/bert-env/versions/7")
    assert props["codeConfiguration"]["scoringScript"] == "score.py"
    assert props["instanceType"] == "Standard_DS3_v2"  # [target.azure]'s instance_type over the YAML's
    assert server.deployments() == {"cell-c1": 4}
    assert f"Cost per 1,000 inferences of: azureml:bert:3 ({folder / 'deployment.yml'})." in out
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["model"] == f"azureml:bert:3 ({folder / 'deployment.yml'})"


async def test_the_sleep_scorer_stays_the_default_and_a_bad_deployment_file_is_named(
    azure: FakeWorkspace, arm: CannedTransport, prices: CannedTransport, tmp_path: Path
) -> None:
    path = matrix_file(tmp_path, matrix='workers = [1]\ndeployment_file = "nowhere/deployment.yml"\n')
    with pytest.raises(ConfigError, match=r"matrix.toml: matrix.deployment_file: .*nowhere/deployment.yml: no such"):
        read_matrix(path)
    assert read_matrix(matrix_file(tmp_path, matrix="workers = [1]\n")).deployment_file is None
    assert arm.requests == []


async def test_an_endpoint_carrying_traffic_is_named_and_asked_about_before_it_is_probed(
    azure: FakeWorkspace, arm: CannedTransport, server: FastServer, prices: CannedTransport, tmp_path: Path
) -> None:
    azure.add_endpoint("prod-ep", {"blue": {}, "green": {}}, traffic={"blue": 90, "green": 10})
    path = matrix_file(tmp_path, 'endpoint = "prod-ep"', matrix='deployments = ["blue", "green"]\n')
    plans: list[str] = []
    status, _, err = await profile(path, tmp_path, prices, confirm=lambda plan: plans.append(plan) or False)
    assert status == ExitStatus.INTERRUPTED, err
    assert "Warning: endpoint prod-ep carries traffic (blue 90 %, green 10 %)" in plans[0]
    assert "500 requests/s and 500 connections" in plans[0]
    assert deploy.asks_consent(read_matrix(path), plans[0])  # `moetui profile` asks, or wants --yes
    assert server.deployments() == {} and not arm.sent("PUT")  # nothing probed, nothing created
