"""The compute cluster's identity and its role, settled before a job is submitted: a job whose nodes cannot
read the endpoint's key fails only after allocation and the image build.

- The cluster must be provisioned (not Failed) and, for a [target.azure] run, carry a managed identity.
- A cluster moetui created just now: its new identity gets the role on the workspace itself, through
  azure-mgmt-authorization, where the signed-in user may assign roles.
- Otherwise (an existing cluster, or the user may not assign): its role assignments on the workspace are
  read; without one, moetui stops with the exact `az role assignment create` command and the wait that
  role propagation needs.

Blocking (SDK calls): run in a thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from moetui.azure.errors import NODE_ROLE, explain, first_line, status_of
from moetui.deployments.base import DeploymentError

#: The built-in role's id (the same in every tenant: Microsoft's list of Azure built-in roles).
NODE_ROLE_ID = "f6c7c914-8db3-469d-8ca1-694a8f32e121"
#: How long a new role assignment may take to reach the services (Microsoft: up to 10 minutes).
PROPAGATION = "up to 10 minutes"


def role_command(principal_id: str | None, scope: str) -> str:
    """The exact command that gives the cluster's identity its role on the workspace."""
    principal = principal_id or "<the cluster's principalId>"
    return (
        f"az role assignment create --assignee-object-id {principal} --assignee-principal-type ServicePrincipal "
        f'--role "{NODE_ROLE}" --scope {scope}'
    )


def stop_for_role(cluster: str, principal_id: str | None, scope: str, why: str) -> DeploymentError:
    """The error that stops before submitting: why, the command, and the wait."""
    return DeploymentError(
        f"The compute cluster {cluster}'s managed identity ({principal_id}) {why}; the nodes would fail reading "
        f"the endpoint's key. Nothing was submitted. Give it the role {NODE_ROLE!r} on the workspace:\n"
        f"  {role_command(principal_id, scope)}\n"
        f"then wait for the assignment to take effect ({PROPAGATION}) and run again.",
        title="Cluster identity has no role",
    )


def settle_identity(
    compute: Any,
    *,
    created: bool,
    authorization: Callable[[], Any],
    subscription_id: str,
    scope: str,
    say: Callable[[str], None],
) -> None:
    """Check the cluster's state and identity and see that the identity holds a role on the workspace
    `scope` (assigning NODE_ROLE when moetui created the cluster and the user may).

    Args:
        compute: The AmlCompute (azure-ai-ml) the job will run on.
        created: moetui created the cluster (and so its identity) just now.
        authorization: Makes the AuthorizationManagementClient (azure-mgmt-authorization).

    Raises:
        DeploymentError: The cluster failed, has no identity, or its identity holds no role here.
    """
    name = getattr(compute, "name", "the cluster")
    state = str(getattr(compute, "provisioning_state", "") or "")
    if state.lower() in ("failed", "deleting", "canceled"):
        raise DeploymentError(
            f"The compute cluster {name} is {state}: no job can run on it.", title="Cluster not ready"
        )
    identity = getattr(compute, "identity", None)
    principal = getattr(identity, "principal_id", None)
    if identity is None or not principal:
        raise DeploymentError(
            f"The compute cluster {name} has no managed identity, so its nodes cannot read the endpoint's key. "
            f"Nothing was submitted. Give it one (az ml compute update --name {name} --identity-type "
            f"system_assigned), then the role {NODE_ROLE!r} on the workspace:\n  {role_command(None, scope)}\n"
            f"wait for the assignment to take effect ({PROPAGATION}) and run again; or leave out --compute and "
            "moetui creates a cluster with an identity and its role.",
            title="Cluster without identity",
        )
    client = authorization()
    if created:
        if _assign(client, principal, subscription_id, scope, name, say):
            return
    elif _holds_role(client, principal, scope, name, say):
        return
    raise stop_for_role(name, principal, scope, "holds no role on the workspace")


def _assign(
    client: Any, principal: str, subscription_id: str, scope: str, cluster: str, say: Callable[[str], None]
) -> bool:
    """Assign NODE_ROLE to the new identity; False when the user may not (403): the caller stops."""
    # The API version the client's role_assignments uses by default (azure-mgmt-authorization 4.0).
    from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

    definition = f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{NODE_ROLE_ID}"
    parameters = RoleAssignmentCreateParameters(
        role_definition_id=definition, principal_id=principal, principal_type="ServicePrincipal"
    )
    try:
        client.role_assignments.create(scope, str(uuid.uuid4()), parameters)
    except Exception as exc:
        if status_of(exc) == 403:
            say(f"moetui: you may not assign roles on the workspace ({first_line(exc, 160)})")
            return False
        if status_of(exc) == 409:  # RoleAssignmentExists: it holds the role already
            return True
        raise explain(exc, f"assigning the role {NODE_ROLE!r} to the cluster {cluster}'s identity") from None
    say(
        f"moetui: gave the cluster {cluster}'s identity ({principal}) the role {NODE_ROLE!r} on the workspace; "
        f"it takes effect within {PROPAGATION}, while the cluster allocates its nodes"
    )
    return True


def _holds_role(client: Any, principal: str, scope: str, cluster: str, say: Callable[[str], None]) -> bool:
    """Whether the identity holds any role at or above the workspace (a reader may not see the roles: then
    it is said, and the job goes ahead)."""
    try:
        held = list(client.role_assignments.list_for_scope(scope, filter=f"assignedTo('{principal}')"))
    except Exception as exc:
        say(
            f"moetui: note: the cluster {cluster}'s role assignments could not be read ({first_line(exc, 160)}); "
            f"if its nodes are refused: {role_command(principal, scope)}"
        )
        return True
    return bool(held)
