"""An Azure matrix checked before anything is created: each created cell's instance type against the managed
online endpoint SKU list, its instance count and the endpoint's deployment count against Azure's limits, and
the vCPU quota its deployments need at once (with Azure's 20 % upgrade reserve) against what the
workspace's region has left. Every problem names the cell and the limit. No textual, rich or azure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from moetui.azure.quota import Usage, family_key
from moetui.errors import ConfigError
from moetui.matrix.skus import (
    ENDPOINT_MAX_CONNECTIONS,
    MAX_DEPLOYMENTS,
    MAX_INSTANCES,
    UPGRADE_RESERVE,
    find_sku,
)

#: Where the SKU list is published (named in a refusal).
SKU_LIST_URL = "https://learn.microsoft.com/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list"
QUOTA_URL = "https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas"


def check_sizes(source: str, kinds: Mapping[str, tuple[str, int]], connections: Mapping[str, int]) -> None:
    """Each created cell's instance type and count, and its load's connections, against Azure's limits.

    Args:
        kinds: Created cell name -> (instance type, instance count).
        connections: Cell name -> connections (or clients) its load holds open at once.

    Raises:
        ConfigError: Every problem, each naming the cell and the limit.
    """
    problems = []
    for cell, (instance_type, count) in kinds.items():
        if instance_type.startswith("local-"):
            problems.append(
                f"{source}: cell {cell}: instance_type {instance_type!r} is moetui's local size (for [target.local]); "
                f"a managed online endpoint takes a size of Microsoft's SKU list ({SKU_LIST_URL})."
            )
        elif find_sku(instance_type) is None:
            problems.append(
                f"{source}: cell {cell}: instance_type {instance_type!r} is not on Microsoft's managed online "
                f"endpoint SKU list ({SKU_LIST_URL}); allowed: a listed size such as Standard_DS3_v2."
            )
        if count > MAX_INSTANCES:
            problems.append(
                f"{source}: cell {cell}: instance_count {count} is over Azure's limit of {MAX_INSTANCES} instances "
                "per deployment."
            )
    for cell, held in connections.items():
        if held > ENDPOINT_MAX_CONNECTIONS:
            problems.append(
                f"{source}: cell {cell}: its load holds {held} connections; a managed online endpoint takes "
                f"{ENDPOINT_MAX_CONNECTIONS} across all its deployments."
            )
    if problems:
        raise ConfigError("\n".join(problems))


def deployments_at_most(existing: int, created: int, parallel: int, keep: bool) -> int:
    """Deployments the endpoint holds at the busiest moment: those it has, plus `parallel` of the created
    (all of them with keep: none is deleted)."""
    return existing + (created if keep else min(parallel, created))


def check_deployment_count(source: str, endpoint: str, existing: int, created: int, parallel: int, keep: bool) -> None:
    """Raises ConfigError when the endpoint would hold more deployments than Azure allows."""
    most = deployments_at_most(existing, created, parallel, keep)
    if most > MAX_DEPLOYMENTS:
        why = "keep = true leaves every one" if keep else f"parallel = {parallel}"
        raise ConfigError(
            f"{source}: matrix: endpoint {endpoint} would hold {most} deployments ({existing} there already, "
            f"{created} created, {why}); Azure allows {MAX_DEPLOYMENTS} per endpoint."
        )


@dataclass
class FamilyNeed:
    """The vCPUs one VM family needs at the busiest moment."""

    family: str
    cores: int = 0
    cells: list[tuple[str, int]] = field(default_factory=list)
    """(cell, its vCPUs) of the cells counted, largest first."""


def family_needs(kinds: Mapping[str, tuple[str, int]], parallel: int, keep: bool) -> dict[str, FamilyNeed]:
    """Per VM family, the vCPUs of quota the created deployments need at once: each deployment's
    ceil(1.2 x instances) x cores, summed over the largest `parallel` of the family (all with keep)."""
    per: dict[str, list[tuple[str, int, str]]] = {}
    for cell, (instance_type, count) in kinds.items():
        sku = find_sku(instance_type)
        if sku is not None:
            per.setdefault(family_key(sku.family), []).append((cell, sku.cores_needed(count), sku.family))
    needs = {}
    for key, rows in per.items():
        rows.sort(key=lambda row: -row[1])
        counted = rows if keep else rows[:parallel]
        needs[key] = FamilyNeed(rows[0][2], sum(r[1] for r in counted), [(r[0], r[1]) for r in counted])
    return needs


def quota_lines(
    needs: Mapping[str, FamilyNeed], usage: Sequence[Usage], region: str, parallel: int, keep: bool
) -> tuple[list[str], str | None]:
    """The plan's quota lines (vCPUs needed vs available), and the shortfall's message (None: enough)."""
    at_once = "every deployment kept" if keep else f"at most {parallel} deployment(s) at once"
    lines = [
        f"Quota in {region} (vCPUs; Azure reserves {UPGRADE_RESERVE:.0%} more of each deployment's instances "
        f"for upgrades, {at_once}):"
    ]
    families = {family_key(row.name): row for row in usage if "vmfamily" in row.kind.lower()}
    total = next((row for row in usage if "dedicatedcores" in row.kind.lower()), None)
    short: list[str] = []
    for key, need in needs.items():
        row = families.get(key)
        cells = ", ".join(f"{cell} {cores}" for cell, cores in need.cells)
        if row is None:
            lines.append(f"  {need.family}: needs {need.cores} ({cells}); its quota is not listed, not checked")
            continue
        available = row.available
        lines.append(
            f"  {need.family}: needs {need.cores} ({cells}), available {available} "
            f"(limit {row.limit}, {row.current} in use)"
        )
        if need.cores > available:
            short.append(
                f"cell {need.cells[0][0]} and the deployments beside it need {need.cores} vCPUs of "
                f"{need.family} quota in {region} ({cells}), {available} available (limit {row.limit}, "
                f"{row.current} in use)"
            )
    if total is not None:
        needed = sum(need.cores for need in needs.values())
        available = total.available
        lines.append(
            f"  all families: needs {needed}, available {available} (limit {total.limit}, {total.current} in use)"
        )
        if needed > available:
            short.append(
                f"the cells need {needed} vCPUs in all in {region}, {available} available of the regional "
                f"limit {total.limit}"
            )
    if not short:
        return lines, None
    return lines, (
        "Not enough quota: "
        + "; ".join(short)
        + f". Ask for more quota ({QUOTA_URL}), or lower parallel or instance_count; nothing was created."
    )
