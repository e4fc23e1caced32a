"""Driving a matrix: each cell's configuration (the base with the cell's settings laid over it) measured the
same way, round after round (A B A B ...), through the session every run goes through. A local cell is a
local endpoint started with the cell's settings (instance type = CPUs pinned) and loaded as a URL, so the
endpoint stays up across a goodput search's probes and its processes can be sampled. An Azure cell is a
deployment created for it (moetui.matrix.deploy), its rounds back to back. Finished measurements
go to the state file at once; the answer (table, recommendation, chart, JSON report) at the end.
It prints nothing: its faces (the CLI's printer, moetui.matrix.printer; the app's screen through
moetui.matrix.process) hear it as a MatrixListener's events. No textual; rich is not used."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import signal
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moetui.config.dump import config_to_dict
from moetui.config.load import ConfigLayer, load_config
from moetui.config.schema import Config
from moetui.config.timing import request_timeout_s
from moetui.deployments.base import DeploymentError
from moetui.engine.run import Run
from moetui.errors import ConfigError, ExitStatus
from moetui.local_endpoint.usage import Sampler
from moetui.matrix.axes import Cell
from moetui.matrix.capacity import check_deployment_count, check_sizes
from moetui.matrix.cells import PreparedCell, base_dir, cell_config, check_cells
from moetui.matrix.config import GoodputSpec, MatrixSpec
from moetui.matrix.deploy import (
    AzureCells,
    creates_deployments,
    deployment_names,
    measure_order,
    plan_lines,
    request_of,
    traffic_warning,
    with_endpoint,
)
from moetui.matrix.prices import Price, cost_per_hour, find_prices, prices_block
from moetui.matrix.recommend import cell_summary, format_chart, format_recommendation, format_table, recommend
from moetui.matrix.search import Probe, goodput_search, judge, slo_thresholds
from moetui.matrix.skus import ENDPOINT_MAX_CONNECTIONS, ENDPOINT_MAX_RPS
from moetui.matrix.state import MatrixState
from moetui.report.codec import write_report
from moetui.report.model import Report
from moetui.report.progress import progress_line

# The one import of the session (a run per probe or cell).
from moetui.session.run_session import run_session
from moetui.session.watch import watch_snapshots

MATRIX_SCHEMA = "moetui.matrix/1"
#: The local endpoint's key reaches a cell's URL target through this variable, never a file or the report.
KEY_ENV = "MOETUI_MATRIX_ENDPOINT_KEY"
#: Seconds a local cell takes to start its endpoint and stop it, for the estimate (1-3 s measured per instance).
LOCAL_START_S = 6.0
#: Seconds between a run's progress lines.
PROGRESS_EVERY_S = 5.0
#: Probes a goodput search takes, for the estimate (doubling then bisecting to 10 %: 6-9).
PROBES_ESTIMATE = 8


class MatrixListener:
    """What a face hears of a matrix: the CLI's printer (moetui.matrix.printer) prints it; the app's
    screen hears it through a child process (moetui.matrix.process). Each event does nothing here."""

    def said(self, line: str) -> None:
        """A progress line: the plan, a cell begun, a probe, the endpoint starting, a deployment's state."""

    def cell_started(self, index: int, round_index: int, rounds: int, left_s: float) -> None:
        """Cell `index` (0-based, of spec.cells) begins its round `round_index` (0-based); `left_s`: the
        estimate of what is left, this cell included."""

    async def watch(self, run: Run) -> None:
        """Runs beside each run of a cell (a fixed load's, or a probe's) until it ends."""

    def cell_measured(self, index: int, row: dict[str, Any]) -> None:
        """Cell `index`'s figures over the rounds measured so far (cell_summary's, no measurements)."""

    def answered(self, report: dict[str, Any]) -> None:
        """Every cell was measured: the matrix's report (its answer: format_answer)."""

    def report_written(self, path: Path) -> None:
        """The report was written to `path`."""

    def ended(self, status: ExitStatus) -> None:
        """The matrix ended with `status` (also when interrupted or not started)."""


