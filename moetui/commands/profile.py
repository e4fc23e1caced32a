"""`moetui profile matrix.toml`: measure every cell of a deployment-settings matrix headless (CI), print the
table, the cost-latency chart and the recommendation, write the JSON report (--report or [output] report).
Exit 0 when a cell meets the SLO, 1 when none does, 130 when interrupted (the state file keeps what is done)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from moetui.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("matrix", type=Path, metavar="MATRIX", help="a TOML run configuration with a [matrix] table")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="JSON",
        dest="profile_report",
        help="write the JSON report here; the state file goes beside it (m.json -> m.state.json)",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask before creating deployments (CI)")
    parser.add_argument(
        "--live",
        action="store_true",
        dest="matrix_live",
        help="run it in the app's matrix screen: the table fills cell by cell beside the current cell's live view",
    )
    parser.add_argument("--fresh", action="store_true", help="measure every cell again, ignoring the state file")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="matrix_overrides",
        help="override a value of every cell's configuration, e.g. --set load.duration=5s (repeatable)",
    )


def check_live(args: argparse.Namespace) -> None:
    """`moetui profile FILE --live`: what does not go with the matrix screen (cli.py then starts the app).

    Raises:
        ConfigError: --yes (--report - is refused where the report's place is found: report_and_state).
    """
    if args.yes:
        raise ConfigError("--yes goes without --live: the matrix screen asks before creating deployments")


async def run_profile(args: argparse.Namespace) -> int:
    from moetui.matrix.config import read_matrix
    from moetui.matrix.deploy import asks_consent
    from moetui.matrix.printer import MatrixPrinter
    from moetui.matrix.run import run_matrix
    from moetui.matrix.state import report_and_state

    spec = read_matrix(args.matrix, args.matrix_overrides)
    report, state = report_and_state(spec, args.profile_report)

    def confirm(plan: str) -> bool:
        sys.stderr.write(plan + "\n")
        if not asks_consent(spec, plan) or args.yes:
            return True
        if not sys.stdin.isatty():
            raise ConfigError(
                "this matrix creates Azure deployments or loads an endpoint that carries traffic: confirm with "
                "--yes (CI) or run it on a terminal"
            )
        return input("Go on? [y/N] ").strip().lower() in ("y", "yes")

    return await run_matrix(
        spec,
        overrides=args.matrix_overrides,
        report_path=report,
        state_path=state,
        fresh=args.fresh,
        listener=MatrixPrinter(sys.stdout, sys.stderr),
        confirm=confirm,
    )
