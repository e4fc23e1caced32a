"""Sign-in with azure-identity, and who is signed in, read from the access token's own claims.

DefaultAzureCredential first (environment, workload identity, managed identity, Azure CLI, ...; never a
browser); with `interactive`, a browser sign-in and then a device code when the chain finds nobody. The
Identity shown comes from the ARM token's claims (upn, tid): no Microsoft Graph call, no extra permission.
These functions block (token requests, `az` subprocesses): callers run them in a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moetui.azure.clients import AzureClients
from moetui.azure.errors import SIGN_IN_HINT, first_line, node_refusal
from moetui.azure.tokens import token_claims
from moetui.deployments.base import DeploymentError, Identity

#: The scope of Azure Resource Manager tokens: what every listing and deployment call needs.
ARM_SCOPE = "https://management.azure.com/.default"

#: DefaultAzureCredential's members, as a screen names them.
METHODS = {
    "EnvironmentCredential": "environment",
    "WorkloadIdentityCredential": "workload identity",
    "ManagedIdentityCredential": "managed identity",
    "SharedTokenCacheCredential": "shared token cache",
    "VisualStudioCodeCredential": "VS Code",
    "AzureCliCredential": "Azure CLI",
    "AzurePowerShellCredential": "Azure PowerShell",
    "AzureDeveloperCliCredential": "Azure Developer CLI",
    "InteractiveBrowserCredential": "browser",
    "DeviceCodeCredential": "device code",
}


def identity_from_token(token: str, method: str) -> Identity:
    """Who a token belongs to: a user's UPN, else a service principal's app id, else the object id."""
    claims = token_claims(token)
    user = next(
        (str(claims[k]) for k in ("upn", "unique_name", "preferred_username", "email") if claims.get(k)),
        "",
    )
    if not user and claims.get("appid"):
        user = f"application {claims['appid']}"
    return Identity(user=user or str(claims.get("oid", "unknown")), tenant_id=str(claims.get("tid", "")), method=method)


def method_of(credential: Any) -> str:
    """How a credential signed in: the member of DefaultAzureCredential's chain that succeeded, if known."""
    # azure-identity keeps the successful member on the chain (a private attribute: read defensively).
    member = getattr(credential, "_successful_credential", None) or credential
    name = type(member).__name__
    return METHODS.get(name, name)


def failure_reason(exc: BaseException) -> str:
    """Why a sign-in failed, on one line: for DefaultAzureCredential, what each member said.

    Its message is "DefaultAzureCredential failed ...\nAttempted credentials:\n\tEnvironmentCredential: ...
    \n\tAzureCliCredential: ...\nTo mitigate this issue, ..." : the member lines are the useful part.
    """
    lines = [line.strip() for line in str(getattr(exc, "message", None) or exc).splitlines()]
    members = [line for line in lines if line.split(":", 1)[0].endswith("Credential") and ":" in line]
    return first_line(Exception("; ".join(members)), 600) if members else first_line(exc, 300)


def _try(credential: Any) -> str:
    """An ARM token from `credential` (raises what azure-identity raises)."""
    return str(credential.get_token(ARM_SCOPE).token)


def sign_in(
    clients: AzureClients,
    interactive: bool = False,
    on_device_code: Callable[[str], None] | None = None,
) -> tuple[Any, Identity]:
    """Sign in and say who is signed in. Blocks: run it in a thread.

    Args:
        clients: Makes the credentials.
        interactive: When the default chain finds nobody, try a browser sign-in, then a device code.
        on_device_code: Receives the device-code instructions; without it the device code is not tried
            (azure-identity would print them to stdout).

    Returns:
        The credential for later SDK calls, and the Identity it signed in as.

    Raises:
        DeploymentError: Nobody could be signed in; the message says how to sign in.
    """
    failures: list[str] = []
    attempts: list[tuple[str, Callable[[], Any]]] = [("default", clients.default_credential)]
    if interactive:
        attempts.append(("browser", clients.browser_credential))
        if on_device_code is not None:
            prompt = on_device_code
            attempts.append(("device code", lambda: clients.device_code_credential(prompt)))
    for label, make in attempts:
        try:
            credential = make()
            token = _try(credential)
        except Exception as exc:  # azure-identity raises several classes (and OSError for a missing `az`)
            failures.append(f"{label}: {failure_reason(exc)}")
            continue
        return credential, identity_from_token(token, method_of(credential))
    from azure.core.exceptions import ClientAuthenticationError

    if node := node_refusal(None, ClientAuthenticationError("; ".join(failures)), "signing in", "; ".join(failures)):
        raise node
    raise DeploymentError(
        f"Nobody is signed in to Azure. To sign in, {SIGN_IN_HINT}. ({'; '.join(failures)})",
        title="Not signed in",
    )
