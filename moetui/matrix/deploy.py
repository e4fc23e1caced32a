"""Azure cells: one endpoint (the one [target.azure] names, or a new one with a random name), one deployment
per cell created from scoring_app/ with the cell's settings and 0 % of the traffic (reached with
`azureml-model-deployment`), a few created at a time (`parallel`: a deployment holds its slot from
creation to deletion, so at most that many exist at once), each deleted once its cell is measured unless
`keep`. Ctrl-C or a failure deletes what this run created, never an endpoint or deployment that existed
before. Imports the Azure SDK only through moetui.azure; no textual, rich."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from moetui.config.schema import AzureTarget, Config
from moetui.deployments.base import DeploymentError, DeploymentRequest, Workspace
from moetui.deployments.names import name_problem, random_endpoint_name
from moetui.matrix.axes import Cell
from moetui.matrix.config import MatrixSpec
from moetui.matrix.prices import Price

#: Seconds one deployment takes to create, for the plan: Azure's are typically 5 to 15 minutes.
DEPLOY_ESTIMATE_S = 8 * 60
#: How long a stopped run waits for creations under way (their threads) before deleting what they made.
SETTLE_S = 120.0
#: Seconds between tries of a deployment refused because the endpoint is busy with another operation.
BUSY_BACKOFF_S: tuple[float, ...] = (15.0, 30.0, 60.0, 120.0, 240.0)
#: Azure's refusal while the endpoint is busy: "Cannot create a deployment ... because it is in Updating
#: provisioning state" (another deployment of the matrix being created or deleted).
_BUSY = re.compile(r"in (Updating|Creating|Deleting) provisioning state", re.IGNORECASE)


def is_busy(message: str) -> bool:
    """Whether a failed creation was refused only because the endpoint was busy (worth trying again)."""
    return _BUSY.search(message) is not None


#: How the plan begins its warning about an endpoint that carries traffic (a plan saying it is asked about).
TRAFFIC_WARNING = "Warning: endpoint "


def creates_deployments(spec: MatrixSpec) -> bool:
    """Whether the matrix creates a deployment per cell (an Azure matrix not naming existing ones)."""
    return spec.target_kind == "azure" and not all(cell.deployment for cell in spec.cells)


def asks_consent(spec: MatrixSpec, plan: str) -> bool:
    """Whether the plan needs a yes before anything starts: it creates deployments (they bill), or it loads
    an endpoint that carries traffic (production shares its limits)."""
    return creates_deployments(spec) or TRAFFIC_WARNING in plan


async def traffic_warning(target: AzureTarget) -> list[str]:
    """The plan's warning when the endpoint of a matrix of existing deployments carries traffic."""
    cells = AzureCells(target, new_endpoint=False, keep=True, parallel=1, say=lambda _line: None)
    try:
        return await cells.traffic_note(await cells.existing())
    finally:
        await cells.close()


def with_endpoint(spec: MatrixSpec) -> tuple[MatrixSpec, bool]:
    """The spec with an endpoint name in [target.azure] (a random one when the file names none), and whether
    the name was made up here (then the endpoint is new and this run's to delete)."""
    target = spec.base.get("target", {}).get("azure", {})
    if isinstance(target, dict) and target.get("endpoint"):
        return spec, False
    base = {**spec.base, "target": {**spec.base.get("target", {}), "azure": {**target}}}
    base["target"]["azure"]["endpoint"] = random_endpoint_name()
    return dataclasses.replace(spec, base=base), True


def deployment_names(cells: Sequence[Cell], taken: Collection[str]) -> dict[str, str]:
    """A short valid deployment name per cell, derived from its name ("c3-w3", "cell-w1" for a name too short,
    "m01" when nothing of it is left), unique within the run and never one the endpoint already has (Azure compares
    names without regard to case; a PUT on a taken name would change someone's deployment)."""
    used = {name.casefold() for name in taken}
    names: dict[str, str] = {}
    for index, cell in enumerate(cells):
        slug = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", cell.name.lower())).strip("-")[:28].rstrip("-")
        if slug and name_problem(slug, "deployment") is not None:
            slug = f"cell-{slug}"[:28].rstrip("-")  # "w1" is too short, "3x" starts with a digit
        if not slug or name_problem(slug, "deployment") is not None:
            slug = f"m{index + 1:02d}"
        name, suffix = slug, 2
        while name.casefold() in used:
            name, suffix = f"{slug}-{suffix}", suffix + 1
        used.add(name.casefold())
        names[cell.name] = name
    return names