@dataclass
class Progress:
    """Cell i of N, its settings, the probe under way, elapsed and what is left."""

    listener: MatrixListener
    total: int
    estimate_s: float
    """Estimated seconds per measurement, until one is done."""
    started: float = field(default_factory=time.monotonic)
    durations: list[float] = field(default_factory=list)
    where: str = ""
    left: int = 0

    def say(self, line: str) -> None:
        self.listener.said(line)

    def begin(self, index: int, round_index: int, rounds: int, cell: Cell, left: int) -> None:
        self.left = left
        round_text = f" round {round_index + 1}/{rounds}" if rounds > 1 else ""
        self.where = f"cell {index + 1}/{self.total}{round_text} {cell.name}"
        self.say(f"[{self.where}] {cell.describe()}  ({self.times()})")

    def times(self) -> str:
        elapsed = time.monotonic() - self.started
        return f"elapsed {elapsed:.0f} s, about {self.left_s():.0f} s left"

    def left_s(self) -> float:
        """Seconds left: the measurements left times the mean so far (the estimate before the first)."""
        per = sum(self.durations) / len(self.durations) if self.durations else self.estimate_s
        return per * self.left

    def probe(self, probe: Probe) -> None:
        v = probe.verdict
        outcome = "met" if v.passed else ("invalid, repeated" if not probe.used else "missed")
        p99 = f"{v.p99_ms:.1f}" if v.p99_ms is not None else "-"
        why = f" ({'; '.join(v.reasons)})" if v.reasons else ""
        self.say(f"  probe {probe.rate_per_s:.2f} req/s: p99 {p99} ms, errors {v.error_rate:.2%}: {outcome}{why}")


