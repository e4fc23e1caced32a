"""`moetui --run config.toml`: the engine without a screen, for CI. Never imports textual.

Progress goes to stderr (a live line on a terminal, a plain line every few seconds otherwise), the
summary to stdout, the report to --report or [output] report (`-`: the JSON to stdout, the summary to
stderr). Ctrl-C or SIGTERM stops the load, and the partial result is still summarised and written (exit
130). With --deploy the [target.azure] deployment is
created from scoring_app/ first, and with --delete-after its endpoint is deleted afterwards, whatever
happened in between (moetui.azure.lifecycle, imported only then).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from moetui.config.load import ConfigLayer, load_config, stacked
from moetui.config.schema import Config
from moetui.engine.failures import TIMEOUT
from moetui.engine.run import Run
from moetui.engine.snapshot import EngineSnapshot
from moetui.errors import ConfigError, ExitStatus, MoetuiError
from moetui.nodes.env import PARENT_PID_ENV, node_env
from moetui.nodes.node import NodeRun, shared_target_layer
from moetui.redact import printable, shown_url
from moetui.report.codec import check_report_path, write_report
from moetui.report.outputs import Outputs, config_outputs, write_outputs
from moetui.report.progress import progress_line
from moetui.report.summary import format_summary
from moetui.session.compose import read_payloads
from moetui.session.run_session import SessionResult, run_session
from moetui.session.watch import watch_snapshots

#: `--report -`: the JSON report goes to stdout and the summary to stderr.
STDOUT = Path("-")
#: How often the live progress line on a terminal is redrawn.
LIVE_INTERVAL_S = 0.5


async def _progress(run: Run, stream: TextIO, live: bool, interval_s: float) -> None:
    def show(snapshot: EngineSnapshot) -> None:
        stream.write("\r\x1b[2K" + progress_line(snapshot) if live else progress_line(snapshot) + "\n")
        stream.flush()

    await watch_snapshots(run, LIVE_INTERVAL_S if live else interval_s, show)


async def run_config(
    path: Path | None,
    *,
    report_path: Path | None = None,
    overrides: Sequence[str] = (),
    out: TextIO | None = None,
    err: TextIO | None = None,
    profiler_env: Mapping[str, str] | None = None,
    deploy: bool = False,
    delete_after: bool = False,
    layer: ConfigLayer | None = None,
    node: NodeRun | None = None,
    requests_path: Path | None = None,
) -> int:
    """Run a configuration headless and return the exit status.

    Args:
        path: The TOML config; None to run the profiler's environment alone.
        profiler_env: An environment whose profiler variables (SCORING_URI, CONNECTIONS, ...) are laid
            over the file's settings, under `overrides` (see moetui.config.profiler_env).
        layer: Settings standing in for a file (`moetui run URL`'s flags), under `overrides` (and over the
            profiler's, when both are given: the endpoint a node's launcher started).
        requests_path: Write every request here as the run goes (--requests; over [output] requests).
        deploy: First create the [target.azure] deployment from scoring_app/ (a random endpoint name
            when the configuration names none).
        delete_after: Delete the [target.azure] endpoint after the run, also after a failure or Ctrl-C.
        node: This process is one node of several (moetui.nodes.node): it runs its share after the barrier,
            writes its report into the node output folder, and leaves the judging to the launcher (exit 0
            once its report is written, 130 when interrupted).

    Raises:
        MoetuiError: A configuration, target or start-up problem (exit status on the error).
    """
    out = out or sys.stdout
    err = err or sys.stderr

    def say(line: str) -> None:
        err.write(printable(line) + "\n")  # start-up lines may quote a server or a child's log
        err.flush()

    notes: tuple[str, ...] = ()
    if profiler_env is not None:
        from moetui.config.profiler_env import read_profiler_env

        # Without a file, the environment (or a --set target.*) must name the target, as in the profiler.
        names_target = path is not None or any(o.strip().startswith("target.") for o in overrides)
        names_target = names_target or (layer is not None and "target" in layer.data)  # a node's given endpoint
        profiler = read_profiler_env(profiler_env, needs_target=not names_target)
        for note in profiler.notes:
            say(f"moetui: {note}")
        notes = profiler.notes
        layer = profiler.layer if layer is None else stacked(profiler.layer, layer)
    config = load_config(path, overrides, layer=layer, complete=_name_new_endpoint if deploy else None)
    if node is not None:
        config = node.own_outputs(config)
    if (deploy or delete_after) and config.target.azure is None:
        raise ConfigError("--deploy and --delete-after go with a [target.azure] configuration")
    if profiler_env is not None:
        # The key from SCORING_HEADERS, for target.url.key_env to read; it never enters the config.
        os.environ.update(profiler.secrets)
    base_dir = path.resolve().parent if path is not None else Path.cwd()
    report_origin = "--report" if report_path is not None else f"{path or 'the configuration'}: output.report"
    if report_path is None and config.output.report:
        report_path = STDOUT if config.output.report == "-" else base_dir / config.output.report
    if requests_path is not None:  # the plan resolves it against base_dir: absolute stays absolute
        output = dataclasses.replace(config.output, requests=str(requests_path.expanduser().resolve()))
        config = dataclasses.replace(config, output=output)
    outputs = config_outputs(config.output, base_dir)
    _preflight(config, path, base_dir, report_path, report_origin)
    for name, where in outputs.paths():
        if (why := check_report_path(where)) is not None:
            raise ConfigError(f"{path or 'the configuration'}: output.{name}: cannot be written there: {why}.")
    if config.output.requests and (why := check_report_path(base_dir / Path(config.output.requests).expanduser())):
        origin = "--requests" if requests_path is not None else f"{path or 'the configuration'}: output.requests"
        raise ConfigError(f"{origin}: the request log cannot be written there: {why}.")
    live = err.isatty()

    loop = asyncio.get_running_loop()
    run: Run | None = None
    main = asyncio.current_task()
    interrupted_early = False

    def on_signal() -> None:
        nonlocal interrupted_early
        if run is not None:
            say("\nStopping: the partial result will be reported.")
            run.stop()
        elif main is not None and not interrupted_early:
            interrupted_early = True
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    async def watch(started: Run) -> None:
        nonlocal run
        run = started
        try:
            await _progress(started, err, live, config.output.progress_interval_s)
        finally:
            if live:
                err.write("\n")

    try:
        if deploy or delete_after:
            session = await _run_with_deployment(config, base_dir, say, watch, deploy, delete_after)
        else:
            session = await run_session(
                config,
                base_dir,
                on_progress=say,
                watch=watch,
                snapshot_hz=2,
                shape_plan=node.shape_plan if node is not None else None,
                before_load=node.before_load if node is not None else None,
            )
    except BaseException as exc:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if isinstance(exc, asyncio.CancelledError) and interrupted_early:
            say("moetui: interrupted before the load started; nothing to report.")
            return ExitStatus.INTERRUPTED
        raise
    # From here the files are written, with no await: a Ctrl-C or SIGTERM now goes to the loop, which does
    # not run again before the handlers go, so it is absorbed and the report is finished (a signal landing
    # mid-write as KeyboardInterrupt lost it).
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: None)
    try:
        return _report(session, config, base_dir, outputs, notes, report_path, node, out, err, say)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def run_node(
    path: Path | None,
    output_dir: Path,
    *,
    overrides: Sequence[str] = (),
    profiler_env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """`--node-output DIR`: one node of a run over several machines (moetui.nodes): its share of the run after
    the barrier, its report as DIR/node-<rank>.json; a failure leaves DIR/node-<rank>.error with the message,
    for the launcher to name. The launcher's endpoint, when it started one, replaces the file's target."""
    environ = os.environ if environ is None else environ
    if PARENT_PID_ENV in environ:  # started by --local-nodes: never outlive moetui
        from moetui.lifeline import die_with_parent

        die_with_parent(int(environ[PARENT_PID_ENV]))
    node = NodeRun(node_env(environ), output_dir)
    try:
        layer = shared_target_layer(environ)
        return await run_config(path, overrides=overrides, profiler_env=profiler_env, layer=layer, node=node)
    except MoetuiError as exc:
        node.write_error(f"{exc.title}: {exc.message}")
        raise
    except Exception as exc:
        node.write_error(f"{type(exc).__name__}: {exc}")
        raise


def _report(
    session: SessionResult,
    config: Config,
    base_dir: Path,
    outputs: Outputs,
    notes: tuple[str, ...],
    report_path: Path | None,
    node: NodeRun | None,
    out: TextIO,
    err: TextIO,
    say: Callable[[str], None],
) -> int:
    """Print the summary, write the report and the outputs of a finished run; return the exit status."""
    evaluation, report, target = session.evaluation, session.report, session.target
    if notes:  # what the profiler's variables came to (the timeout a tool implies, a variable not used)
        report["notes"] = list(notes)
    log_error = session.result.aggregator.request_log_error
    if log_error:  # the run went on without it: its summary and report are still worth having
        report["notes"] = [*report.get("notes", []), log_error]
    if report_path == STDOUT:  # `--report -`: the JSON alone on stdout, for a pipe; the words go to stderr
        json.dump(report, out, indent=2)
        out.write("\n")
        out.flush()
        out = err
    out.write(format_summary(report) + "\n")
    status = evaluation.exit_status
    if node is not None:  # the launcher judges the merged report; a node says whether it ran
        status = ExitStatus.INTERRUPTED if status == ExitStatus.INTERRUPTED else ExitStatus.OK
        try:
            node.write_report(report)
            out.write(f"node report: {node.report_path}\n")
        except OSError as exc:
            say(f"moetui: the node report could not be written to {node.report_path}: {exc.strerror or exc}")
            status = ExitStatus.REPORT_NOT_WRITTEN
    if report_path is not None and report_path != STDOUT:
        try:
            write_report(report, report_path)
            out.write(f"report: {report_path}\n")
        except OSError as exc:  # checked before the run, but the disk may have filled or the path changed
            say(f"moetui: the report could not be written to {report_path}: {exc.strerror or exc}")
            status = ExitStatus.REPORT_NOT_WRITTEN
    try:
        for line in write_outputs(report, outputs):
            out.write(line + "\n")
    except OSError as exc:
        say(f"moetui: {exc.filename or 'an output file'} could not be written: {exc.strerror or exc}")
        status = ExitStatus.REPORT_NOT_WRITTEN
    if log_error:
        say(f"moetui: {log_error}")
        status = ExitStatus.REPORT_NOT_WRITTEN
    elif config.output.requests:
        out.write(f"requests: {base_dir / Path(config.output.requests).expanduser()}\n")
    if evaluation.unreachable:
        errors = session.result.snapshot.errors
        kinds = ", ".join(f"{kind} x{count:,}" for kind, count in sorted(errors.items()))
        say(f"moetui: the target {shown_url(target.url)} never answered: {kinds}.")
        if TIMEOUT in errors:
            say(
                f"moetui: no answer came within the {report['request_timeout_s']:g} s request timeout: it accepted "
                "connections and sent nothing back (if it is only slow, raise [load] timeout)."
            )
    out.write(status.line + "\n")
    out.flush()
    return status


def _preflight(config: Config, path: Path | None, base_dir: Path, report_path: Path | None, report_origin: str) -> None:
    """What the run needs after its load, checked before anything starts (a local endpoint, a request).

    Raises:
        ConfigError: Every problem found, each naming where the setting came from.
    """
    problems = []
    if report_path not in (None, STDOUT) and (why := check_report_path(report_path)) is not None:
        problems.append(f"{report_origin}: the report cannot be written there: {why}.")
    try:
        read_payloads(config.load.payload, config.load.payload_file, base_dir)
    except ConfigError as exc:
        problems.append(f"{path or 'the configuration'}: {exc.message}")
    if problems:
        raise ConfigError("\n".join(problems))


def _name_new_endpoint(data: dict[str, Any]) -> None:
    """--deploy: an Azure target whose file, --set and environment name no endpoint gets a random name."""
    target = data.get("target")
    azure = target.get("azure") if isinstance(target, dict) else None
    if isinstance(azure, dict) and not azure.get("endpoint"):
        from moetui.deployments.names import random_endpoint_name

        azure["endpoint"] = random_endpoint_name()


async def _run_with_deployment(
    config: Config,
    base_dir: Path,
    say: Callable[[str], None],
    watch: Callable[[Run], Coroutine[Any, Any, None]],
    deploy: bool,
    delete_after: bool,
) -> SessionResult:
    """run_session inside moetui.azure.lifecycle's deployment_for_run: created first, deleted after."""
    # Deferred: the Azure SDK takes seconds to import and only --deploy / --delete-after need it here.
    from moetui.azure.lifecycle import deployment_for_run

    assert config.target.azure is not None
    async with deployment_for_run(config.target.azure, deploy=deploy, delete_after=delete_after, say=say) as azure:
        config = dataclasses.replace(config, target=dataclasses.replace(config.target, azure=azure))
        return await run_session(config, base_dir, on_progress=say, watch=watch, snapshot_hz=2)