def request_of(config: Config, defaults: DeploymentRequest) -> DeploymentRequest:
    """A cell's deployment: deployment.yml's settings under its [target.azure] table's."""
    from moetui.azure.lifecycle import request_for  # the one mapping of [target.azure] onto a request

    assert config.target.azure is not None
    return request_for(config.target.azure, defaults)


def plan_lines(
    endpoint: str,
    new_endpoint: bool,
    names: dict[str, str],
    kinds: dict[str, tuple[str, int]],
    prices: dict[str, Price],
    measure_s: float,
    spec: MatrixSpec,
) -> list[str]:
    """What will be created, how long it takes and what it costs, for the question before anything is."""
    lines = [
        "Creates in Azure: "
        + (f"endpoint {endpoint} (new, deleted at the end)" if new_endpoint else f"on endpoint {endpoint} (kept)")
        + f", {len(names)} deployment(s) with 0 % of its traffic, at most {spec.parallel} at a time:"
    ]
    total, unknown = 0.0, []
    hours = (DEPLOY_ESTIMATE_S + spec.rounds * measure_s) / 3600
    for cell, name in names.items():
        instance_type, count = kinds[cell]
        price = prices.get(instance_type)
        if price is None or price.per_hour is None:
            unknown.append(instance_type)
            cost = "cost unknown (no price)"
        else:
            total += count * price.per_hour * hours
            cost = f"about {count * price.per_hour * hours:.2f} {price.currency}"
        lines.append(f"  {name} (cell {cell}): {instance_type} x {count}, {cost}")
    batches = math.ceil(len(names) / spec.parallel)
    minutes = (batches * DEPLOY_ESTIMATE_S + len(names) * spec.rounds * measure_s) / 60
    lines.append(
        f"Deployment time: about {DEPLOY_ESTIMATE_S / 60:.0f} min per deployment (Azure takes 5 to 15), "
        f"{spec.parallel} at a time while the previous cell is measured: about {minutes:.0f} min in all."
    )
    keep = "; keep = true: they stay, and bill, until you delete them" if spec.keep else ""
    lines.append(
        f"Cost: about {total:.2f} (instance count x price per hour x {hours * 60:.0f} min each)"
        + (f", plus {', '.join(sorted(set(unknown)))} without a price" if unknown else "")
        + keep
        + "."
    )
    return lines