async def run_matrix(
    spec: MatrixSpec,
    *,
    overrides: Sequence[str] = (),
    report_path: Path | None,
    state_path: Path,
    fresh: bool = False,
    listener: MatrixListener,
    confirm: Callable[[str], bool] = lambda _plan: True,
    price_transport: Any = None,
    price_cache: Path | None = None,
    prepared: Sequence[PreparedCell] | None = None,
    stop_when: Callable[[], bool] | None = None,
    signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM),
) -> int:
    """Measure every cell (what the state file lacks), write the report; `listener` hears it all.

    Args:
        listener: Hears the progress lines, each cell begin and end, each run, the answer and the end.
        confirm: Shown the plan (what will be created, time and cost) before anything starts; False: stop.
        price_transport: azure-core transport for the Retail Prices API (tests).
        prepared: Each cell's configuration, made by the front end (spec.cells in the same order).
        stop_when: Polled; True stops as SIGINT does (the app's stop, across a process boundary).
        signals: The signals that stop the matrix (a child process of the app takes SIGTERM only).

    Returns:
        0 when a cell meets the SLO, 1 when none does, 130 when interrupted.

    Raises:
        MoetuiError: A cell's settings, a target or start-up problem.
    """
    if prepared is None and spec.target_kind == "url" and not all(cell.deployment for cell in spec.cells):
        raise ConfigError(
            f"{spec.path}: matrix: a [target.url] matrix measures existing deployments only "
            '(deployments = ["blue", "green"]); to create a deployment per cell, use [target.azure].'
        )
    creating = creates_deployments(spec)
    new_endpoint = False
    if creating:
        spec, new_endpoint = with_endpoint(spec)
    folder = base_dir(spec)
    if prepared is not None:
        configs = [entry.config for entry in prepared]
        kinds = [(entry.instance_type, entry.instance_count) for entry in prepared]
    else:
        configs = check_cells(spec, overrides)
        kinds = [_instance(spec, config, folder) for config in configs]
    state, note = MatrixState.load(state_path, spec.fingerprint, fresh=fresh)
    per_s = _estimate_s(spec, configs[0])
    todo = [
        (r, i)
        for r in range(spec.rounds)
        for i in range(len(spec.cells))
        if not state.measured(r, spec.cells[i].name)  # a failed cell is tried again
    ]
    azure: AzureCells | None = None
    names: dict[str, str] = {}
    region = spec.region
    checks: list[str] = []
    if creating:
        todo = measure_order(todo)
        assert configs[0].target.azure is not None
        by_cell = {cell.name: kind for cell, kind in zip(spec.cells, kinds, strict=True)}
        made = {cell.name: by_cell[cell.name] for cell in spec.cells if not cell.deployment}
        check_sizes(str(spec.path), made, _connections(spec, configs))  # before any request
        azure = AzureCells(
            configs[0].target.azure,
            new_endpoint=new_endpoint,
            keep=spec.keep,
            parallel=spec.parallel,
            say=listener.said,
            deployment_file=spec.deployment_file,
        )
        try:
            existing = await azure.existing()
            wanted = [spec.cells[i] for i in dict.fromkeys(i for _, i in todo) if not spec.cells[i].deployment]
            names = deployment_names(wanted, existing or ())
            check_deployment_count(
                str(spec.path), azure.endpoint, len(existing or ()), len(names), spec.parallel, spec.keep
            )
            location = await azure.location()
            region = region or location  # the instances run in the workspace's region
            checks = await azure.capacity(
                str(spec.path), {name: by_cell[name] for name in names}, location, spec.parallel, spec.keep
            )
            checks += await azure.traffic_note(existing)
        except BaseException:
            await azure.close()
            raise
    prices = find_prices(
        [k[0] for k in kinds], spec.prices, str(spec.path), region, transport=price_transport, cache=price_cache
    )
    plan = _plan_text(spec, kinds, prices, per_s, len(todo))
    if not creating and prepared is None and configs[0].target.azure is not None:
        plan += "".join("\n" + line for line in await traffic_warning(configs[0].target.azure))
    if azure is not None:
        plan += "\n" + "\n".join(
            plan_lines(azure.endpoint, azure.new_endpoint, names, by_cell, prices, per_s, spec) + checks
        )
        if not names:  # resumed with every created cell measured: nothing to create
            await azure.close()
            azure = None
    if not confirm(plan):
        listener.said("moetui: not started.")
        if azure is not None:
            await azure.close()
        listener.ended(ExitStatus.INTERRUPTED)
        return ExitStatus.INTERRUPTED
    progress = Progress(listener, len(spec.cells), per_s)
    if note:
        progress.say(f"moetui: {note}")
    for index, cell in enumerate(spec.cells):  # resumed: the cells already measured fill their rows at once
        if any(state.key(r, cell.name) in state.measurements for r in range(spec.rounds)):
            listener.cell_measured(index, _row(spec, index, kinds[index], prices, state))

    loop = asyncio.get_running_loop()
    current: list[Run] = []
    interrupted = False
    main = asyncio.current_task()

    def on_signal() -> None:
        nonlocal interrupted
        if interrupted:
            return
        interrupted = True
        progress.say("Stopping: the finished cells stay in the state file; run the same command to go on.")
        if current:
            current[-1].stop()
        elif main is not None:
            main.cancel()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal)
    watching = asyncio.ensure_future(_poll_stop(stop_when, on_signal)) if stop_when is not None else None
    try:
        if azure is not None:
            await azure.open()
            for cell in spec.cells:
                if cell.name in names:
                    azure.start(cell, request_of(configs[spec.cells.index(cell)], azure.defaults(names[cell.name])))
        last_round = {index: round_index for round_index, index in todo}
        for position, (round_index, index) in enumerate(todo):
            cell, config = spec.cells[index], configs[index]
            progress.begin(index, round_index, spec.rounds, cell, len(todo) - position)
            listener.cell_started(index, round_index, spec.rounds, progress.left_s())
            begun = time.monotonic()
            created = names.get(cell.name)
            if azure is not None and created is not None:
                try:
                    await azure.ready(cell, created)
                except DeploymentError as exc:  # that cell's failure: recorded, the other cells measured
                    if interrupted:
                        raise
                    progress.say(f"moetui: {exc.message}")
                    progress.say(f"moetui: cell {cell.name} is recorded as failed; the other cells go on.")
                    state.add(state.key(round_index, cell.name), _failed(cell, created, exc.message, round_index))
                    listener.cell_measured(index, _row(spec, index, kinds[index], prices, state))
                    if last_round[index] == round_index:
                        azure.measured(created)  # deletes what was made of it, freeing its slot
                    continue
                config = cell_config(spec, cell, overrides, deployment=created)
            measurement = await _measure_cell(spec, cell, config, folder, progress, current)
            if interrupted:
                break
            measurement["round"] = round_index + 1
            if created is not None:
                measurement["deployment"] = created
            state.add(state.key(round_index, cell.name), measurement)
            listener.cell_measured(index, _row(spec, index, kinds[index], prices, state))
            progress.durations.append(time.monotonic() - begun)
            if azure is not None and created is not None and last_round[index] == round_index:
                azure.measured(created)
        if azure is not None and not interrupted:
            await azure.finish()
    except asyncio.CancelledError:
        if not interrupted:
            raise
    finally:
        try:
            if azure is not None and not azure.finished:
                await _to_the_end(azure.cleanup(), progress)
        finally:
            if azure is not None:
                await azure.close()
            if watching is not None:
                watching.cancel()
            for sig in signals:
                loop.remove_signal_handler(sig)
    if interrupted:
        done = len(state.measurements)
        listener.said(f"moetui: interrupted; {done} measurement(s) kept in {state.path}.")
        listener.ended(ExitStatus.INTERRUPTED)
        return ExitStatus.INTERRUPTED

    report = matrix_report(spec, kinds, prices, state)
    status = ExitStatus.OK if report["recommendation"]["cell"] is not None else ExitStatus.THRESHOLD_FAILED
    report["exit_status"] = int(status)
    listener.answered(report)
    if report_path is not None:
        try:
            write_report(report, report_path)
            listener.report_written(report_path)
        except OSError as exc:  # checked before the first cell, but the disk may have filled since
            listener.said(f"moetui: the report could not be written to {report_path}: {exc.strerror or exc}")
            status = ExitStatus.REPORT_NOT_WRITTEN
    if status != ExitStatus.REPORT_NOT_WRITTEN:
        state.remove()  # kept otherwise: the same command rebuilds the report from it without measuring
    listener.ended(status)
    return status


