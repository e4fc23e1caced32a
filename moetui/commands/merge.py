"""`moetui merge a.json b.json`: one report from several runs that overlapped in time (or followed one another,
`--sequential`), of one load mode unless `--mixed`."""

from __future__ import annotations

import argparse

from moetui.errors import ExitStatus
from moetui.report.codec import read_report, write_report
from moetui.report.merge import merge_reports
from moetui.report.summary import format_summary


def run_merge(args: argparse.Namespace) -> int:
    reports = [read_report(path) for path in args.reports]
    merged = merge_reports(reports, [str(path) for path in args.reports], mixed=args.mixed, sequential=args.sequential)
    print(format_summary(merged))
    if args.output:
        write_report(merged, args.output)
        print(f"report: {args.output}")
    return ExitStatus.OK
