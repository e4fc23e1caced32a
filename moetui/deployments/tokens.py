"""TokenKeeper: the request headers of a token endpoint (aml_token, aad_token) kept fresh for a run that
outlives its token, and the rule for reading a token's expiry. No textual, no azure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from moetui.deployments.base import DeploymentService, EndpointCredentials

#: A token is fetched again this long before it expires.
TOKEN_MARGIN_S = 300.0
#: How long a run's token refresh may wait for the service.
TOKEN_FETCH_TIMEOUT_S = 120.0
#: A token whose expiry is unknown (implausible expiryTimeUtc, no JWT exp claim) is fetched again this often.
TOKEN_FALLBACK_REFRESH_S = 15 * 60.0
#: The widest token lifetime believed: an expiry further out than this (or in the past by more than a day)
#: is not a Unix time in seconds. The unit of expiryTimeUtc is not published, and the official example
#: (azure-rest-api-specs OnlineEndpoint getToken.json) holds 1.
TOKEN_PLAUSIBLE_S = 366 * 86400.0


def plausible_epoch_s(value: Any, now: float) -> float | None:
    """`value` as Unix seconds when it reads as a time near `now` (milliseconds are converted); else None."""
    if isinstance(value, bool):
        return None
    try:
        moment = float(value)
    except (TypeError, ValueError):
        return None
    if moment > 1e11:  # a Unix time in milliseconds (1e11 s is the year 5138)
        moment /= 1000.0
    return moment if now - 86400.0 <= moment <= now + TOKEN_PLAUSIBLE_S else None


class TokenKeeper:
    """The request headers of a token endpoint (aml_token, aad_token), for a run that outlives its token:
    a run's refresh_headers. Called from a thread of the run's; `fetch` blocks for new credentials, asked
    for when fewer than TOKEN_MARGIN_S seconds are left."""

    def __init__(self, credentials: EndpointCredentials, fetch: Callable[[], EndpointCredentials]) -> None:
        self.credentials = credentials
        self.fetch = fetch

    @classmethod
    def on_loop(
        cls,
        service: DeploymentService,
        endpoint: str,
        credentials: EndpointCredentials,
        loop: asyncio.AbstractEventLoop,
    ) -> TokenKeeper:
        """A keeper that fetches through `service`, whose calls run on `loop` (the one that owns it)."""

        def fetch() -> EndpointCredentials:
            asking = service.credentials(endpoint, credentials.deployment or "")
            return asyncio.run_coroutine_threadsafe(asking, loop).result(timeout=TOKEN_FETCH_TIMEOUT_S)

        return cls(credentials, fetch)

    def __call__(self) -> dict[str, str]:
        due = self.credentials.refresh_at
        if due is None and self.credentials.expires_at is not None:
            due = self.credentials.expires_at - TOKEN_MARGIN_S
        if due is not None and time.time() >= due:
            self.credentials = self.fetch()
        return self.credentials.headers()
