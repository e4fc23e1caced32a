"""The target interface that the headless runner and the TUI depend on. No textual, rich or azure."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from moetui.redact import shown_url


@dataclass(frozen=True)
class ResolvedTarget:
    """Where a run sends its requests."""

    kind: str
    """"local", "url" or "azure"."""
    url: str = field(repr=False)
    """Where requests go, query string (a key, for some) included: people see `moetui.redact.shown_url(url)`."""
    headers: dict[str, str] = field(repr=False)
    """Request headers, the key among them: never print, log or write these."""
    deployment: str | None = None
    max_concurrent_requests_per_instance: int | None = None
    instance_count: int | None = None
    request_timeout_ms: int | None = None
    """The deployment's request_timeout_ms, when known: the per-request timeout follows it by default."""
    description: str = ""
    """One line for humans, without secrets."""
    server_metrics: Callable[[datetime, datetime], dict[str, Any]] | None = field(
        default=None, repr=False, compare=False
    )
    """Reads the server side's metrics over a run window (start, end), such as Azure Monitor's for an Azure
    deployment (`moetui.azure.metrics.fetch_metrics` with the target's credential and names bound); None
    when the target has none. Called once after the load, in a thread, while the target is still open;
    whatever it raises is reported, never fails the run. Returns the report's `server_metrics` block."""
    processes: dict[str, int] | None = field(default=None, compare=False)
    """The endpoint's processes on this machine, role -> PID ({"gateway": ..., "server-0": ...}; descendants count),
    for a local endpoint: their CPU and memory are sampled during the run (moetui.local_endpoint.usage)."""
    cpus_per_instance: int | None = None
    """CPUs each inference server is pinned to (a local-Ncpu instance type); None: all of this machine's."""
    refresh_headers: Callable[[], dict[str, str]] | None = field(default=None, repr=False, compare=False)
    """Returns the request headers with a credential valid for a while yet (a token refetched before it
    expires), for targets whose credential expires (Azure's aml_token and aad_token endpoints); None when it
    does not (keys). The run calls it every minute or so, in a thread (it may block on the network), and
    sends the headers it returns from then on; whatever it raises is counted, never fails the run."""

    @property
    def capacity(self) -> int | None:
        """Requests the deployment serves at once (Azure answers 429 beyond twice this in flight)."""
        if self.max_concurrent_requests_per_instance is None:
            return None
        return self.max_concurrent_requests_per_instance * (self.instance_count or 1)

    def public(self) -> dict[str, object]:
        """What a report may say about the target: no headers, no key."""
        return {
            "kind": self.kind,
            "url": shown_url(self.url),
            "deployment": self.deployment,
            "max_concurrent_requests_per_instance": self.max_concurrent_requests_per_instance,
            "instance_count": self.instance_count,
            "capacity": self.capacity,
            "request_timeout_ms": self.request_timeout_ms,
            "description": self.description,
        }


class Target(Protocol):
    """Something a run can be pointed at."""

    def open(self) -> AbstractAsyncContextManager[ResolvedTarget]:
        """Make the target ready (start it, sign in, fetch its key) for the length of a run.

        Returns:
            An async context manager yielding the resolved target and releasing it on exit.

        Raises:
            MoetuiError: The target cannot be resolved (missing key, failed start-up).
        """
        ...
