"""Each node's share of a LoadPlan when several machines split it, and what a node's report says of it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from moetui.engine.plan import LoadPlan
from moetui.errors import ConfigError

#: Seeds of node k's generators start here apart, so that no two nodes draw the same arrivals.
SEED_STRIDE = 1000


def node_share(plan: LoadPlan, rank: int, nodes: int) -> LoadPlan:
    """Node `rank`'s part of `plan` when `nodes` machines split it: connections, clients, the request
    budget and step levels divided as LoadPlan.share divides them between worker processes (the first
    `total % nodes` nodes take one more, so the parts add up to the total), the rate divided evenly. The
    node's own generator processes then split its part again.

    Raises:
        ConfigError: A node would get no connection (or client) of its own, or fewer than its workers.
    """
    check_nodes(plan, nodes)
    if nodes == 1:
        return plan
    part = replace(plan, workers=nodes).share(rank)
    return replace(
        part,
        workers=plan.workers,
        seed=None if plan.seed is None else plan.seed + SEED_STRIDE * rank,
    )


def check_nodes(plan: LoadPlan, nodes: int) -> None:
    """Each node needs at least one connection (client, request) of its own, and as many as its workers.

    Raises:
        ConfigError: Naming the setting that is too small.
    """
    if nodes < 1:
        raise ConfigError(f"--nodes {nodes}: at least 1")
    if plan.mode == "burst":
        least, key = plan.burst_size, "load.requests" if plan.requests else "load.connections"
    elif plan.mode == "steps" and plan.steps_over == "connections":
        least, key = int(min(plan.steps_levels)), "steps.levels"
    elif plan.timetable:
        least, key = plan.clients, "load.clients"
    else:
        least, key = plan.connections, "load.connections"
    if plan.requests and plan.mode != "burst" and plan.requests < nodes:
        least, key = min(least, plan.requests), "load.requests"
    needed = nodes * max(1, plan.workers if plan.mode != "burst" else 1)
    if least < needed:
        raise ConfigError(
            f"--nodes {nodes}: {key} comes to {least:g}, but each of {nodes} nodes needs at least "
            f"{needed // nodes} of its own; allowed: --nodes at most {max(1, int(least) // max(1, needed // nodes))}, "
            f"or a larger {key}"
        )


def share_block(plan: LoadPlan) -> dict[str, Any]:
    """What a node's report says about its share (to check that the shares add up to the plan)."""
    return {
        "connections": plan.connections,
        "clients": plan.clients,
        "rate": plan.rate,
        "requests": plan.requests,
        "steps_levels": list(plan.steps_levels),
        "workers": plan.workers,
    }
