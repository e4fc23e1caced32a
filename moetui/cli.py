"""The `moetui` command line. Imports nothing heavy at module level: `--help` and `--version` stay fast,
and no command here imports textual or the Azure SDK unless it needs them."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from collections.abc import Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NoReturn

from moetui import __version__
from moetui.config.schema import MAX_REQUEST_TIMEOUT_MS
from moetui.errors import ExitStatus, MoetuiError, exit_statuses_text
from moetui.paths import SCORING_APP_DIR, config_dir
from moetui.redact import MASK, SECRET_PATTERN, printable

DESCRIPTION = """\
Live load testing of machine-learning inference endpoints, first of all Azure ML managed online
endpoints. No Azure account is needed: `moetui local` runs a local twin of a managed endpoint
(the real azureml-inference-server-http behind a gateway that answers as Azure does)."""

EPILOG = """\
examples:
  moetui                              the app: target, run setup, live run, report
  moetui --run examples/concurrency.toml     the 3-request concurrency test headless, as in CI
  moetui --run examples/open.toml --set load.rate=100 --report report.json
  SCORING_URI=https://... SCORING_HEADERS='{"Authorization": "Bearer ..."}' PROFILING_TOOL=wrk2 \
  TARGET_RPS=100 CONNECTIONS=16 DURATION=60s moetui --run --profiler-env
                                      a profiler job's settings, unchanged (see the README's table)
  moetui --run examples/azure.toml --deploy --delete-after
                                      create the deployment on Azure, run, delete it (az login first)
  moetui profile examples/matrix.toml --report m.json
                                      which WORKER_COUNT x max_concurrency serves most per cost
  moetui profile examples/matrix.toml --live
                                      the same on the app's matrix screen, cell by cell
  moetui merge a.json b.json -o all.json
  moetui report report.json --html report.html --junit junit.xml --hgrm hgrm/
  moetui compare baseline.json report.json --fail-on p99=+20%
  moetui check                        3 requests at once against the local endpoint (the 3-request concurrency test)
  moetui check --workers 1            the same with WORKER_COUNT 1: watch them serialize
  moetui local --sleep 0.1 --port 8080
                                      serve the local endpoint until Ctrl-C

""" + exit_statuses_text()


#: `--run` given without CONFIG (with --profiler-env, the environment is the configuration).
_NO_CONFIG = Path("<no config>")
#: The values of secret-looking options (`--key`) on the command line being parsed, kept out of usage errors.
_ARGV_SECRETS: ContextVar[tuple[str, ...]] = ContextVar("argv_secrets", default=())


def argv_secrets(argv: Sequence[str]) -> tuple[str, ...]:
    """The values given to secret-looking options (`--key S`, `--key=S`, `--ke S`), wherever they stand."""
    found: list[str] = []
    for index, token in enumerate(argv):
        if not token.startswith("--"):
            continue
        name, equals, value = token.partition("=")
        # "--k"/"--ke" are argparse abbreviations of --key; any option named like a secret counts too.
        if not ((len(name) >= 3 and "--key".startswith(name)) or SECRET_PATTERN.search(name)):
            continue
        if equals:
            found.append(value)
        elif index + 1 < len(argv):
            found.append(argv[index + 1])
    return tuple(value for value in found if value)


class _Parser(argparse.ArgumentParser):
    """argparse, but its usage errors never echo a secret: `moetui --key S` said "invalid choice: 'S'" and
    `moetui --run c.toml --key=S` "unrecognized arguments: --key=S". Subcommands' parsers are of this class too.

    No abbreviations (allow_abbrev=False): `moetui run URL --key KEY` was read as `--key-env KEY`, and the
    key was then printed as the name of a variable that is not set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        for secret in _ARGV_SECRETS.get():
            message = re.sub(rf"(?<![^\s'\"=]){re.escape(secret)}(?![^\s'\"])", MASK, message)
        super().error(message)


