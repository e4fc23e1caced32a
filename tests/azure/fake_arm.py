"""A stateful fake of one Azure ML workspace's ARM API on a CannedTransport, answering as Azure does.

Online endpoints and deployments are created by PUT (201 + `Azure-AsyncOperation`, polled InProgress a
few times, then Succeeded or Failed), read by GET, deleted by DELETE (202 + operation); keys, tokens and
logs by POST; the code upload (hash lookup, startPendingUpload, the blob PUTs on a second transport for the
storage account, the code version PUT) and the anonymous environment PUT are answered too. JSON is shaped
like the service's (camelCase properties, ISO durations, ARM ids, `systemData`).
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from tests.fixtures.azure_transport import ARM, CannedTransport, Recorded, Reply, error_body

SUB = "00000000-0000-4000-8000-00000000beef"
RG = "rg-moe"
WS = "ws-moe"
LOCATION = "westeurope"
PROVIDER = "Microsoft.MachineLearningServices"
WS_PATH = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/{PROVIDER}/workspaces/{WS}"
OPERATIONS = f"/subscriptions/{SUB}/providers/{PROVIDER}/locations/{LOCATION}/mfeOperationsStatus"
STORAGE_HOST = "stmoe.blob.core.windows.net"
UPLOAD_CONTAINER = "7ab1c2d3-upload"
KEY = "fake-primary-key-0123456789abcdef"
SYSTEM_DATA = {
    "createdAt": "2026-03-02T09:58:01.1234567Z",
    "createdBy": "ada@contoso.example",
    "createdByType": "User",
    "lastModifiedAt": "2026-03-02T09:58:01.1234567Z",
}
#: The service's own message for an endpoint name taken elsewhere in the region (a 400).
NAME_TAKEN_MESSAGE = (
    "There is already an endpoint with this name, Endpoint name needs to be unique within a region. "
    "Try some other name."
)
#: Azure's header that tells a poller when to look again: 10 ms here, so tests poll fast.
FAST_RETRY = {"Retry-After-Ms": "10"}


def workspace_json(name: str = WS, resource_group: str = RG) -> dict[str, Any]:
    path = f"/subscriptions/{SUB}/resourceGroups/{resource_group}/providers/{PROVIDER}/workspaces/{name}"
    return {
        "id": path,
        "name": name,
        "type": f"{PROVIDER}/workspaces",
        "location": LOCATION,
        "identity": {"type": "SystemAssigned", "principalId": "p", "tenantId": "t"},
        "sku": {"name": "Basic", "tier": "Basic"},
        "kind": "Default",
        "properties": {
            "friendlyName": name,
            "workspaceId": "4f1e8a0e-0000-4000-8000-000000000001",
            "storageAccount": f"/subscriptions/{SUB}/resourceGroups/{resource_group}/providers/"
            "Microsoft.Storage/storageAccounts/stmoe",
            "discoveryUrl": f"https://{LOCATION}.api.azureml.ms/discovery",
            "mlFlowTrackingUri": f"azureml://{LOCATION}.api.azureml.ms/mlflow/v1.0{path}",
            "provisioningState": "Succeeded",
            "publicNetworkAccess": "Enabled",
        },
        "systemData": SYSTEM_DATA,
    }


def endpoint_json(name: str, auth_mode: str = "Key", traffic: dict[str, int] | None = None, **extra: Any) -> dict:
    host = f"{name}.{LOCATION}.inference.ml.azure.com"
    return {
        "id": f"{WS_PATH}/onlineEndpoints/{name}",
        "name": name,
        "type": f"{PROVIDER}/workspaces/onlineEndpoints",
        "location": LOCATION,
        "kind": "Managed",
        "identity": {"type": "SystemAssigned", "principalId": "p", "tenantId": "t"},
        "tags": {},
        "properties": {
            "authMode": auth_mode,
            "description": "Sleep scorer for moetui's concurrency test and load profiles.",
            "scoringUri": f"https://{host}/score",
            "swaggerUri": f"https://{host}/swagger.json",
            "provisioningState": "Succeeded",
            "publicNetworkAccess": "Enabled",
            "traffic": dict(traffic or {}),
            "mirrorTraffic": {},
            "properties": {"azureml.onlineendpointid": f"{WS_PATH}/onlineEndpoints/{name}".lower()},
            **extra,
        },
        "systemData": SYSTEM_DATA,
    }


def deployment_json(
    endpoint: str,
    name: str = "blue",
    *,
    state: str = "Succeeded",
    max_concurrent: int = 3,
    request_timeout: str = "PT1M",
    env: dict[str, str] | None = None,
    instance_type: str = "Standard_DS3_v2",
    instance_count: int = 1,
) -> dict[str, Any]:
    return {
        "id": f"{WS_PATH}/onlineEndpoints/{endpoint}/deployments/{name}",
        "name": name,
        "type": f"{PROVIDER}/workspaces/onlineEndpoints/deployments",
        "location": LOCATION,
        "kind": "Managed",
        "sku": {"name": "Default", "tier": "Standard", "capacity": instance_count},
        "tags": {},
        "properties": {
            "endpointComputeType": "Managed",
            "provisioningState": state,
            "instanceType": instance_type,
            "codeConfiguration": {"codeId": f"{WS_PATH}/codes/abc/versions/1", "scoringScript": "score.py"},
            "environmentId": f"{WS_PATH}/environments/CliV2AnonymousEnvironment/versions/1",
            "environmentVariables": dict(env if env is not None else {"WORKER_COUNT": "3", "SLEEP_SECONDS": "15"}),
            "requestSettings": {
                "maxConcurrentRequestsPerInstance": max_concurrent,
                "requestTimeout": request_timeout,
                "maxQueueWait": "PT0.5S",
            },
            "scaleSettings": {"scaleType": "Default"},
            "livenessProbe": {"initialDelay": "PT10S", "period": "PT10S", "timeout": "PT2S"},
            "appInsightsEnabled": False,
            "egressPublicNetworkAccess": "Enabled",
        },
        "systemData": SYSTEM_DATA,
    }


class FakeWorkspace:
    """One workspace's online endpoints on `transport` (ARM) and `storage` (the upload's blob account).

    Args:
        polls: InProgress answers before each operation's final status.
        fail_deployments: Deployment creations end Failed with this message (the logs say why).
    """

    def __init__(
        self,
        transport: CannedTransport,
        storage: CannedTransport | None = None,
        *,
        polls: int = 2,
        fail_deployments: str | None = None,
        auth_mode: str = "Key",
        scoring_uri: str | None = None,
    ) -> None:
        self.transport = transport
        self.storage = storage
        self.polls = polls
        self.fail_deployments = fail_deployments
        self.fail_only: set[str] = set()
        """With fail_deployments: only deployments of these names fail (all when empty)."""
        self.auth_mode = auth_mode
        self.scoring_uri = scoring_uri
        """Overrides each endpoint's scoringUri (tests send load to a local server)."""
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.operations: dict[str, list[dict[str, Any]]] = {}
        self.logs = (
            "2026-03-02T10:01:02Z Starting AzureML Inference Server HTTP.\n"
            "2026-03-02T10:01:03Z Worker with pid 42 booting\n"
            "2026-03-02T10:01:04Z ModuleNotFoundError: No module named 'numpy'\n"
        )
        self.storage_logs = ""
        """The storage-initializer container's log (it downloads the model and code before the server starts)."""
        self._ids = itertools.count(1)
        self._routes()

    def token_body(self) -> dict[str, Any]:
        """An aml_token answer: an hour to live, a new one asked for after 50 minutes (Unix seconds)."""
        now = int(time.time())
        return {
            "accessToken": "fake-aml-token-0123456789",
            "tokenType": "Bearer",
            "expiryTimeUtc": now + 3600,
            "refreshAfterTimeUtc": now + 3000,
        }

    # -- helpers --------------------------------------------------------------------------------------

    def add_endpoint(self, name: str, deployments: dict[str, dict[str, Any]] | None = None, **kwargs: Any) -> None:
        """An endpoint that exists already, with deployments (name -> deployment_json keyword arguments)."""
        deployments = deployments or {}
        traffic = kwargs.pop("traffic", {next(iter(deployments)): 100} if deployments else {})
        self.endpoints[name] = endpoint_json(name, kwargs.pop("auth_mode", self.auth_mode), traffic, **kwargs)
        self._point(name)
        for dep, settings in deployments.items():
            self.deployments[(name, dep)] = deployment_json(name, dep, **settings)

    def _point(self, name: str) -> None:
        if self.scoring_uri:
            self.endpoints[name]["properties"]["scoringUri"] = self.scoring_uri

    def _operation(self, final: dict[str, Any], then: Any = None) -> dict[str, str]:
        op = f"op-{next(self._ids):04d}"
        statuses = [{"status": "InProgress"}] * self.polls + [final]
        self.operations[op] = [
            {"id": f"{OPERATIONS}/{op}", "name": op, "startTime": SYSTEM_DATA["createdAt"], **s} for s in statuses
        ]
        self._on_done[op] = then
        return {
            "Azure-AsyncOperation": f"{ARM}{OPERATIONS}/{op}?api-version=2023-04-01-preview",
            **FAST_RETRY,
        }

    # -- routes ---------------------------------------------------------------------------------------

    def _routes(self) -> None:
        t = self.transport
        self._on_done: dict[str, Any] = {}
        ep = rf"^{WS_PATH}/onlineEndpoints/(?P<ep>[^/]+)"
        t.add("GET", rf"^{WS_PATH}$", json=workspace_json())
        t.add(
            "GET",
            rf"^/subscriptions/{SUB}/resourceGroups/{RG}/providers/{PROVIDER}/workspaces$",
            json={"value": [workspace_json(), workspace_json("ws-other")]},
        )
        t.add(
            "GET",
            rf"^{WS_PATH}/onlineEndpoints$",
            answer=lambda r, m: Reply(json={"value": list(self.endpoints.values())}),
        )
        t.add("GET", rf"{ep}$", answer=self._get_endpoint)
        t.add("PUT", rf"{ep}$", answer=self._put_endpoint)
        t.add("DELETE", rf"{ep}$", answer=self._delete_endpoint)
        t.add("POST", rf"{ep}/listKeys$", json={"primaryKey": KEY, "secondaryKey": "fake-secondary-key-fedcba"})
        t.add("POST", rf"{ep}/token$", answer=lambda r, m: Reply(json=self.token_body()))
        t.add("GET", rf"{ep}/deployments$", answer=self._list_deployments)
        t.add("GET", rf"{ep}/deployments/(?P<dep>[^/]+)$", answer=self._get_deployment)
        t.add("PUT", rf"{ep}/deployments/(?P<dep>[^/]+)$", answer=self._put_deployment)
        t.add("DELETE", rf"{ep}/deployments/(?P<dep>[^/]+)$", answer=self._delete_deployment)
        t.add("POST", rf"{ep}/deployments/(?P<dep>[^/]+)/getLogs$", answer=self._logs)
        t.add("GET", rf"^{OPERATIONS}/(?P<op>[^/]+)$", answer=self._poll)
        # The code upload: no asset has scoring_app/'s hash yet, so a temporary blob reference is asked for.
        t.add("GET", rf"^{WS_PATH}/codes/[^/]+/versions$", json={"value": []})
        t.add(
            "POST",
            rf"^{WS_PATH}/codes/[^/]+/versions/[^/]+/startPendingUpload$",
            json={
                "blobReferenceForConsumption": {
                    "blobUri": f"https://{STORAGE_HOST}:443/{UPLOAD_CONTAINER}",
                    "storageAccountArmId": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/"
                    "Microsoft.Storage/storageAccounts/stmoe",
                    "credential": {
                        "credentialType": "SAS",
                        "sasUri": f"https://{STORAGE_HOST}/{UPLOAD_CONTAINER}?sv=2021-10-04&sr=c&sig=fake",
                    },
                },
                "pendingUploadId": None,
                "pendingUploadType": "None",
            },
        )
        t.add("PUT", rf"^{WS_PATH}/codes/[^/]+/versions/[^/]+$", answer=self._echo_asset)
        t.add("PUT", rf"^{WS_PATH}/environments/[^/]+/versions/[^/]+$", answer=self._echo_asset)
        if self.storage is not None:
            blob = {
                "ETag": '"0x8DC3A1B2C3D4E5F"',
                "Last-Modified": "Mon, 02 Mar 2026 09:58:01 GMT",
                "x-ms-request-server-encrypted": "true",
                "x-ms-version": "2025-01-05",
            }
            self.storage.add("HEAD", rf"^/{UPLOAD_CONTAINER}/", 404, headers={"x-ms-error-code": "BlobNotFound"})
            self.storage.add("PUT", rf"^/{UPLOAD_CONTAINER}/", 201, headers=blob)
            self.storage.add("PUT", rf"^/{UPLOAD_CONTAINER}/", 200, headers=blob, query={"comp": "metadata"})

    def _not_found(self, what: str) -> Reply:
        return Reply(404, json=error_body("UserError", f"{what} not found."))

    def _get_endpoint(self, request: Recorded, match: re.Match[str]) -> Reply:
        found = self.endpoints.get(match["ep"])
        return Reply(json=found) if found else self._not_found(f"Online endpoint {match['ep']}")

    def _put_endpoint(self, request: Recorded, match: re.Match[str]) -> Reply:
        name = match["ep"]
        props = request.body["properties"]
        body = endpoint_json(name, props.get("authMode", "Key"), props.get("traffic") or {})
        body["properties"]["provisioningState"] = "Creating" if name not in self.endpoints else "Updating"
        self.endpoints[name] = body
        self._point(name)

        def done() -> None:
            self.endpoints[name]["properties"]["provisioningState"] = "Succeeded"

        headers = self._operation({"status": "Succeeded", "endTime": "2026-03-02T10:00:00Z"}, done)
        return Reply(201, json=body, headers=headers)

    def _delete_endpoint(self, request: Recorded, match: re.Match[str]) -> Reply:
        name = match["ep"]
        if name not in self.endpoints:
            return Reply(204)
        self.endpoints[name]["properties"]["provisioningState"] = "Deleting"

        def done() -> None:
            self.endpoints.pop(name, None)
            for key in [k for k in self.deployments if k[0] == name]:
                del self.deployments[key]

        headers = self._operation({"status": "Succeeded"}, done)
        return Reply(202, headers={**headers, "Location": headers["Azure-AsyncOperation"]})

    def _delete_deployment(self, request: Recorded, match: re.Match[str]) -> Reply:
        key = (match["ep"], match["dep"])
        if key not in self.deployments:
            return Reply(204)
        self.deployments[key]["properties"]["provisioningState"] = "Deleting"

        def done() -> None:
            self.deployments.pop(key, None)

        headers = self._operation({"status": "Succeeded"}, done)
        return Reply(202, headers={**headers, "Location": headers["Azure-AsyncOperation"]})

    def _list_deployments(self, request: Recorded, match: re.Match[str]) -> Reply:
        found = [d for (ep, _), d in self.deployments.items() if ep == match["ep"]]
        return Reply(json={"value": found})

    def _get_deployment(self, request: Recorded, match: re.Match[str]) -> Reply:
        found = self.deployments.get((match["ep"], match["dep"]))
        return Reply(json=found) if found else self._not_found(f"Deployment {match['dep']}")

    def _put_deployment(self, request: Recorded, match: re.Match[str]) -> Reply:
        key = (match["ep"], match["dep"])
        # The service answers with what was sent plus its own defaults (scaleSettings, probes) and ids.
        base = deployment_json(match["ep"], match["dep"])
        body = {**base, **request.body, "id": base["id"], "name": match["dep"], "systemData": SYSTEM_DATA}
        body["properties"] = {**base["properties"], **request.body["properties"], "provisioningState": "Creating"}
        self.deployments[key] = body
        if self.fail_deployments and (not self.fail_only or match["dep"] in self.fail_only):
            final = {"status": "Failed", "error": {"code": "DeploymentFailed", "message": self.fail_deployments}}

            def failed() -> None:
                self.deployments[key]["properties"]["provisioningState"] = "Failed"

            return Reply(201, json=body, headers=self._operation(final, failed))

        def done() -> None:
            self.deployments[key]["properties"]["provisioningState"] = "Succeeded"

        return Reply(201, json=body, headers=self._operation({"status": "Succeeded"}, done))

    def _logs(self, request: Recorded, match: re.Match[str]) -> Reply:
        # azure-ai-ml sends containerType "StorageInitializer" for container_type="storage-initializer".
        container = str((request.body or {}).get("containerType") or "InferenceServer")
        return Reply(json={"content": self.storage_logs if container == "StorageInitializer" else self.logs})

    def _poll(self, request: Recorded, match: re.Match[str]) -> Reply:
        statuses = self.operations[match["op"]]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        if status["status"] != "InProgress" and (then := self._on_done.pop(match["op"], None)):
            then()
        return Reply(json=status, headers=FAST_RETRY)

    def _echo_asset(self, request: Recorded, match: re.Match[str]) -> Reply:
        return Reply(
            201,
            json={
                "id": request.path,
                "name": request.path.rsplit("/", 1)[1],
                "type": "versions",
                **(request.body or {}),
                "systemData": SYSTEM_DATA,
            },
        )


