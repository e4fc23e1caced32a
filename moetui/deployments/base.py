"""The deployment control plane's interface: protocols (DeploymentService, WorkspaceBrowser), the
records they pass (DeploymentRequest, DeploymentInfo, EndpointCredentials, Workspace), DeploymentError,
and Azure's state rule. What the TUI's deployment, credentials and workspace screens talk to.

Two implementations sit above it: `local_endpoint.deployments` (the local endpoint, no account needed)
and `azure.deployments` (Azure ML managed online endpoints through azure-ai-ml); tests use in-memory
ones. The name rule is `deployments.names`, the token keeper `deployments.tokens`. Imports nothing
from textual, rich or azure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from moetui.config.schema import MAX_REQUEST_TIMEOUT_MS
from moetui.deployments.names import endpoint_name_problem, name_problem, same_name
from moetui.errors import MoetuiError
from moetui.redact import shown_url

ProgressCallback = Callable[[str], None]
"""Called with one line of text for each step of a long operation (any thread may call it)."""


class DeploymentError(MoetuiError):
    """A deployment could not be created, shown, listed or deleted."""

    title = "Deployment"


def share_of(traffic: dict[str, int], name: str) -> int:
    """`name`'s percent of a traffic split whose keys may differ from it in case (0 when absent)."""
    return sum(int(share) for key, share in traffic.items() if same_name(str(key), name))


#: provisioningState of an online deployment (azure-rest-api-specs, machinelearningservices
#: DeploymentProvisioningState: Creating, Deleting, Scaling, Updating, Succeeded, Failed, Canceled).
READY_STATE = "Succeeded"
#: A deployment in these states will not serve until someone acts: never load-tested, refused at once.
NOT_SERVING_STATES = ("Deleting", "Failed", "Canceled")


def state_problem(state: str) -> tuple[str, bool] | None:
    """What a provisioning state means for a load test, or None when the deployment is ready.

    Only Succeeded is ready: the service reports a deployment under creation as Updating (seen in the Azure
    SDK's recorded session), so Updating, like Creating, Scaling and a state moetui does not know, may have
    no instance serving yet.

    Returns:
        (why, final): final is True for Deleting, Failed and Canceled (refuse now); False for the others,
        which may still become Succeeded (wait for it, bounded).
    """
    if state.casefold() == READY_STATE.casefold():
        return None
    final = any(state.casefold() == s.casefold() for s in NOT_SERVING_STATES)
    return f"its provisioning state is {state}, not {READY_STATE}", final


@dataclass(frozen=True)
class DeploymentRequest:
    """What to create from scoring_app/: the settings a deploy script sets, each overridable."""

    endpoint: str
    deployment: str = "blue"
    instance_type: str = "Standard_DS3_v2"
    instance_count: int = 1
    max_concurrent_requests_per_instance: int = 3
    worker_count: int = 3
    """WORKER_COUNT: the inference server's worker processes per instance."""
    request_timeout_ms: int = 60_000
    sleep_s: float = 15.0
    """SLEEP_SECONDS of the sleep scorer."""

    def problems(self) -> list[str]:
        """Everything wrong with this request, in words; empty when it can be created."""
        found = []
        if (problem := endpoint_name_problem(self.endpoint)) is not None:
            found.append(f"endpoint {self.endpoint!r}: {problem}")
        if (problem := name_problem(self.deployment, "deployment")) is not None:
            found.append(f"deployment {self.deployment!r}: {problem}")
        for name in ("instance_count", "max_concurrent_requests_per_instance", "worker_count"):
            if getattr(self, name) < 1:
                found.append(f"{name} is at least 1")
        if not 1 <= self.request_timeout_ms <= MAX_REQUEST_TIMEOUT_MS:
            found.append(f"request_timeout_ms is 1 to {MAX_REQUEST_TIMEOUT_MS} (Azure's maximum)")
        if self.sleep_s < 0:
            found.append("sleep is 0 or more seconds")
        return found


@dataclass(frozen=True)
class DeploymentInfo:
    """One deployment of an endpoint, as shown for confirmation: the request settings that matter."""

    endpoint: str
    name: str
    state: str
    """Provisioning state: "Succeeded", "Creating", "Updating", "Failed", "Deleting"."""
    scoring_uri: str
    auth_mode: str = "key"
    """"key", "aml_token" or "aad_token"."""
    traffic_percent: int = 100
    instance_type: str = ""
    instance_count: int = 1
    max_concurrent_requests_per_instance: int = 1
    request_timeout_ms: int = 5000
    worker_count: int | None = None
    """WORKER_COUNT from the deployment's environment variables, when set."""
    sleep_s: float | None = None
    """SLEEP_SECONDS, for the sleep scorer."""

    @property
    def capacity(self) -> int:
        """Requests served at once: max_concurrent_requests_per_instance x instance_count."""
        return self.max_concurrent_requests_per_instance * self.instance_count

    def settings_rows(self) -> list[tuple[str, str]]:
        """(name, value) rows of the settings a user confirms, in the order a deploy script shows them."""
        rows = [
            ("endpoint", self.endpoint),
            ("deployment", self.name),
            ("state", self.state),
            ("max_concurrent_requests_per_instance", str(self.max_concurrent_requests_per_instance)),
            ("request_timeout_ms", str(self.request_timeout_ms)),
            ("WORKER_COUNT", "unset" if self.worker_count is None else str(self.worker_count)),
            ("instance type x count", f"{self.instance_type or '-'} x {self.instance_count}"),
            ("traffic", f"{self.traffic_percent} %"),
            ("auth mode", self.auth_mode),
        ]
        if self.sleep_s is not None:
            rows.append(("SLEEP_SECONDS", f"{self.sleep_s:g}"))
        rows.append(("scoring URI", shown_url(self.scoring_uri)))
        return rows


