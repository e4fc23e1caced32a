"""A stateful fake of one Azure ML workspace's ARM API on a CannedTransport, answering as Azure does.

Online endpoints and deployments are created by PUT (201 + `Azure-AsyncOperation`, the operation polled
"Updating" a few times, then Succeeded or Failed), read by GET, deleted by DELETE (202 + operation); keys,
tokens and logs by POST; the code upload (hash lookup, startPendingUpload, the blob PUTs on a second
transport for the storage account, the code version PUT) and the anonymous environment PUT are answered too.

Where the Azure SDK's own recorded sessions hold the service's answer (tests/azure/recorded/), the body is
that recording with this workspace's names: the workspace, an endpoint, a deployment (its creation answered
`Updating` with zeroed request settings), the operation status, the aml_token, a compute cluster and its
operation, a command job's creation (`Starting`) and a code version. The rest (keys, logs, the upload's
blob reference, a failed operation, a job's later states) stays shaped by the REST API specification.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from moetui.azure.tokens import token_claims
from tests.azure.recorded import RECORDED_COMPUTE, RECORDED_ENDPOINT, RECORDED_JOB, recorded_body
from tests.fixtures.azure_transport import ARM, CannedTransport, Recorded, Reply, error_body, fake_jwt

SUB = "00000000-0000-4000-8000-00000000beef"
RG = "rg-moe"
WS = "ws-moe"
LOCATION = "westeurope"
PROVIDER = "Microsoft.MachineLearningServices"
WS_PATH = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/{PROVIDER}/workspaces/{WS}"
OPERATIONS = f"/subscriptions/{SUB}/providers/{PROVIDER}/locations/{LOCATION}/mfeOperationsStatus"
#: Where a DELETE's `Location` points (the recording's mfeOperationResults).
OPERATION_RESULTS = f"/subscriptions/{SUB}/providers/{PROVIDER}/locations/{LOCATION}/mfeOperationResults"
COMPUTE_OPERATIONS = f"/subscriptions/{SUB}/providers/{PROVIDER}/locations/{LOCATION}/computeOperationsStatus"
#: The recordings' regions, as the fake's.
RECORDED_REGIONS = {"eastus2euap": LOCATION, "eastus2": LOCATION}
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
#: An aml_token's life in the recording (expiryTimeUtc minus the time it was fetched).
TOKEN_LIFE_S = 24 * 3600
#: Azure's header that tells a poller when to look again: 10 ms here, so tests poll fast.
FAST_RETRY = {"Retry-After-Ms": "10"}


def workspace_json(name: str = WS, resource_group: str = RG, kind: str | None = None) -> dict[str, Any]:
    """The recorded workspace GET (it carries no `kind`: a plain workspace), named `name`; `kind` sets one
    (Azure AI Foundry's "Hub" and "Project" workspaces carry it)."""
    body = recorded_body(
        "online_deployment",
        "GET",
        r"/workspaces/[^/]+$",
        workspace=name,
        resource_group=resource_group,
        names={**RECORDED_REGIONS, "sano4nluz7tny6e": "stmoe"},
    )
    if kind is not None:
        body["kind"] = kind
    return body


#: auth_mode as ARM spells it.
ARM_AUTH_MODES = {"key": "Key", "aml_token": "AMLToken", "aad_token": "AADToken"}


def endpoint_json(name: str, auth_mode: str = "Key", traffic: dict[str, int] | None = None, **extra: Any) -> dict:
    """The recorded endpoint GET once created and routed (Succeeded), named `name`, with this auth mode
    ("Key", "AMLToken", "AADToken" or moetui's spelling) and traffic; `extra` sets more properties."""
    body = recorded_body(
        "online_deployment",
        "GET",
        r"/onlineEndpoints/[^/]+$",
        nth=1,
        names={**RECORDED_REGIONS, RECORDED_ENDPOINT: name},
    )
    props = body["properties"]
    props["authMode"] = ARM_AUTH_MODES.get(auth_mode.lower(), auth_mode)
    props["traffic"] = dict(traffic or {})
    props.update(extra)
    return body


def _recorded_deployment(endpoint: str, name: str, method: str) -> dict[str, Any]:
    # The recorded endpoint and deployment share one name: rename the endpoint's path segment first.
    names = {
        **RECORDED_REGIONS,
        f"onlineEndpoints/{RECORDED_ENDPOINT}": f"onlineEndpoints/{endpoint}",
        f"onlineendpoints/{RECORDED_ENDPOINT}": f"onlineendpoints/{endpoint.lower()}",
        RECORDED_ENDPOINT: name,
    }
    return recorded_body("online_deployment", method, r"/deployments/[^/]+$", names=names)


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
    """The recorded deployment GET once created (Succeeded, probes filled in), with these settings."""
    body = _recorded_deployment(endpoint, name, "GET")
    body["sku"]["capacity"] = instance_count
    body["properties"].update(
        provisioningState=state,
        instanceType=instance_type,
        environmentVariables=dict(env if env is not None else {"WORKER_COUNT": "3", "SLEEP_SECONDS": "15"}),
        requestSettings={
            "maxQueueWait": "PT0.5S",
            "requestTimeout": request_timeout,
            "maxConcurrentRequestsPerInstance": max_concurrent,
        },
    )
    return body


def deployment_put_json(endpoint: str, name: str, sent: dict[str, Any]) -> dict[str, Any]:
    """What the service answers a deployment PUT with (and GET reads until the operation ends): the
    recorded answer, `Updating` (not "Creating"), no probes yet and its request settings zeroed
    (requestTimeout PT0S, one request per instance) whatever was asked; the rest as sent."""
    body = _recorded_deployment(endpoint, name, "PUT")
    recorded_settings = body["properties"]["requestSettings"]
    body["properties"].update(sent.get("properties") or {})
    body["properties"].update(provisioningState="Updating", requestSettings=recorded_settings)
    body["sku"]["capacity"] = (sent.get("sku") or {}).get("capacity", body["sku"]["capacity"])
    body["tags"] = sent.get("tags") or {}
    return body


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
        """The recorded aml_token answer moved to now: Unix seconds, 24 hours to live, a new one asked for
        after 12 (the recording's offsets); the token a JWT whose `exp` says the same."""
        body = recorded_body("online_deployment", "POST", r"/token$")
        shift = int(time.time()) - (body["expiryTimeUtc"] - TOKEN_LIFE_S)
        expiry, refresh = body["expiryTimeUtc"] + shift, body["refreshAfterTimeUtc"] + shift
        claims = token_claims(body["accessToken"])
        body["accessToken"] = fake_jwt({**claims, "exp": expiry})
        return {**body, "expiryTimeUtc": expiry, "refreshAfterTimeUtc": refresh}

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

    def _operation(self, final: dict[str, Any] | None = None, then: Any = None) -> dict[str, str]:
        """A long-running operation: the recorded status bodies ("Updating" `polls` times, then the
        recorded "Succeeded", or `final` for another end), renamed; `then` runs when it ends."""
        op = f"op-{next(self._ids):04d}"
        going, succeeded = (
            recorded_body("online_deployment", "GET", r"/mfeOperationsStatus/od:", nth=n) for n in (0, 1)
        )
        ended = {**succeeded, **final} if final else succeeded
        if final and "endTime" not in final:
            ended.pop("percentComplete")  # a failure's percentage is not recorded
        self.operations[op] = [{**status, "id": f"{OPERATIONS}/{op}", "name": op} for status in [going] * self.polls]
        self.operations[op].append({**ended, "id": f"{OPERATIONS}/{op}", "name": op})
        self._on_done[op] = then
        return {
            "Azure-AsyncOperation": f"{ARM}{OPERATIONS}/{op}?api-version=2023-04-01-preview",
            **FAST_RETRY,
        }

    def _deleting(self, then: Any) -> Reply:
        """A DELETE's recorded answer: 202, the operation to poll, and a `Location` for its result."""
        headers = self._operation(None, then)
        op = headers["Azure-AsyncOperation"].split("?")[0].rsplit("/", 1)[1]
        return Reply(
            202, headers={**headers, "Location": f"{ARM}{OPERATION_RESULTS}/{op}?api-version=2023-04-01-preview"}
        )

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
        t.add("PUT", rf"^{WS_PATH}/codes/[^/]+/versions/[^/]+$", answer=self._put_code)
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
        if name not in self.endpoints:
            # As recorded: a new endpoint is Creating with no scoring URI yet (set when it is done).
            body["properties"].update(provisioningState="Creating", scoringUri=None, swaggerUri=None)
        else:
            # As recorded: a traffic update answers Updating, with the traffic as it was until it is done.
            body["properties"].update(
                provisioningState="Updating", traffic=self.endpoints[name]["properties"]["traffic"]
            )
        wanted = endpoint_json(name, props.get("authMode", "Key"), props.get("traffic") or {})
        self.endpoints[name] = body
        self._point(name)

        def done() -> None:
            self.endpoints[name] = wanted
            self._point(name)

        return Reply(201, json=body, headers=self._operation(None, done))

    def _delete_endpoint(self, request: Recorded, match: re.Match[str]) -> Reply:
        name = match["ep"]
        if name not in self.endpoints:
            return Reply(204)
        self.endpoints[name]["properties"]["provisioningState"] = "Deleting"

        def done() -> None:
            self.endpoints.pop(name, None)
            for key in [k for k in self.deployments if k[0] == name]:
                del self.deployments[key]

        return self._deleting(done)

    def _delete_deployment(self, request: Recorded, match: re.Match[str]) -> Reply:
        key = (match["ep"], match["dep"])
        if key not in self.deployments:
            return Reply(204)
        self.deployments[key]["properties"]["provisioningState"] = "Deleting"

        def done() -> None:
            self.deployments.pop(key, None)

        return self._deleting(done)

    def _list_deployments(self, request: Recorded, match: re.Match[str]) -> Reply:
        found = [d for (ep, _), d in self.deployments.items() if ep == match["ep"]]
        return Reply(json={"value": found})

    def _get_deployment(self, request: Recorded, match: re.Match[str]) -> Reply:
        found = self.deployments.get((match["ep"], match["dep"]))
        return Reply(json=found) if found else self._not_found(f"Deployment {match['dep']}")

    def _put_deployment(self, request: Recorded, match: re.Match[str]) -> Reply:
        key = (match["ep"], match["dep"])
        body = deployment_put_json(match["ep"], match["dep"], request.body)
        self.deployments[key] = body
        # Once created: the recorded GET (probes filled in) with what was sent, request settings included.
        created = deployment_json(match["ep"], match["dep"])
        created["properties"].update(request.body["properties"])
        created["sku"] = body["sku"]
        if self.fail_deployments and (not self.fail_only or match["dep"] in self.fail_only):
            final = {"status": "Failed", "error": {"code": "DeploymentFailed", "message": self.fail_deployments}}

            def failed() -> None:
                self.deployments[key]["properties"]["provisioningState"] = "Failed"

            return Reply(201, json=body, headers=self._operation(final, failed))

        def done() -> None:
            self.deployments[key] = created

        return Reply(201, json=body, headers=self._operation(None, done))

    def _logs(self, request: Recorded, match: re.Match[str]) -> Reply:
        # azure-ai-ml sends containerType "StorageInitializer" for container_type="storage-initializer".
        container = str((request.body or {}).get("containerType") or "InferenceServer")
        return Reply(json={"content": self.storage_logs if container == "StorageInitializer" else self.logs})

    def _poll(self, request: Recorded, match: re.Match[str]) -> Reply:
        statuses = self.operations[match["op"]]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        if status["status"] not in ("Updating", "InProgress") and (then := self._on_done.pop(match["op"], None)):
            then()
        return Reply(json=status, headers=FAST_RETRY)

    def _put_code(self, request: Recorded, match: re.Match[str]) -> Reply:
        """The recorded code version answer (201), for this asset, holding what was sent."""
        body = recorded_body("command_job_builder", "PUT", r"/codes/")
        body.update(id=request.path, name=request.path.rsplit("/", 1)[1])
        body["properties"].update((request.body or {}).get("properties") or {})
        return Reply(201, json=body)

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


#: The identity moetui's clusters are created with; the recorded cluster has none (none was asked for).
SYSTEM_IDENTITY = {"type": "SystemAssigned", "principalId": "11111111-2222-4333-8444-555555555555", "tenantId": "t"}


def compute_json(
    name: str,
    *,
    max_nodes: int = 4,
    vm_size: str = "Standard_DS4_v2",
    location: str = LOCATION,
    identity: dict[str, Any] | None = SYSTEM_IDENTITY,
) -> dict:
    """The recorded AmlCompute GET once created (Succeeded, allocation Steady), named `name`, with these
    settings; `identity` None for a cluster without one (as recorded)."""
    body = recorded_body(
        "compute_create_and_delete",
        "GET",
        r"/computes/[^/]+$",
        nth=1,
        names={**RECORDED_REGIONS, RECORDED_COMPUTE: name},
    )
    body["location"] = body["properties"]["computeLocation"] = location
    cluster = body["properties"]["properties"]
    cluster["vmSize"] = vm_size
    cluster["scaleSettings"]["maxNodeCount"] = max_nodes
    if identity is not None:
        body["identity"] = dict(identity)
    return body


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
        self.compute_operations: dict[str, dict[str, Any]] = {}
        """Compute creations under way: operation id -> the cluster once created."""
        t = workspace.transport
        t.add("GET", rf"^{COMPUTE_OPERATIONS}/(?P<op>[^/]+)$", answer=self._poll_compute)
        t.add("GET", rf"^{WS_PATH}/computes/(?P<name>[^/]+)$", answer=self._get_compute)
        t.add("PUT", rf"^{WS_PATH}/computes/(?P<name>[^/]+)$", answer=self._put_compute)
        t.add("GET", rf"^{WS_PATH}/environments/(?P<name>[^/]+)/versions/(?P<v>[^/]+)$", answer=self._get_env)
        t.add("PUT", rf"^{WS_PATH}/environments/(?P<name>[^/]+)/versions/(?P<v>[^/]+)$", answer=self._put_env)
        t.add("PUT", rf"^{WS_PATH}/jobs/(?P<name>[^/]+)$", answer=self._put_job)
        t.add("GET", rf"^{WS_PATH}/jobs/(?P<name>[^/]+)$", answer=self._get_job)
        t.add("POST", rf"^{WS_PATH}/jobs/(?P<name>[^/]+)/cancel$", answer=self._cancel)
        self.access = FakeAccess(t)

    def _get_compute(self, request: Recorded, match: re.Match[str]) -> Reply:
        found = self.computes.get(match["name"])
        return Reply(json=found) if found else self.workspace._not_found(f"Compute {match['name']}")

    def _put_compute(self, request: Recorded, match: re.Match[str]) -> Reply:
        """As recorded: 201 Creating, the size in upper case (Azure answers `STANDARD_DS2_V2` to
        `Standard_DS2_v2`), an operation on computeOperationsStatus whose first poll says Succeeded."""
        name = match["name"]
        sent = request.body["properties"]["properties"]
        vm_size, max_nodes = str(sent["vmSize"]).upper(), sent["scaleSettings"]["maxNodeCount"]
        identity = request.body.get("identity")
        if identity:
            identity = {**SYSTEM_IDENTITY, **identity}
        body = recorded_body(
            "compute_create_and_delete", "PUT", r"/computes/[^/]+$", names={**RECORDED_REGIONS, RECORDED_COMPUTE: name}
        )
        body["properties"]["properties"].update(vmSize=vm_size, scaleSettings=dict(sent["scaleSettings"]))
        if identity:
            body["identity"] = identity
        self.computes[name] = body
        op = f"cop-{next(self.workspace._ids):04d}"
        self.compute_operations[op] = compute_json(name, max_nodes=max_nodes, vm_size=vm_size, identity=identity)
        operation = f"{ARM}{COMPUTE_OPERATIONS}/{op}?api-version=2022-01-01-preview&service=new"
        return Reply(201, json=body, headers={"Azure-AsyncOperation": operation, **FAST_RETRY})

    def _poll_compute(self, request: Recorded, match: re.Match[str]) -> Reply:
        created = self.compute_operations.pop(match["op"], None)
        if created is not None:
            self.computes[created["name"]] = created
        return Reply(json=recorded_body("compute_create_and_delete", "GET", r"/computeOperationsStatus/"))

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
        """As recorded: 201 with what was sent, the service's additions (services, the default output,
        resources) and status Starting."""
        name = match["name"]
        recorded_job = recorded_body(
            "command_job_builder", "PUT", r"/jobs/", names={**RECORDED_REGIONS, RECORDED_JOB: name}
        )
        added = {key: recorded_job["properties"][key] for key in ("services", "outputs", "resources")}
        self.jobs[name] = {
            **recorded_job,
            "properties": {**recorded_job["properties"], **added, **request.body["properties"]},
            "status_now": "Starting",
            "walk": list(self.states),
        }
        sent_outputs = request.body["properties"].get("outputs") or {}
        self.jobs[name]["properties"]["outputs"] = {**added["outputs"], **sent_outputs}
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


#: The cores of the cluster's VM size and its quota family (ARM's vmSizes and usages, as the service spells them).
DS4_V2 = {"name": "Standard_DS4_v2", "family": "standardDSv2Family", "vCPUs": 8, "gpus": 0, "memoryGB": 28.0}


class FakeAccess:
    """Role assignments on the workspace (azure-mgmt-authorization) and the region's VM sizes and core
    usages (ml.compute.list_sizes, list_usage): `may_assign` False answers a role PUT 403 as Azure does for a
    user without roleAssignments/write; `held` are the identity's assignments a list returns."""

    def __init__(self, transport: CannedTransport) -> None:
        self.may_assign = True
        self.held: list[dict[str, Any]] = []
        self.assigned: list[dict[str, Any]] = []
        self.usage = {"current": 0, "limit": 24}
        roles = rf"^{WS_PATH}/providers/Microsoft.Authorization/roleAssignments"
        transport.add("PUT", roles + r"/(?P<name>[^/]+)$", answer=self._put_role)
        transport.add("GET", roles + "$", answer=self._list_roles)
        region = rf"^/subscriptions/{SUB}/providers/{PROVIDER}/locations/[^/]+"
        transport.add("GET", region + "/vmSizes$", answer=self._sizes)
        transport.add("GET", region + "/usages$", answer=self._usages)

    def _put_role(self, request: Recorded, match: re.Match[str]) -> Reply:
        if not self.may_assign:
            return Reply(
                403,
                json=error_body(
                    "AuthorizationFailed",
                    "The client 'ada@contoso.example' does not have authorization to perform action "
                    "'Microsoft.Authorization/roleAssignments/write' over scope "
                    f"'{WS_PATH}/providers/Microsoft.Authorization/roleAssignments/{match['name']}'.",
                ),
            )
        body = {
            "id": request.path,
            "name": match["name"],
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {**request.body["properties"], "scope": WS_PATH},
        }
        self.assigned.append(body)
        return Reply(201, json=body)

    def _list_roles(self, request: Recorded, match: re.Match[str]) -> Reply:
        return Reply(json={"value": self.held})

    def _sizes(self, request: Recorded, match: re.Match[str]) -> Reply:
        return Reply(json={"value": [DS4_V2]})

    def _usages(self, request: Recorded, match: re.Match[str]) -> Reply:
        """Shaped as the REST specification's Usages - List example (2022-10-01): the family's row once per
        scope (region, workspace) and its low-priority row, beside the regional total."""
        name = "Standard DSv2 Family Cluster Dedicated vCPUs"
        usages = f"/subscriptions/{SUB}/usages"

        def row(kind: str, row_id: str, label: str, current: int, limit: int) -> dict[str, Any]:
            named = {"value": label, "localizedValue": label}
            return {
                "id": row_id,
                "type": f"{PROVIDER}/{kind}",
                "currentValue": current,
                "limit": limit,
                "name": named,
                "unit": "Count",
            }

        current, limit = self.usage["current"], self.usage["limit"]
        value = [
            row("dedicatedCores/usages", usages, "Total Cluster Dedicated Regional vCPUs", current, 100),
            row("vmFamily/usages", f"{usages}/{name.replace(' ', '_')}", name, current, limit),
            row("workspaces/usages", f"{WS_PATH}/usages/{name.replace(' ', '_')}", name, 0, limit),
            row(
                "vmFamily/usages",
                f"{usages}/Standard_DSv2_Family_Cluster_LowPriority_vCPUs",
                "Standard DSv2 Family Cluster LowPriority vCPUs",
                0,
                -1,
            ),
        ]
        return Reply(json={"value": value})


def answer_monitor(transport: CannedTransport, endpoint: str, requests_per_minute: float = 1200.0) -> None:
    """Azure Monitor's metrics of `endpoint` and its deployments (any query): one minute of RequestsPerMinute,
    shaped as ARM's metrics API answers (the launcher of a job reads them over the merged window)."""

    def metrics(request: Recorded, match: re.Match[str]) -> Reply:
        resource = request.path.removesuffix("/providers/Microsoft.Insights/metrics")
        value = {
            "id": f"{resource}/providers/Microsoft.Insights/metrics/RequestsPerMinute",
            "type": "Microsoft.Insights/metrics",
            "name": {"value": "RequestsPerMinute", "localizedValue": "Requests per minute"},
            "unit": "Count",
            "timeseries": [
                {
                    "metadatavalues": [],
                    "data": [{"timeStamp": SYSTEM_DATA["createdAt"], "average": requests_per_minute}],
                }
            ],
            "errorCode": "Success",
        }
        namespace = f"{PROVIDER}/workspaces/onlineEndpoints"
        return Reply(
            json={"cost": 0, "interval": "PT1M", "namespace": namespace, "resourceregion": LOCATION, "value": [value]}
        )

    path = rf"^{WS_PATH}/onlineEndpoints/{endpoint}(/deployments/[^/]+)?/providers/Microsoft.Insights/metrics$"
    transport.add("GET", path, answer=metrics)


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