def matrix_report(
    spec: MatrixSpec, kinds: Sequence[tuple[str, int]], prices: dict[str, Price], state: MatrixState
) -> dict[str, Any]:
    """The JSON report: every cell with its measurements (full run reports, probes), prices, recommendation."""
    cells = []
    for index, cell in enumerate(spec.cells):
        rows = [state.measurements[state.key(r, cell.name)] for r in range(spec.rounds)]
        cells.append(cell_summary(_entry(spec, index, kinds[index], prices, rows), spec.search))
    return {
        "schema": MATRIX_SCHEMA,
        "matrix": str(spec.path),
        "search": spec.search,
        "rounds": spec.rounds,
        "slo": None if spec.slo is None else {"p99_ms": spec.slo.p99_ms, "error_rate": spec.slo.error_rate},
        "goodput": None if spec.search != "goodput" else spec.goodput.__dict__,
        "cells": cells,
        "prices": prices_block(prices),
        "model": served_model(spec),
        "recommendation": recommend(cells),
    }


def served_model(spec: MatrixSpec) -> str | None:
    """What an Azure matrix's created cells serve, in words: what the cost per 1,000 inferences describes."""
    from moetui.deployments.deployment_yaml import read_deployment_fields

    if not creates_deployments(spec):
        return None
    if spec.deployment_file is None:
        return "scoring_app's sleep scorer (no model)"
    try:
        model = read_deployment_fields(spec.deployment_file).model
    except ConfigError:  # checked when the matrix was read; moved or changed since
        model = None
    return f"{model or 'no model named'} ({spec.deployment_file})"


