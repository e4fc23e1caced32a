"""`moetui report REPORT.json --html/--hgrm/--junit` (a saved report in the formats other tools read) and
`moetui compare BASE.json NEW.json [--fail-on ...] [--html ...]` (two runs side by side, a regression gate)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moetui.errors import ExitStatus, MoetuiError
from moetui.redact import printable
from moetui.report.tolerance import DEFAULT_TOLERANCE

if TYPE_CHECKING:
    from moetui.report.outputs import Outputs


def add_report_parser(commands: Any) -> None:
    """The `report` subcommand's parser."""
    report = commands.add_parser(
        "report",
        help="write a saved JSON report as HTML, HdrHistogram .hgrm files or JUnit XML",
        description="Write a JSON report (from --report) in the formats other tools read: one self-contained "
        "HTML page that opens offline, HdrHistogram's percentile-distribution text per histogram (values in ms), "
        "and JUnit XML with each threshold a test case. Without an option, prints the summary. A matrix report "
        "(moetui profile --report) prints its answer, or writes it with --html.",
    )
    report.add_argument(
        "report_json", type=Path, metavar="REPORT", help="a JSON report written by --report (a run's or a matrix's)"
    )
    report.add_argument("--html", type=Path, metavar="HTML", help="write the HTML report here")
    report.add_argument("--hgrm", type=Path, metavar="DIR", help="write NAME.hgrm per histogram into DIR")
    report.add_argument("--junit", type=Path, metavar="XML", help="write the thresholds as JUnit XML here")


