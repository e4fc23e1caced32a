"""Recorded ARM traffic: request/response pairs from the Azure SDK for Python's own recorded test sessions
(real service answers; sources, commits and what was trimmed in README.md here).

A test asks for the recorded exchange of a method and a URL path pattern; the recording's sanitized names
(subscription `00000000-0000-0000-0000-000000000`, resource group and workspace `00000`) become the fake
workspace's, and `names` renames anything else (an endpoint, a compute, a region)::

    put = recorded("online_deployment", "PUT", r"/deployments/[^/]+$", names={"online-ept-10cd4ed17147449": "ep"})
    put.body["properties"]["provisioningState"]     # "Updating", as Azure answered a deployment creation
    transport.add("PUT", r"/deployments/ep$", answer=lambda r, m: put.reply())

`replay(transport, name)` serves a whole cassette: each method and path answers its recorded replies in
order, the last one repeating (an operation polled more often than recorded stays at its last status).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fixtures.azure_transport import CannedTransport, Reply, sequence

RECORDED = Path(__file__).parent
#: The names the SDK's test proxy wrote in place of the real ones.
RECORDED_SUBSCRIPTION = "00000000-0000-0000-0000-000000000"
RECORDED_GROUP = "00000"
RECORDED_WORKSPACE = "00000"
#: The recorded resources' names, for `names=` (the SDK tests generated them).
RECORDED_ENDPOINT = "online-ept-10cd4ed17147449"
RECORDED_COMPUTE = "test602691254317"
RECORDED_JOB = "000000000000000000000"
RECORDED_HUB = "e2etest_test_236627025130"


@dataclass(frozen=True)
class Exchange:
    """One recorded request and the service's answer to it."""

    method: str
    path: str
    """The URL path, without host and query (what CannedTransport routes match)."""
    query: dict[str, list[str]]
    request: Any
    """The JSON body the SDK sent (None when it sent none)."""
    status: int
    headers: dict[str, str]
    """Only the headers a client acts on were kept (Azure-AsyncOperation, Location, operation timeout)."""
    body: Any

    def reply(self, **changes: Any) -> Reply:
        """This answer as a canned Reply (a fresh copy of the body each time, so callers may edit it);
        `changes` set top-level keys of the body."""
        body = copy.deepcopy(self.body)
        if changes:
            body.update(changes)
        # The service sends the text "null" for a DELETE's 202; the SDK ignores the body of a 202.
        if body == "null" or body is None:
            return Reply(self.status, headers=dict(self.headers))
        return Reply(self.status, json=body, headers=dict(self.headers))


def _substitute(text: str, subscription: str, group: str, workspace: str, names: Mapping[str, str]) -> str:
    text = text.replace(f"/subscriptions/{RECORDED_SUBSCRIPTION}", f"/subscriptions/{subscription}")
    text = text.replace(f"resourceGroups/{RECORDED_GROUP}/", f"resourceGroups/{group}/")
    text = text.replace(f"resourcegroups/{RECORDED_GROUP}/", f"resourcegroups/{group.lower()}/")
    text = re.sub(rf"workspaces/{RECORDED_WORKSPACE}(?=[/\"?])", f"workspaces/{workspace}", text)
    text = re.sub(rf'"(name|friendlyName)": "{RECORDED_WORKSPACE}"', rf'"\1": "{workspace}"', text)
    for old in sorted(names, key=len, reverse=True):
        text = text.replace(old, names[old])
    return text


def cassette(
    name: str,
    *,
    subscription: str | None = None,
    resource_group: str | None = None,
    workspace: str | None = None,
    names: Mapping[str, str] | None = None,
) -> list[Exchange]:
    """Every exchange of recording `name` (a file stem here), in recorded order, with the recorded
    workspace's names replaced by these (default: tests/azure/fake_arm.py's workspace) and each `names`
    key (longest first) by its value."""
    # Imported here: fake_arm serves these recordings, so it imports this module.
    from tests.azure import fake_arm

    text = _substitute(
        (RECORDED / f"{name}.json").read_text(),
        subscription or fake_arm.SUB,
        resource_group or fake_arm.RG,
        workspace or fake_arm.WS,
        names or {},
    )
    exchanges = []
    for entry in json.loads(text)["Entries"]:
        url = urlsplit(entry["RequestUri"])
        exchanges.append(
            Exchange(
                method=entry["RequestMethod"],
                path=url.path,
                query=parse_qs(url.query),
                request=entry["RequestBody"],
                status=entry["StatusCode"],
                headers=dict(entry.get("ResponseHeaders") or {}),
                body=entry["ResponseBody"],
            )
        )
    return exchanges


def recorded(name: str, method: str, path: str, *, nth: int = 0, **substitutions: Any) -> Exchange:
    """The `nth` exchange (0: the first) of recording `name` with this method and a path matching the
    regex `path` (searched, case-insensitive); `substitutions` as for `cassette`."""
    pattern = re.compile(path, re.IGNORECASE)
    found = [e for e in cassette(name, **substitutions) if e.method == method.upper() and pattern.search(e.path)]
    if len(found) <= nth:
        raise LookupError(f"{name}.json has {len(found)} {method} exchanges matching {path!r}, not {nth + 1}")
    return found[nth]


def recorded_body(name: str, method: str, path: str, *, nth: int = 0, **substitutions: Any) -> Any:
    """The response body of `recorded(...)`: a fresh copy the caller may change."""
    return copy.deepcopy(recorded(name, method, path, nth=nth, **substitutions).body)


def replay(transport: CannedTransport, name: str, **substitutions: Any) -> None:
    """Serve recording `name` on `transport`: each recorded method and path answers its recorded replies
    in order, then repeats the last."""
    grouped: dict[tuple[str, str], list[Reply]] = {}
    for exchange in cassette(name, **substitutions):
        grouped.setdefault((exchange.method, exchange.path), []).append(exchange.reply())
    for (method, path), replies in grouped.items():
        transport.add(method, f"^{re.escape(path)}$", answer=sequence(*replies))