def compute_json(name: str, *, max_nodes: int = 4, vm_size: str = "Standard_DS4_v2", location: str = LOCATION) -> dict:
    return {
        "id": f"{WS_PATH}/computes/{name}",
        "name": name,
        "type": f"{PROVIDER}/workspaces/computes",
        "location": location,
        "identity": {"type": "SystemAssigned", "principalId": "11111111-2222-4333-8444-555555555555", "tenantId": "t"},
        "properties": {
            "computeType": "AmlCompute",
            "computeLocation": location,
            "provisioningState": "Succeeded",
            "properties": {
                "vmSize": vm_size,
                "vmPriority": "Dedicated",
                "scaleSettings": {
                    "minNodeCount": 0,
                    "maxNodeCount": max_nodes,
                    "nodeIdleTimeBeforeScaleDown": "PT600S",
                },
                "currentNodeCount": 0,
                "targetNodeCount": 0,
            },
        },
        "systemData": SYSTEM_DATA,
    }


class FakeJobs:
    """Compute clusters, environments and command jobs of the FakeWorkspace's workspace: a compute or an
    environment is missing until PUT; a job's GETs walk through `states` (the last repeats)."""

    def __init__(self, workspace: FakeWorkspace, states: tuple[str, ...] = ("Queued", "Running", "Completed")) -> None:
        self.workspace = workspace
        self.states = list(states)
        self.computes: dict[str, dict[str, Any]] = {}
        self.environments: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.cancelled: list[str] = []
        t = workspace.transport
        t.add("GET", rf"^{WS_PATH}/computes/(?P<name>[^/]+)$", answer=self._get_compute)
        t.add("PUT", rf"^{WS_PATH}/computes/(?P<name>[^/]+)$", answer=self._put_compute)
        t.add("GET", rf"^{WS_PATH}/environments/(?P<name>[^/]+)/versions/(?P<v>[^/]+)$", answer=self._get_env)
        t.add("PUT", rf"^{WS_PATH}/environments/(?P<name>[^/]+)/versions/(?P<v>[^/]+)$", answer=self._put_env)
        t.add("PUT", rf"^{WS_PATH}/jobs/(?P<name>[^/]+)$", answer=self._put_job)
        t.add("GET", rf"^{WS_PATH}/jobs/(?P<name>[^/]+)$", answer=self._get_job)
        t.add("POST", rf"^{WS_PATH}/jobs/(?P<name>[^/]+)/cancel$", answer=self._cancel)

    def _get_compute(self, request: Recorded, match: re.Match[str]) -> Reply:
        found = self.computes.get(match["name"])
        return Reply(json=found) if found else self.workspace._not_found(f"Compute {match['name']}")

    def _put_compute(self, request: Recorded, match: re.Match[str]) -> Reply:
        name = match["name"]
        scale = request.body["properties"]["properties"]["scaleSettings"]
        body = compute_json(
            name, max_nodes=scale["maxNodeCount"], vm_size=request.body["properties"]["properties"]["vmSize"]
        )
        self.computes[name] = body
        headers = self.workspace._operation({"status": "Succeeded"})
        return Reply(201, json=body, headers=headers)

    def _get_env(self, request: Recorded, match: re.Match[str]) -> Reply:
        found = self.environments.get(match["name"])
        return Reply(json=found) if found else self.workspace._not_found(f"Environment {match['name']}")

    def _put_env(self, request: Recorded, match: re.Match[str]) -> Reply:
        body = {
            "id": request.path,
            "name": match["v"],
            "type": "versions",
            **(request.body or {}),
            "systemData": SYSTEM_DATA,
        }
        self.environments[match["name"]] = body
        return Reply(201, json=body)

    def _job(self, name: str) -> dict[str, Any]:
        job = self.jobs[name]
        return {**job, "properties": {**job["properties"], "status": job["status_now"]}}

    def _put_job(self, request: Recorded, match: re.Match[str]) -> Reply:
        name = match["name"]
        self.jobs[name] = {
            "id": request.path,
            "name": name,
            "type": f"{PROVIDER}/workspaces/jobs",
            "properties": {**request.body["properties"], "services": {}},
            "systemData": SYSTEM_DATA,
            "status_now": "NotStarted",
            "walk": list(self.states),
        }
        return Reply(201, json={k: v for k, v in self._job(name).items() if k not in ("status_now", "walk")})

    def _get_job(self, request: Recorded, match: re.Match[str]) -> Reply:
        job = self.jobs.get(match["name"])
        if job is None:
            return self.workspace._not_found(f"Job {match['name']}")
        if match["name"] not in self.cancelled:
            job["status_now"] = job["walk"].pop(0) if len(job["walk"]) > 1 else job["walk"][0]
        return Reply(json={k: v for k, v in self._job(match["name"]).items() if k not in ("status_now", "walk")})

    def _cancel(self, request: Recorded, match: re.Match[str]) -> Reply:
        self.cancelled.append(match["name"])
        self.jobs[match["name"]]["status_now"] = "Canceled"
        headers = self.workspace._operation({"status": "Succeeded"})
        return Reply(202, headers={**headers, "Location": headers["Azure-AsyncOperation"]})