def _entry(
    spec: MatrixSpec, index: int, kind: tuple[str, int], prices: dict[str, Price], rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """A cell of the report, before its figures: who it is, its price, its measurements."""
    cell, (instance_type, count) = spec.cells[index], kind
    price = prices[instance_type]
    return {
        "name": cell.name,
        "describe": cell.describe(),
        "settings": cell.settings,
        "environment": cell.environment,
        "deployment": cell.deployment,
        "instance_type": instance_type,
        "instance_count": count,
        "price_per_hour": price.per_hour,
        "price_source": price.source,
        "cost_per_hour": cost_per_hour(price, count),
        "measurements": rows,
    }


def _row(
    spec: MatrixSpec, index: int, kind: tuple[str, int], prices: dict[str, Price], state: MatrixState
) -> dict[str, Any]:
    """Cell `index`'s figures over the rounds measured so far, without the measurements (a table row)."""
    name = spec.cells[index].name
    rows = [state.measurements[k] for r in range(spec.rounds) if (k := state.key(r, name)) in state.measurements]
    summary = cell_summary(_entry(spec, index, kind, prices, rows), spec.search)
    summary.pop("measurements")
    summary["rounds_measured"] = len(rows)
    return summary


def _failed(cell: Cell, deployment: str, message: str, round_index: int) -> dict[str, Any]:
    """A measurement of a cell whose deployment could not be created: no rate, the reason kept."""
    return {
        "cell": cell.name,
        "round": round_index + 1,
        "deployment": deployment,
        "failed": message,
        "rate_rps": 0.0,
        "meets_slo": False,
        "reasons": [f"deployment failed: {message.splitlines()[0]}"],
        "p50_ms": None,
        "p99_ms": None,
        "error_rate": None,
        "utilisation": None,
        "report": None,
        "search": None,
    }


async def _poll_stop(stop_when: Callable[[], bool], stop: Callable[[], None]) -> None:
    """Call `stop` once `stop_when` says so (checked five times a second)."""
    while not stop_when():
        await asyncio.sleep(0.2)
    stop()


def format_answer(report: dict[str, Any]) -> str:
    cells = report["cells"]
    lines = [format_table(cells, report["search"]), ""]
    lines.append("Prices: " + "; ".join(Price(**p).shown() for p in report["prices"].values()))
    if report.get("model"):
        lines.append(f"Cost per 1,000 inferences of: {report['model']}.")
    lines += [f"Note: {c['name']}: {c['note']}." for c in cells if c.get("note")]
    lines += ["", format_chart(cells), "", format_recommendation(report["recommendation"])]
    return "\n".join(lines)


async def _measure_cell(
    spec: MatrixSpec, cell: Cell, config: Config, folder: Path, progress: Progress, current: list[Run]
) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        groups: dict[str, int] | None = None
        cpus = None
        if config.target.local is not None:
            from moetui.local_endpoint import LocalEndpoint
            from moetui.targets.local import local_settings

            settings = local_settings(config.target.local, folder)
            deployment = settings.deployments[0]
            cpus = deployment.cpus
            endpoint = await stack.enter_async_context(
                LocalEndpoint(settings, on_progress=lambda line: progress.say("  " + line.strip()))
            )
            os.environ[KEY_ENV] = endpoint.key
            stack.callback(os.environ.pop, KEY_ENV, None)
            groups = {"gateway": endpoint.gateway_pid}
            groups.update({f"server-{i}": pid for i, pid in enumerate(endpoint.instance_pids)})
            config = _as_url(config, endpoint.scoring_uri, deployment.capacity, deployment.request_timeout_ms)

        async def once(run_config: Config) -> tuple[Report, Mapping[str, Any] | None]:
            async def watch(run: Run) -> None:
                current.append(run)
                heard = asyncio.ensure_future(progress.listener.watch(run))
                try:
                    await watch_snapshots(
                        run, PROGRESS_EVERY_S, lambda s: progress.say(f"  {progress_line(s)}  ({progress.times()})")
                    )
                finally:
                    heard.cancel()
                    current.remove(run)

            async with AsyncExitStack() as sampling:
                sampler = await sampling.enter_async_context(Sampler(groups, cpus)) if groups else None
                session = await run_session(
                    run_config, folder, on_progress=lambda _line: None, watch=watch, snapshot_hz=2
                )
            usage = sampler.block() if sampler is not None else session.report.get("server_metrics")
            return session.report, usage

        if spec.search == "fixed":
            report, usage = await once(config)
            verdict = judge(report, slo_thresholds(spec.slo, config.thresholds))
            return {
                "cell": cell.name,
                "rate_rps": verdict.throughput_rps,
                "meets_slo": verdict.passed,
                "reasons": list(verdict.reasons),
                "p50_ms": verdict.p50_ms,
                "p99_ms": verdict.p99_ms,
                "error_rate": verdict.error_rate,
                "utilisation": usage,
                "report": report,
                "search": None,
            }
        assert spec.slo is not None
        usages: dict[float, Any] = {}
        reports: dict[float, Report] = {}

        async def probe(rate: float) -> Report:
            progress.say(f"  probing {rate:.2f} req/s for {spec.goodput.probe_s:g} s  ({progress.times()})")
            report, usage = await once(_probe_config(config, spec, rate))
            usages[rate], reports[rate] = usage, report
            return report

        thresholds = slo_thresholds(spec.slo, config.thresholds)
        result = await goodput_search(probe, goodput_for(spec, config), thresholds, progress.probe)
        at_limit = config.target.azure is not None and result.goodput_rps >= ENDPOINT_MAX_RPS
        best = result.best_report or (reports[result.probes[-1].rate_per_s] if result.probes else None)
        best_verdict = judge(best, thresholds) if best else None
        progress.say(f"  goodput {result.goodput_rps:.2f} req/s after {len(result.probes)} probe(s)")
        return {
            "cell": cell.name,
            "rate_rps": result.goodput_rps,
            "meets_slo": result.goodput_rps > 0,
            "reasons": [result.stopped] if result.stopped else [],
            "p50_ms": best_verdict.p50_ms if best_verdict else None,
            "p99_ms": best_verdict.p99_ms if best_verdict else None,
            "error_rate": best_verdict.error_rate if best_verdict else None,
            "utilisation": usages.get(result.goodput_rps),
            "report": best,
            "search": result.block(),
            "at_endpoint_limit": at_limit,
        }
    raise AssertionError("unreachable")  # the exit stack does not swallow


def goodput_for(spec: MatrixSpec, config: Config) -> GoodputSpec:
    """The cell's goodput search: an Azure cell's stops at the endpoint's limit, whatever its deployment could
    take (a managed online endpoint takes ENDPOINT_MAX_RPS across its deployments)."""
    if config.target.azure is None:
        return spec.goodput
    return dataclasses.replace(spec.goodput, max_rate=min(spec.goodput.max_rate, ENDPOINT_MAX_RPS))


async def _to_the_end(work: Coroutine[Any, Any, None], progress: Progress) -> None:
    """Await `work` to its end even through Ctrl-C: the cleanup that deletes what the run created."""
    task = asyncio.ensure_future(work)
    while True:
        try:
            await asyncio.shield(task)
            return
        except asyncio.CancelledError:
            if task.done():
                raise
            progress.say("moetui: still deleting what this run created; wait for it.")


def _as_url(config: Config, url: str, capacity: int, request_timeout_ms: int) -> Config:
    """The cell's configuration aimed at its started local endpoint as a URL (key from KEY_ENV)."""
    data = config_to_dict(config)
    local = data["target"]["local"]
    target: dict[str, Any] = {"url": url, "key_env": KEY_ENV, "max_concurrency": capacity}
    if local.get("deployment"):
        target["deployment"] = local["deployment"]
    data["target"] = {"url": target}
    # A URL knows no request_timeout_ms: the local target's default, by the one rule, so the 408 comes first.
    data["load"].setdefault("timeout", request_timeout_s(None, request_timeout_ms))
    return load_config(None, layer=ConfigLayer(data=data, origins={}, source="matrix cell"))


def _probe_config(config: Config, spec: MatrixSpec, rate: float) -> Config:
    """An open-loop probe at `rate`: evenly spaced sends, enough clients that the endpoint, not the
    generator, is what holds the rate back (4 x the requests the SLO's p99 allows in flight)."""
    assert spec.slo is not None and spec.slo.p99_ms is not None
    most = ENDPOINT_MAX_CONNECTIONS if config.target.azure is not None else 1000  # the endpoint's limit
    data = config_to_dict(config)
    load = data["load"]
    load.pop("requests", None)
    load.pop("connections", None)
    load.update(
        mode="open",
        rate=rate,
        arrivals="even",
        duration=spec.goodput.probe_s,
        warmup=spec.goodput.warmup_s,
        clients=min(most, max(4, math.ceil(rate * spec.slo.p99_ms / 1000 * 4))),
    )
    load["workers"] = min(load.get("workers", 1), load["clients"])
    return load_config(None, layer=ConfigLayer(data=data, origins={}, source="matrix probe"))


def _instance(spec: MatrixSpec, config: Config, folder: Path) -> tuple[str, int]:
    """The cell's instance type (the price's key) and instance count."""
    from moetui.deployments.deployment_yaml import read_deployment_fields
    from moetui.local_endpoint.settings import cpus_of_instance_type, local_instance_type
    from moetui.paths import SCORING_APP_DIR

    local, azure = config.target.local, config.target.azure
    if local is not None:
        count = local.instances
        if count is None:
            file = folder / local.deployment_file if local.deployment_file else SCORING_APP_DIR / "deployment.yml"
            count = read_deployment_fields(file).instance_count
        return local_instance_type(cpus_of_instance_type(local.instance_type)), count or 1
    if azure is not None:
        found = read_deployment_fields(spec.deployment_file or SCORING_APP_DIR / "deployment.yml")
        return azure.instance_type or found.instance_type or "unknown", azure.instances or found.instance_count or 1
    return "unknown", 1


def _connections(spec: MatrixSpec, configs: Sequence[Config]) -> dict[str, int]:
    """Cell name -> the connections its load holds open at once, where the file sets them (the endpoint's
    limit counts them across its deployments)."""
    held = {}
    for cell, config in zip(spec.cells, configs, strict=True):
        load = config.load
        count = load.connections if load.mode == "closed" else load.clients if load.mode == "open" else None
        if count is not None:
            held[cell.name] = count
    return held


def _estimate_s(spec: MatrixSpec, config: Config) -> float:
    start = LOCAL_START_S if config.target.local is not None else 0.0
    if spec.search == "goodput":
        return start + PROBES_ESTIMATE * (spec.goodput.probe_s + spec.goodput.warmup_s + 1.0)
    load = config.load
    return start + (load.duration_s + load.warmup_s if load.mode != "burst" else 5.0)


def _plan_text(
    spec: MatrixSpec, kinds: Sequence[tuple[str, int]], prices: dict[str, Price], per_s: float, todo: int
) -> str:
    lines = [
        f"Matrix {spec.path}: {len(spec.cells)} cell(s) x {spec.rounds} round(s), {spec.search} load; "
        f"{todo} to measure."
    ]
    for cell, (instance_type, count) in zip(spec.cells, kinds, strict=True):
        lines.append(f"  {cell.name}: {cell.describe()} ({count} x {instance_type})")
    lines.append(f"Estimate: about {per_s * todo / 60:.1f} min.")
    lines.append("Prices: " + "; ".join(p.shown() for p in prices.values()))
    return "\n".join(lines)


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2)