class AzureCells:
    """The endpoint and the cells' deployments of one matrix run.

    Args:
        target: The base [target.azure] table (workspace and endpoint).
        new_endpoint: The endpoint is to be created by this run (and deleted at the end unless keep).
        say: Progress lines.
        deployment_file: The user's deployment YAML the cells are created from (None: scoring_app's).
    """

    def __init__(
        self,
        target: AzureTarget,
        *,
        new_endpoint: bool,
        keep: bool,
        parallel: int,
        say: Callable[[str], None],
        deployment_file: Path | None = None,
    ) -> None:
        from moetui.azure.clients import current_clients
        from moetui.azure.deployments import AzureDeployments

        self.target = target
        self.endpoint = target.endpoint
        self.new_endpoint = new_endpoint
        self.keep = keep
        self.say = say
        workspace = Workspace(target.workspace, target.resource_group, target.subscription_id)

        def make() -> AzureDeployments:
            return AzureDeployments(workspace, clients=current_clients(), deployment_file=deployment_file)

        self._make = make
        self.service = make()
        self._slots = asyncio.Semaphore(parallel)
        self._creating: dict[str, asyncio.Task[None]] = {}
        self._names: dict[str, str] = {}
        self._opening: asyncio.Task[None] | None = None
        self._deleting: list[asyncio.Task[None]] = []
        self.created: list[str] = []
        """Deployments this run asked Azure to create, in order (a PUT sent is a deployment to delete)."""
        self.endpoint_created = False
        self.finished = False

    async def existing(self) -> list[str] | None:
        """The endpoint's deployments now (None: no such endpoint); read before the plan, nothing created."""
        found = await self.service.deployment_names(self.endpoint)
        if found is None:
            self.new_endpoint = True
        elif self.new_endpoint:
            raise DeploymentError(f"endpoint {self.endpoint} exists already; run again for another random name.")
        return found

    async def location(self) -> str:
        """The workspace's region (where the instances run, priced and counted against quota)."""
        from moetui.azure.quota import workspace_location

        return await workspace_location(self.service.ml, self.target.workspace)

    async def capacity(
        self, source: str, kinds: dict[str, tuple[str, int]], location: str, parallel: int, keep: bool
    ) -> list[str]:
        """The plan's quota lines: vCPUs the created deployments need at once vs what the region has left.

        Raises:
            DeploymentError: Not enough quota (before anything is created), naming the cell and the limit.
        """
        from moetui.azure.quota import vcpu_usage
        from moetui.matrix.capacity import family_needs, quota_lines

        needs = family_needs(kinds, parallel, keep)
        if not needs:
            return []
        try:
            usage = await vcpu_usage(self.service.ml, location)
        except DeploymentError as exc:  # a reader role may not list usage: the plan says it was not checked
            return [f"Quota in {location}: not checked ({exc.message})"]
        lines, short = quota_lines(needs, usage, location, parallel, keep)
        if short is not None:
            raise DeploymentError(f"{source}: {short}", title="Not enough quota")
        return lines

    async def traffic_note(self, existing: list[str] | None) -> list[str]:
        """A warning for the plan when the endpoint already carries traffic: the matrix's load shares the
        endpoint's limits with it."""
        from moetui.matrix.skus import ENDPOINT_MAX_CONNECTIONS, ENDPOINT_MAX_RPS

        if self.new_endpoint or not existing:
            return []
        split = {name: share for name, share in (await self.service.traffic(self.endpoint)).items() if share}
        if not split:
            return []
        shares = ", ".join(f"{name} {share} %" for name, share in split.items())
        return [
            f"{TRAFFIC_WARNING}{self.endpoint} carries traffic ({shares}). Its limits ({ENDPOINT_MAX_RPS} "
            f"requests/s and {ENDPOINT_MAX_CONNECTIONS} connections) hold across all its deployments: the "
            "matrix's load counts against them, and production requests may be throttled while it runs."
        ]

    def defaults(self, deployment: str | None = None) -> DeploymentRequest:
        """deployment.yml's settings on this endpoint (under `deployment`'s name when given)."""
        request = dataclasses.replace(self.service.default_request(), endpoint=self.endpoint)
        return dataclasses.replace(request, deployment=deployment) if deployment else request

    async def open(self) -> None:
        """Create the endpoint when it is new."""
        if self.new_endpoint:
            self.say(f"moetui: creating endpoint {self.endpoint}")
            self.endpoint_created = True  # a PUT sent, even one that fails, is this run's to delete
            self._opening = asyncio.create_task(
                self.service.create_endpoint(self.defaults(), lambda line: self.say("  " + line))
            )
            await asyncio.shield(self._opening)  # a Ctrl-C stops the wait; cleanup waits for the PUT

    def start(self, cell: Cell, request: DeploymentRequest) -> None:
        """Create the cell's deployment as soon as a slot is free (cells queue in the order started)."""

        async def create() -> None:
            await self._slots.acquire()
            self.created.append(request.deployment)
            self.say(f"moetui: creating deployment {request.deployment} for cell {cell.name}")
            for wait_s in (*BUSY_BACKOFF_S, None):
                try:
                    await self.service.add_deployment(
                        request, lambda line: self.say("  " + line), environment=cell.environment or None
                    )
                    return
                except DeploymentError as exc:
                    if wait_s is None or not is_busy(exc.message):
                        raise
                    self.say(
                        f"moetui: endpoint {self.endpoint} is busy with another operation; deployment "
                        f"{request.deployment} is tried again in {wait_s:g} s"
                    )
                    await asyncio.sleep(wait_s)

        self._names[cell.name] = request.deployment
        self._creating[cell.name] = asyncio.create_task(create())

    def _holds_slot(self, cell: str) -> bool:
        return self._names.get(cell) in self.created

    async def ready(self, cell: Cell, deployment: str) -> None:
        """Wait until the cell's deployment is created.

        Raises:
            DeploymentError: Its creation failed (the message names the cell).
        """
        try:
            await asyncio.shield(self._creating[cell.name])  # a Ctrl-C stops the wait, not the creation
        except DeploymentError as exc:
            raise DeploymentError(
                f"cell {cell.name}: deployment {deployment} of endpoint {self.endpoint}: {exc.message}",
                title="Deployment failed",
            ) from exc

    def measured(self, deployment: str) -> None:
        """The cell is measured: delete its deployment in the background (unless keep), freeing its slot."""
        if self.keep:
            self._slots.release()
            return

        async def delete() -> None:
            try:
                await self.service.delete_deployment(self.endpoint, deployment, lambda line: self.say("  " + line))
                self.created.remove(deployment)
            finally:
                self._slots.release()

        self._deleting.append(asyncio.create_task(delete()))

    async def finish(self) -> None:
        """Every cell measured: wait for the deletions; delete the new endpoint too (unless keep)."""
        await asyncio.gather(*self._deleting)
        if self.keep:
            kept = ", ".join(self.created) or "none"
            self.say(f"moetui: keep = true: endpoint {self.endpoint} and its deployments {kept} stay (and bill).")
        elif self.endpoint_created:
            await self.service.delete(self.endpoint, lambda line: self.say("  " + line))
        self.finished = True

    async def cleanup(self) -> None:
        """After Ctrl-C or a failure: wait for the creations under way, then delete all this run created."""
        self.service.stop_waiting()  # creations in their threads stop polling at the next tick
        for name, task in self._creating.items():
            if not task.done() and not self._holds_slot(name):
                task.cancel()  # queued for a slot: nothing sent yet, and now nothing will be
        # Those holding a slot may be uploading or have sent their PUT: wait, so no PUT lands after a DELETE.
        # Those still queued for a slot have sent nothing: cancelled below.
        started = [t for name, t in self._creating.items() if not t.done() and self._holds_slot(name)]
        if self._opening is not None and not self._opening.done():
            started.append(self._opening)
        if started:
            await asyncio.wait(started, timeout=SETTLE_S)
        for task in self._creating.values():
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # seen: a failure is reported by ready(), not as "never retrieved"
        if self._opening is not None and self._opening.done() and not self._opening.cancelled():
            self._opening.exception()
        await asyncio.gather(*self._deleting, return_exceptions=True)
        cleaner = self._make()  # a fresh service: the first one's waits are stopped
        try:
            if self.endpoint_created:
                self.say(f"moetui: deleting endpoint {self.endpoint} and the deployments this run created")
                await cleaner.delete(self.endpoint, lambda line: self.say("  " + line))
            else:
                for name in list(self.created):
                    self.say(f"moetui: deleting deployment {name} (created by this run)")
                await asyncio.gather(
                    *(
                        cleaner.delete_deployment(self.endpoint, name, lambda line: self.say("  " + line))
                        for name in self.created
                    )
                )
            self.created.clear()
        except DeploymentError as exc:
            what = f"endpoint {self.endpoint}" if self.endpoint_created else f"deployments {', '.join(self.created)}"
            self.say(f"moetui: could not delete {what}: {exc.message} Delete them in the Azure portal.")
            raise
        finally:
            await cleaner.close()

    async def close(self) -> None:
        await self.service.close()


def measure_order(todo: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Azure cells are measured round after round while their deployment exists (A A B B), so each
    deployment is created once and lives only as long as its own measurements."""
    return sorted(todo, key=lambda item: (item[1], item[0]))