def add_compare_parser(commands: Any) -> None:
    """The `compare` subcommand's parser."""
    compare = commands.add_parser(
        "compare",
        help="compare two runs: differences with 95%% intervals, a verdict per metric, --fail-on for CI",
        description="Compare a base run with a new one: counts, throughput, error rate and each latency percentile "
        "(measured, corrected, model and outside-model time), the difference with its 95% interval (a block "
        "bootstrap over each run's per-second histograms, so a run's drift widens it; with several reports a side, "
        "their run-to-run spread as well) and a verdict: faster or slower when the whole interval lies beyond "
        "--tolerance, else no measurable change. Exit 1 when --fail-on finds a regression beyond its tolerance.",
        epilog="examples:\n  moetui compare baseline.json report.json --fail-on p99=+20%\n"
        "  moetui compare --base a1.json a2.json --new b1.json b2.json --fail-on p50=+10%,error_rate=+0.01\n"
        "  moetui compare base.json new.json --html compare.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("pair", nargs="*", type=Path, metavar="REPORT", help="BASE.json NEW.json")
    compare.add_argument("--base", nargs="+", type=Path, default=[], metavar="JSON", help="reports of the base run(s)")
    compare.add_argument("--new", nargs="+", type=Path, default=[], metavar="JSON", help="reports of the new run(s)")
    compare.add_argument(
        "--fail-on",
        metavar="RULES",
        help="exit 1 when a metric is worse than its tolerance with 95%% confidence: p99=+10%%,error_rate=+0.01,"
        "throughput_rps=-5%% (%% relative to the base, else absolute; names as in the table's --fail-on column)",
    )
    compare.add_argument(
        "--tolerance",
        default=f"{DEFAULT_TOLERANCE * 100:g}%",
        metavar="PCT",
        help="smallest change called faster or slower: the whole 95%% interval must lie beyond it, as a share of "
        "the base (default %(default)s: two identical runs on a shared machine differ by more than either run "
        "shows; see the README's calibration)",
    )
    compare.add_argument("--html", type=Path, metavar="HTML", help="write the comparison as an HTML page")


def run_report(args: argparse.Namespace) -> int:
    from moetui.report.codec import read_report
    from moetui.report.outputs import Outputs, write_outputs
    from moetui.report.summary import format_summary

    outputs = Outputs(html=args.html, hgrm=args.hgrm, junit=args.junit)
    matrix = matrix_report(args.report_json)
    if matrix is not None:
        return _matrix_outputs(matrix, outputs)
    report = read_report(args.report_json)
    if outputs == Outputs():
        print(format_summary(report))
        return ExitStatus.OK
    try:
        for line in write_outputs(report, outputs):
            print(line)
    except OSError as exc:
        raise MoetuiError(f"{exc.filename or 'a file'}: {exc.strerror or exc}", "Report not written") from None
    return ExitStatus.OK


def matrix_report(path: Path) -> dict[str, Any] | None:
    """The matrix report (`moetui profile --report`, its own schema) in `path`, or None when the file is
    something else (read_report then says what)."""
    import json

    from moetui.matrix.run import MATRIX_SCHEMA
    from moetui.report.codec import MAX_REPORT_BYTES

    try:
        with path.expanduser().open("rb") as handle:
            data = json.loads(handle.read(MAX_REPORT_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("schema") != MATRIX_SCHEMA or not isinstance(data.get("cells"), list):
        return None
    return data


def _matrix_outputs(matrix: dict[str, Any], outputs: Outputs) -> int:
    """A matrix report: its answer (table, prices, notes, chart, recommendation) as `moetui profile` printed
    it, or as an HTML page; its cells' run reports are in the file, so --hgrm and --junit do not apply."""
    from html import escape

    from moetui.errors import ConfigError
    from moetui.matrix.run import format_answer
    from moetui.paths import write_atomic

    if outputs.hgrm is not None or outputs.junit is not None:
        raise ConfigError("--hgrm and --junit take a run's report; this is a matrix report: give --html or nothing")
    answer = printable(format_answer(matrix))
    if outputs.html is None:
        print(answer)
        return ExitStatus.OK
    title = f"moetui matrix {escape(str(matrix.get('matrix', '')))}"
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1><pre>{escape(answer)}</pre></body></html>\n"
    )
    try:
        write_atomic(outputs.html, page)
    except OSError as exc:
        raise MoetuiError(f"{exc.filename or 'a file'}: {exc.strerror or exc}", "Report not written") from None
    print(f"html: {outputs.html}")
    return ExitStatus.OK


def run_compare(args: argparse.Namespace) -> int:
    from moetui.errors import ConfigError
    from moetui.report.codec import read_report
    from moetui.report.compare import compare_reports, format_comparison, parse_fail_on, regressions
    from moetui.report.tolerance import parse_tolerance

    if args.pair and (args.base or args.new):
        raise ConfigError("give BASE.json NEW.json, or --base ... --new ..., not both")
    if args.pair:
        if len(args.pair) != 2:
            raise ConfigError(f"compare takes two reports, BASE.json NEW.json (got {len(args.pair)})")
        base_paths, new_paths = [args.pair[0]], [args.pair[1]]
    else:
        if not args.base or not args.new:
            raise ConfigError("give BASE.json NEW.json, or --base JSON... --new JSON...")
        base_paths, new_paths = args.base, args.new
    tolerance = parse_tolerance(args.tolerance)
    base = [read_report(path) for path in base_paths]
    new = [read_report(path) for path in new_paths]
    comparison = compare_reports(
        base, new, [str(p) for p in base_paths], [str(p) for p in new_paths], tolerance=tolerance
    )
    rules = parse_fail_on(args.fail_on, [row.name for row in comparison.rows]) if args.fail_on else []
    print(f"base: {', '.join(map(str, base_paths))}\nnew:  {', '.join(map(str, new_paths))}")
    print(printable(format_comparison(comparison)))
    broken = regressions(comparison, rules)
    if args.html is not None:
        from moetui.report.compare_html import write_compare_html

        print(f"html: {write_compare_html(comparison, base, new, args.html, broken)}")
    for line in broken:
        print(f"REGRESSION {line}")
    if rules:
        print("regression gate: " + ("FAILED" if broken else f"passed ({args.fail_on})"))
    return ExitStatus.THRESHOLD_FAILED if broken else ExitStatus.OK