@dataclass(frozen=True)
class EndpointCredentials:
    """Where to send requests and the secret that lets them in: a cred.json, in memory."""

    scoring_uri: str
    key: str = field(repr=False)
    """The endpoint key, or a token for aml_token / aad_token endpoints: never print, log or write it."""
    deployment: str | None = None
    """Sent as azureml-model-deployment."""
    auth_mode: str = "key"
    expires_at: float | None = None
    """Epoch seconds when a token expires; None for keys, which do not, and for a token whose expiry is unknown."""
    refresh_at: float | None = None
    """Epoch seconds after which a new token is fetched, when the service or a fallback says (refreshAfterTimeUtc);
    None: TOKEN_MARGIN_S before `expires_at`."""

    @property
    def masked_key(self) -> str:
        """The key as a screen may show it: its last 4 characters only."""
        return "\u2022" * 12 + self.key[-4:] if len(self.key) > 8 else "\u2022" * 12

    def headers(self) -> dict[str, str]:
        """The profiler's default SCORING_HEADERS for this endpoint."""
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        if self.deployment:
            headers["azureml-model-deployment"] = self.deployment
        return headers


class DeploymentService(Protocol):
    """Endpoints and deployments in one place (the local endpoint, or one Azure workspace).

    Every async method may take long (Azure's take minutes); screens call them in workers.
    """

    kind: str
    """"local" or "azure"."""
    title: str
    """Where the deployments live, for a screen's title: "Local endpoint", "Azure workspace ws (rg)"."""

    def default_request(self) -> DeploymentRequest:
        """A request to create from scoring_app/ with a fresh random endpoint name and deployment.yml's settings."""
        ...

    async def list_deployments(self) -> list[DeploymentInfo]:
        """Every deployment of every endpoint here.

        Raises:
            DeploymentError: The listing failed (no permission, network).
        """
        ...

    async def create(self, request: DeploymentRequest, on_progress: ProgressCallback) -> DeploymentInfo:
        """Create the endpoint and its deployment from scoring_app/, give it 100 % of the traffic, then show it.

        Returns:
            The created deployment, as shown after creation (for confirming its request settings).

        Raises:
            DeploymentError: Creation failed; the message includes the end of the deployment's logs when there are any.
        """
        ...

    async def show(self, endpoint: str, deployment: str) -> DeploymentInfo:
        """The deployment as it is now.

        Raises:
            DeploymentError: There is no such deployment.
        """
        ...

    async def logs(self, endpoint: str, deployment: str, lines: int = 200) -> str:
        """The last `lines` lines of the deployment's container logs.

        Raises:
            DeploymentError: The logs cannot be read.
        """
        ...

    async def credentials(self, endpoint: str, deployment: str) -> EndpointCredentials:
        """Scoring URI and key (or a fresh token) for the deployment.

        Raises:
            DeploymentError: The key cannot be fetched.
        """
        ...

    async def delete(self, endpoint: str, on_progress: ProgressCallback) -> None:
        """Delete the endpoint and all its deployments, so nothing keeps running or billing.

        Raises:
            DeploymentError: Deletion failed.
        """
        ...

    def replay_target(self, info: DeploymentInfo) -> dict[str, Any]:
        """The [target] table with which `moetui --run` reaches this deployment again (no key in it)."""
        ...

    async def close(self) -> None:
        """Release what this service holds (the local one stops its endpoints)."""
        ...


@dataclass(frozen=True)
class Identity:
    """Who is signed in, for the screen (never a token)."""

    user: str
    tenant_id: str
    method: str
    """How: "Azure CLI", "environment", "managed identity", "browser", "device code"."""


@dataclass(frozen=True)
class Subscription:
    id: str
    name: str


@dataclass(frozen=True)
class Workspace:
    name: str
    resource_group: str
    subscription_id: str
    location: str = ""


DeviceCodePrompt = Callable[[str], None]
"""Called with the device-code sign-in message ("To sign in, use a web browser to open ... and enter the code ...")."""


class WorkspaceBrowser(Protocol):
    """Sign-in and the pickers of the Azure target: subscriptions, resource groups, workspaces."""

    async def sign_in(self, interactive: bool = False, on_device_code: DeviceCodePrompt | None = None) -> Identity:
        """Sign in with DefaultAzureCredential; with `interactive`, by browser or device code when it finds nobody.

        Raises:
            DeploymentError: Nobody is signed in (the message says how to sign in).
        """
        ...

    async def subscriptions(self) -> list[Subscription]:
        """Raises: DeploymentError."""
        ...

    async def resource_groups(self, subscription_id: str) -> list[str]:
        """Raises: DeploymentError."""
        ...

    async def workspaces(self, subscription_id: str, resource_group: str) -> list[Workspace]:
        """Raises: DeploymentError."""
        ...

    def workspace_from_config_json(self, path: str) -> Workspace:
        """The workspace a config.json written by the Azure ML portal names.

        Raises:
            DeploymentError: The file is missing or lacks subscription_id, resource_group or workspace_name.
        """
        ...

    def deployments(self, workspace: Workspace) -> DeploymentService:
        """The deployment service of one workspace."""
        ...