# -- the matrix's checks (azmatrix): Azure ML vCPU usage, an endpoint busy with another operation ------------

USAGES = f"/subscriptions/{SUB}/providers/{PROVIDER}/locations/(?P<loc>[^/]+)/usages"


def usage_row(family: str, current: int, limit: int) -> dict[str, Any]:
    """A VM family's dedicated vCPUs, shaped like the published Usages - List example (2024-04-01)."""
    name = f"Standard {family} Family Cluster Dedicated vCPUs"
    return {
        "id": f"/subscriptions/{SUB}/usages/{name.replace(' ', '_')}",
        "type": f"{PROVIDER}/vmFamily/usages",
        "currentValue": current,
        "limit": limit,
        "name": {"value": name, "localizedValue": name},
        "unit": "Count",
    }


def total_row(current: int, limit: int) -> dict[str, Any]:
    """The region's total of dedicated vCPUs, as the published example gives it."""
    name = "Total Cluster Dedicated Regional vCPUs"
    return {
        "id": f"/subscriptions/{SUB}/usages",
        "type": f"{PROVIDER}/dedicatedCores/usages",
        "currentValue": current,
        "limit": limit,
        "name": {"value": name, "localizedValue": name},
        "unit": "Count",
    }


def serve_usages(transport: CannedTransport, rows: list[dict[str, Any]] | None = None) -> None:
    """Answer `ml.compute.list_usage()` for any region: by default DSv2 with 2 of 100 vCPUs in use."""
    found = rows if rows is not None else [total_row(2, 200), usage_row("DSv2", 2, 100), usage_row("FSv2", 0, 24)]
    transport.add("GET", rf"^{USAGES}$", json={"value": found})


def busy_endpoint(transport: CannedTransport, times: int) -> None:
    """The next `times` deployment PUTs are refused as Azure refuses them while the endpoint is being updated
    (409, "... because it is in Updating provisioning state"); later ones reach the FakeWorkspace again."""

    def refuse(request: Recorded, match: re.Match[str]) -> Reply:
        message = f"Cannot create a deployment in endpoint {match['ep']} because it is in Updating provisioning state."
        return Reply(409, json=error_body("UserError", message))

    transport.add("PUT", rf"^{WS_PATH}/onlineEndpoints/(?P<ep>[^/]+)/deployments/[^/]+$", answer=refuse, times=times)
