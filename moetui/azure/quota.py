"""What a matrix needs to know of a workspace before it creates anything: the workspace's region and the
Azure ML vCPU quota there (`ml.compute.list_usage()`, the ARM call
`GET /subscriptions/{id}/providers/Microsoft.MachineLearningServices/locations/{region}/usages`).
Blocking SDK calls run in threads (moetui.azure.calls)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from moetui.azure.calls import in_thread


@dataclass(frozen=True)
class Usage:
    """One row of the usage list: a VM family's dedicated vCPUs, or the region's total."""

    name: str
    """As Azure names it: "Standard DSv2 Family Cluster Dedicated vCPUs"."""
    kind: str
    """Its type: "Microsoft.MachineLearningServices/vmFamily/usages", ".../dedicatedCores/usages", ..."""
    current: int
    limit: int

    @property
    def available(self) -> int:
        return max(0, self.limit - self.current)


async def workspace_location(ml: Callable[[], Any], workspace: str) -> str:
    """The workspace's Azure region ("westeurope").

    Args:
        ml: Makes (or returns) the workspace's MLClient, in the SDK call's thread.
    """
    found = await in_thread(f"reading workspace {workspace}", lambda: ml().workspaces.get(name=workspace))
    return str(found.location or "")


def family_key(name: str) -> str:
    """A VM family compared across spellings: the SKU list's "standard NCASv3_T4 Family", the size list's
    "standardNCASv3_T4Family" and the usage API's "Standard NCASv3_T4 Family Cluster Dedicated vCPUs" all give
    "standardncasv3_t4family"."""
    text = re.sub(r"\s*cluster\s+dedicated\s+vcpus\s*$", "", name.strip(), flags=re.IGNORECASE)
    return re.sub(r"\s+", "", text).lower()


def usage_rows(ml: Any, location: str | None = None) -> list[Usage]:
    """The subscription's Azure ML vCPU usage and limits in `location` (None: the workspace's region), per VM
    family and in total. Blocking."""
    rows = []
    for item in ml.compute.list_usage(location=location):
        name = getattr(item, "name", None)
        text = name.get("value") if isinstance(name, dict) else getattr(name, "value", None)
        # The installed azure-ai-ml's Usage entity copies the REST model's as_dict() keys, camelCase in
        # its newer models: `current_value` stays None and the count sits under `currentValue`.
        current = getattr(item, "current_value", None)
        if current is None:
            current = vars(item).get("currentValue")
        limit = getattr(item, "limit", None)
        if text and isinstance(current, int) and isinstance(limit, int):
            rows.append(Usage(str(text), str(getattr(item, "type", "") or ""), current, limit))
    return rows


def family_row(rows: Sequence[Usage], family: str) -> Usage | None:
    """The region's dedicated-vCPU row of a VM family (type .../vmFamily/usages: the quota; the same family is
    listed once more per scope, workspace or cluster). None when Azure lists none."""
    return next(
        (row for row in rows if "vmfamily" in row.kind.lower() and family_key(row.name) == family_key(family)), None
    )


async def vcpu_usage(ml: Callable[[], Any], location: str) -> list[Usage]:
    """The subscription's Azure ML vCPU usage and limits in `location`, per VM family and in total."""
    return await in_thread(f"reading the Azure ML quota in {location}", lambda: usage_rows(ml(), location))