def _endpoint_flags() -> _Parser:
    """Flags shared by every command that starts the local endpoint."""
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("local endpoint (defaults from the deployment file)")
    group.add_argument(
        "--deployment-file",
        type=Path,
        default=SCORING_APP_DIR / "deployment.yml",
        metavar="YAML",
        help="Azure ML deployment YAML to take the settings from (default: scoring_app/deployment.yml)",
    )
    group.add_argument(
        "--scorer",
        metavar="NAME|PY",
        help="entry script: sleep (scoring_app/score.py, the default), stream (scoring_app/stream_score.py: "
        "OpenAI-style streamed chat completions, STREAM_* variables) or a path",
    )
    group.add_argument(
        "--buffer",
        action="store_true",
        dest="buffer_responses",
        help="the gateway reads a streamed answer whole before sending it (default: chunks pass as they come)",
    )
    group.add_argument(
        "--sleep", type=float, metavar="SECONDS", dest="sleep_s", help="SLEEP_SECONDS of the sleep scorer"
    )
    group.add_argument(
        "--workers",
        type=int,
        metavar="N",
        dest="worker_count",
        help="WORKER_COUNT: worker processes per instance",
    )
    group.add_argument(
        "--max-concurrency",
        type=int,
        metavar="N",
        dest="max_concurrent_requests_per_instance",
        help="max_concurrent_requests_per_instance",
    )
    group.add_argument("--instances", type=int, metavar="N", dest="instance_count", help="instance_count")
    group.add_argument(
        "--timeout-ms",
        type=int,
        metavar="MS",
        dest="request_timeout_ms",
        help=f"request_timeout_ms (at most {MAX_REQUEST_TIMEOUT_MS})",
    )
    group.add_argument(
        "--traffic",
        metavar="SPLIT",
        help="several deployments with the same settings and a traffic split, e.g. blue=90,green=10",
    )
    group.add_argument("--port", type=int, default=0, help="gateway port on 127.0.0.1 (default 0: any free port)")
    group.add_argument(
        "--key", help="endpoint key (default: a random one; prefer this default over a key on a command line)"
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="moetui",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"moetui {__version__}")
    headless = parser.add_argument_group("headless runs (CI)")
    headless.add_argument(
        "--run",
        type=Path,
        nargs="?",
        const=_NO_CONFIG,
        metavar="CONFIG",
        help="run a TOML configuration without a screen (CONFIG may be left out with --profiler-env)",
    )
    headless.add_argument(
        "--profiler-env",
        action="store_true",
        help="with --run: read the endpoint model profiler's environment variables (ONLINE_ENDPOINT, DEPLOYMENT, "
        "SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, SCORING_URI, SCORING_HEADERS, PROFILING_TOOL wrk|wrk2|labench, "
        "DURATION, CONNECTIONS, THREAD, TARGET_RPS, CLIENTS, TIMEOUT, PAYLOAD). Set variables win over CONFIG's "
        "values, --set wins over both; without CONFIG they are the whole configuration. The key in "
        "SCORING_HEADERS is passed on in MOETUI_PROFILER_KEY, never written to the config or report. THREAD is "
        "load.workers (generator processes, each with its own event loop, as wrk's threads)",
    )
    headless.add_argument(
        "--live",
        type=Path,
        metavar="CONFIG",
        help="open the app on the live screen and run a TOML configuration (with --report: write it at the end)",
    )
    headless.add_argument(
        "--report", type=Path, metavar="JSON", help="write the JSON report here (-: to stdout, the summary to stderr)"
    )
    headless.add_argument(
        "--requests",
        "--request-log",
        type=Path,
        metavar="CSV",
        dest="request_log",
        help="with --run: write every request as the run goes (intended and actual send, status, latency, "
        "corrected latency, exec time, error kind, warm-up marked); CSV, or JSON lines for a .jsonl name",
    )
    headless.add_argument(
        "--deploy",
        action="store_true",
        help="with --run and [target.azure]: first create the endpoint and deployment from scoring_app/ in that "
        "workspace (target.azure.endpoint, or a random name; settings from deployment.yml under the table's "
        "instance_type, instances, max_concurrency, workers, sleep, timeout_ms); takes 5-15 minutes",
    )
    headless.add_argument(
        "--delete-after",
        action="store_true",
        help="with --run and [target.azure]: delete the endpoint after the run, also after a failure or Ctrl-C",
    )
    headless.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override a configuration value, e.g. --set load.rate=100 (repeatable)",
    )
    nodes = parser.add_argument_group("several machines (with --run)")
    nodes.add_argument(
        "--nodes",
        type=int,
        default=1,
        metavar="N",
        help="split the load over N nodes (connections, clients, rate, requests divided so the shares add up), "
        "started together at a barrier, their reports merged exactly; with --on-azure or --local-nodes",
    )
    nodes.add_argument(
        "--local-nodes",
        action="store_true",
        help="run the --nodes N nodes as processes on this machine, with the environment an Azure ML job gives",
    )
    nodes.add_argument(
        "--on-azure",
        action="store_true",
        help="run as an Azure ML command job next to the endpoint, in the target's workspace (see the README)",
    )
    nodes.add_argument("--compute", metavar="NAME", help="with --on-azure: the compute cluster (default: moetui-nodes)")
    nodes.add_argument(
        "--workspace",
        metavar="SUB/RG/WS",
        help="with --on-azure and a [target.url] target: the workspace to run the job in",
    )
    nodes.add_argument("--node-output", type=Path, metavar="DIR", help=argparse.SUPPRESS)  # a job's node
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    endpoint = _endpoint_flags()

    local = commands.add_parser(
        "local",
        parents=[endpoint],
        help="run the local managed endpoint until Ctrl-C",
        description="Run a local twin of an Azure ML managed online endpoint on 127.0.0.1 until Ctrl-C or SIGTERM. "
        "It prints the scoring URI and writes the key to a file readable only by you.",
    )
    local.add_argument(
        "--key-file",
        type=Path,
        default=config_dir() / "local-endpoint.key",
        help="where to write the key, mode 0600 (default: %(default)s)",
    )

    check = commands.add_parser(
        "check",
        parents=[endpoint],
        help="the concurrency check: N requests at once against the local endpoint",
        description="Start the local endpoint, send N requests at the same moment, print when each was sent, "
        "how long each took and the total, and judge: concurrent, partly serialized or serialized. "
        "Exit 0 when the deployment served the requests as concurrently as its settings allow, else 1.",
    )
    check.add_argument(
        "-n", "--requests", type=int, default=3, metavar="N", help="requests to send at once (default 3)"
    )
    check.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="per-request timeout (default: sleep + 30 s)",
    )

    adhoc = commands.add_parser(
        "run",
        help="an ad-hoc run against a URL, as wrk, hey or oha: moetui run URL -c 8 -d 30s [-R 100]",
        description="Load a scoring URI without a config file: a closed loop by default (-c connections for -d), "
        "an open loop at -R requests per second. The same summary, report and exit statuses as "
        "`moetui --run`; --save writes the equivalent TOML.",
        epilog="examples:\n"
        "  moetui run http://127.0.0.1:8080/score -c 8 -d 30s\n"
        "  moetui run $URL -R 50 -c 16 -d 1m -H 'Authorization: Bearer '\"$KEY\" --save ci.toml\n"
        "  moetui run $URL -n 1000 -b @bodies.jsonl --key-env MY_KEY --report -",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from moetui.commands.adhoc import add_arguments as add_adhoc_arguments

    add_adhoc_arguments(adhoc)

    profile = commands.add_parser(
        "profile",
        help="which settings meet the SLO at the lowest cost: measure a [matrix] of deployment settings",
        description="Measure each cell of a matrix file's [matrix] (axes, cells or existing deployments) with "
        "the same fixed load or a goodput search, price it, and recommend the cheapest cell that meets the SLO.",
    )
    from moetui.commands.profile import add_arguments as add_profile_arguments

    add_profile_arguments(profile)

    merge = commands.add_parser(
        "merge",
        help="merge JSON reports of several runs into one",
        description="Merge reports of one load mode. Runs that overlapped in time (the nodes of one run, runs "
        "started side by side): histograms added exactly, counts and throughputs summed. Runs that never all ran "
        "at once are refused, unless --sequential. Every block of a run's report is merged, or the merged "
        "report's notes say why not.",
    )
    merge.add_argument("reports", nargs="+", type=Path, metavar="REPORT", help="JSON reports written by --report")
    merge.add_argument("-o", "--output", type=Path, metavar="JSON", help="write the merged report here")
    merge.add_argument(
        "--mixed",
        action="store_true",
        help="merge runs of different load modes too (refused by default: an open run's corrected latencies "
        "and a closed run's measured ones are not like with like); each latency row names the requests it covers",
    )
    merge.add_argument(
        "--sequential",
        action="store_true",
        help="the runs followed one another (none overlapped another in time): percentiles pooled, throughput "
        "over their summed time, not summed; the merged report says so (merged_as: sequential)",
    )
    from moetui.commands.report import add_compare_parser, add_report_parser

    add_report_parser(commands)
    add_compare_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _ARGV_SECRETS.set(argv_secrets(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    try:
        if args.profiler_env and args.run is None:
            parser.error("--profiler-env goes with --run [CONFIG]")
        if args.run is not None:
            if args.command is not None:
                parser.error("--run takes no command")
            if args.run is _NO_CONFIG and not args.profiler_env:
                parser.error("--run needs CONFIG, or --profiler-env to read the profiler's environment variables")
            import os

            from moetui.aio import run_fast

            if args.nodes != 1 or args.local_nodes or args.on_azure or args.node_output:
                return _run_nodes(parser, args)
            from moetui.headless import run_config

            return int(
                run_fast(
                    run_config(
                        None if args.run is _NO_CONFIG else args.run,
                        report_path=args.report,
                        overrides=args.overrides,
                        profiler_env=os.environ if args.profiler_env else None,
                        deploy=args.deploy,
                        delete_after=args.delete_after,
                        requests_path=args.request_log,
                    )
                )
            )
        if args.deploy or args.delete_after:
            parser.error("--deploy and --delete-after go with --run CONFIG")
        if args.nodes != 1 or args.local_nodes or args.on_azure or args.compute or args.workspace:
            parser.error("--nodes, --local-nodes, --on-azure, --compute and --workspace go with --run CONFIG")
        if args.live is not None:
            if args.report == Path("-"):
                parser.error("--report - goes with --run: the live screen owns the terminal")
            from moetui.config.load import load_config
            from moetui.tui.app import run_app

            return run_app(
                live=load_config(args.live, args.overrides), base_dir=args.live.resolve().parent, report=args.report
            )
        if args.command == "run":
            from moetui.aio import run_fast
            from moetui.commands.adhoc import run_adhoc

            return int(run_fast(run_adhoc(args)))
        if args.command == "profile":
            from moetui.aio import run_fast
            from moetui.commands.profile import check_live, run_profile

            if args.matrix_live:
                from moetui.tui.app import run_app
                from moetui.tui.state import MatrixOpen

                check_live(args)  # then the file is read and checked here, its errors on the terminal
                matrix = MatrixOpen.read(args.matrix, tuple(args.matrix_overrides), args.profile_report, args.fresh)
                return run_app(base_dir=args.matrix.resolve().parent, matrix=matrix)

            return int(run_fast(run_profile(args)))
        if args.report is not None or args.overrides:
            parser.error("--report and --set go with --run CONFIG or --live CONFIG")
        if args.request_log is not None:
            parser.error("--requests goes with --run CONFIG (moetui run URL: --request-log)")
        if args.command == "report":
            from moetui.commands.report import run_report

            return run_report(args)
        if args.command == "compare":
            from moetui.commands.report import run_compare

            return run_compare(args)
        if args.command == "merge":
            from moetui.commands.merge import run_merge

            return run_merge(args)
        if args.command == "local":
            from moetui.commands.local import run_local

            return _run_async(run_local(args))
        if args.command == "check":
            from moetui.commands.check import run_check

            return _run_async(run_check(args))
        from moetui.tui.app import run_app  # deferred: textual is for the screen only

        return run_app()
    except MoetuiError as exc:
        print(printable(f"moetui: {exc.title}: {exc.message}"), file=sys.stderr)  # may quote a server or a log
        return exc.exit_status
    except KeyboardInterrupt:
        print("moetui: interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED


def _run_nodes(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """--run with --nodes, --local-nodes, --on-azure (moetui.nodes, printed by moetui.commands.nodes and .on_azure)
    or --node-output (moetui.headless.run_node)."""
    import os

    from moetui.aio import run_fast

    config = None if args.run is _NO_CONFIG else args.run
    profiler_env = os.environ if args.profiler_env else None
    if args.deploy or args.delete_after:
        parser.error("--deploy and --delete-after do not go with --nodes, --local-nodes or --on-azure")
    if args.nodes < 1:
        parser.error(f"--nodes {args.nodes}: at least 1")
    if args.node_output is not None:
        from moetui.headless import run_node

        return int(run_fast(run_node(config, args.node_output, overrides=args.overrides, profiler_env=profiler_env)))
    if args.local_nodes == args.on_azure:
        parser.error("--nodes N runs with --local-nodes (processes here) or --on-azure (an Azure ML job)")
    if args.report == Path("-"):
        parser.error("--report - does not go with --nodes: give a file")
    if args.local_nodes:
        if args.compute or args.workspace:
            parser.error("--compute and --workspace go with --on-azure")
        from moetui.commands.nodes import local_nodes

        return int(
            run_fast(
                local_nodes(
                    config, args.nodes, report_path=args.report, overrides=args.overrides, profiler_env=profiler_env
                )
            )
        )
    from moetui.commands.on_azure import run_on_azure  # deferred: the Azure SDK takes seconds to import

    return int(
        run_fast(
            run_on_azure(
                config,
                args.nodes,
                report_path=args.report,
                overrides=args.overrides,
                profiler_env=profiler_env,
                compute=args.compute,
                workspace=args.workspace,
            )
        )
    )


def _run_async(coro: object) -> int:
    """Run a command's coroutine; SIGTERM is treated like Ctrl-C so that cleanup runs either way."""

    def on_sigterm(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        return int(asyncio.run(coro))  # type: ignore[arg-type]
    finally:
        signal.signal(signal.SIGTERM, previous)
