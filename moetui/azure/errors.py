"""Azure SDK exceptions turned into DeploymentErrors a user can act on: what failed, why, what to do.

Classified by azure-core's exception classes and the HTTP status, never by parsing tracebacks. Imports
azure-core only (cheap), inside the function.
"""

from __future__ import annotations

from moetui.deployments.base import DeploymentError

#: What to do when nobody is signed in.
SIGN_IN_HINT = (
    "run `az login` (Azure CLI), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET "
    "(or AZURE_CLIENT_CERTIFICATE_PATH) for a service principal, or sign in interactively in the app"
)

#: The role a compute cluster's identity needs on the workspace to read an endpoint's key (listKeys) or token.
NODE_ROLE = "AzureML Data Scientist"

#: The service's messages when an online endpoint name is in use anywhere in the region: the older
#: "... needs to be unique within a region" and the newer "... must be unique within the region".
NAME_TAKEN_MARKERS = (
    "already an endpoint with this name",
    "unique within a region",
    "unique within the region",
    "already exists",
)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an azure-core error, when it carries one."""
    status = getattr(exc, "status_code", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The exception's message on one line, without the SDK's multi-line "Code: ... Message: ..." dump."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    line = " ".join(str(message).split("\n")[0].split())
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def is_name_taken(exc: BaseException) -> bool:
    """True when Azure refused a name because an endpoint already has it (here or elsewhere in the region)."""
    if status_of(exc) == 409:
        return True
    text = str(exc).lower()
    return any(marker in text for marker in NAME_TAKEN_MARKERS)


def node_refusal(status: int | None, exc: BaseException, doing: str, reason: str) -> DeploymentError | None:
    """On a compute cluster's node, a refused sign-in or access is the cluster identity's: name it and the
    role it needs (nobody can `az login` on a node). None off a node, or for another error."""
    from azure.core.exceptions import ClientAuthenticationError

    from moetui.azure.clients import node_identity

    client_id = node_identity()
    if client_id is None or not (status in (401, 403) or isinstance(exc, ClientAuthenticationError)):
        return None
    return DeploymentError(
        f"The compute cluster's managed identity (client id {client_id}) was refused while {doing} ({reason}). "
        f"It needs the role {NODE_ROLE!r} on the workspace; whoever submitted the job assigns it "
        f'(az role assignment create --assignee <its principal id> --role "{NODE_ROLE}" --scope <the workspace>) '
        "and waits a few minutes for it to take effect.",
        title="Cluster identity refused",
    )


def explain(exc: BaseException, doing: str) -> DeploymentError:
    """A DeploymentError for `exc`, raised while `doing` ("listing the workspaces of subscription x").

    Args:
        exc: What the SDK raised.
        doing: What moetui was doing, as a phrase for "while ...".

    Returns:
        The error to raise (chain it: `raise explain(exc, ...) from exc`).
    """
    if isinstance(exc, DeploymentError):
        return exc
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    status = status_of(exc)
    reason = first_line(exc)
    if (node := node_refusal(status, exc, doing, reason)) is not None:
        return node
    if status == 401 or (isinstance(exc, ClientAuthenticationError) and status is None):
        return DeploymentError(
            f"Azure did not accept the sign-in while {doing} ({reason}). Sign in again: {SIGN_IN_HINT}.",
            title="Not signed in",
        )
    if status == 403:
        return DeploymentError(
            f"Azure refused access (403) while {doing}: the signed-in identity lacks permission there. "
            f"Ask for a role such as 'AzureML Data Scientist' or 'Contributor' on the workspace. ({reason})",
            title="Access denied",
        )
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        return DeploymentError(f"Not found while {doing} ({reason}).", title="Not found")
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return DeploymentError(
            f"Azure could not be reached while {doing} ({reason}). Check the network and any proxy settings.",
            title="Azure unreachable",
        )
    if isinstance(exc, HttpResponseError):
        code = f"{status} " if status else ""
        return DeploymentError(f"Azure answered {code}while {doing}: {reason}")
    return DeploymentError(f"Failed while {doing}: {reason}")
