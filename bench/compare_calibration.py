"""Calibrate `moetui compare` on this machine: N A/A pairs (the same configuration run twice back to back) and
N A/B pairs (the service time 10 % longer), each a real run, and how many of each were called what.

    PYTHONPATH=$PWD .venv/bin/python bench/compare_calibration.py [--pairs 20] [--duration 10s]
        [--config examples/open.toml | --server] [--slower 1.10] [--dir DIR] [--analyze-only] [--tolerance 5%]

By default each run is `moetui --run CONFIG` against a fresh local endpoint (its scorer's `sleep` times
--slower for B). With --server, each is `moetui run URL` against one small aiohttp server
(tests/http_server.py, /sleep?ms=20 and ms=22), with the load of examples/open.toml: open, 50/s, 8 clients,
2 s warm-up.

Each round i runs A_i, then A'_i and B_i (B second on odd rounds, third on even ones, against drift);
A/A compares A_i with A'_i and A/B compares A_i with B_i. The reports stay in DIR, so `--analyze-only`
re-reads them (for another --tolerance) without running again. A pair counts as "no measurable change"
only when every latency and throughput row says so; an A/B pair counts as "slower" when the measured p50
is called slower (the service time shows whole at the median, not in the tail).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

#: Rows whose verdict an A/A pair must keep at "no measurable change" (counts and error rate aside).
SKIPPED = {"sent", "ok", "failed", "error_rate"}


def run(args: argparse.Namespace, sleep: float, report: Path, log: Path) -> None:
    """One run: the local endpoint's scorer sleeping `sleep` s, or with --server the URL sleeping that long."""
    if args.server_url:
        url = f"{args.server_url}/sleep?ms={sleep * 1000:g}"
        target = ["run", url, "-R", "50", "-c", "8", "-d", args.duration, "--set", "load.warmup=2s"]
    else:
        target = ["--run", str(args.config), "--set", f"load.duration={args.duration}"]
        target += ["--set", f"target.local.sleep={sleep:g}"]
    command = [sys.executable, "-m", "moetui", *target, "--report", str(report)]
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if not report.exists():
        raise SystemExit(f"{report} not written (exit {done.returncode}); see {log}")


def runs(args: argparse.Namespace, sleep: float) -> None:
    log = args.dir / "runs.log"
    for i in range(args.pairs):
        order = [("a", sleep), ("aa", sleep), ("b", sleep * args.slower)]
        if i % 2:
            order[1], order[2] = order[2], order[1]
        for name, seconds in order:
            path = args.dir / f"{name}{i:02d}.json"
            if path.exists():
                continue  # a calibration cut short resumes where it stopped
            started = time.monotonic()
            run(args, seconds, path, log)
            print(
                f"round {i + 1}/{args.pairs}: {path.name} (sleep {seconds:g} s) in {time.monotonic() - started:.0f} s"
            )


def analyze(args: argparse.Namespace) -> dict[str, Any]:
    """Count the verdicts at --tolerance, and what other tolerances would have given (the intervals do not
    depend on it, so each pair is compared once)."""
    from moetui.report.compare import SAME, SLOWER, TOO_FEW, MetricRow, compare_reports, tolerance_for, verdict_for
    from moetui.report.tolerance import parse_tolerance

    tolerance = parse_tolerance(args.tolerance)

    def called(row: MetricRow, at: float) -> str:
        if row.low is None or row.high is None or row.base is None:
            return SAME
        if row.verdict == TOO_FEW:
            return TOO_FEW  # not a call either way
        return verdict_for(row.low, row.high, row.base, row.lower_is_better, tolerance_for(row.name, at))

    rounds = []
    for i in range(args.pairs):
        paths = [args.dir / f"{name}{i:02d}.json" for name in ("a", "aa", "b")]
        if all(path.exists() for path in paths):
            a, aa, b = (json.loads(path.read_text()) for path in paths)
            valid = (a.get("valid") is not False, aa.get("valid") is not False, b.get("valid") is not False)
            rounds.append((compare_reports([a], [aa]), compare_reports([a], [b]), valid))
    pairs = len(rounds)
    what = "a small aiohttp server at /sleep?ms=20" if args.server else str(args.config)
    print(f"{pairs} rounds of {args.duration} runs against {what}; B's service time x{args.slower:g}")

    def tally(at: float, chosen: list[Any]) -> tuple[int, int, Counter[str], Counter[str]]:
        aa_same = ab_slower = 0
        aa_called: Counter[str] = Counter()
        ab_called: Counter[str] = Counter()
        for same, slower, _ in chosen:
            changed = [
                row.name for row in same.rows if row.name not in SKIPPED and called(row, at) not in (SAME, TOO_FEW)
            ]
            aa_same += not changed
            aa_called.update(changed)
            ab_slower += called(slower.row("p50"), at) == SLOWER
            ab_called.update(row.name for row in slower.rows if row.name not in SKIPPED and called(row, at) == SLOWER)
        return aa_same, ab_slower, aa_called, ab_called

    aa_same, ab_slower, aa_called, ab_called = tally(tolerance, rounds)
    print(f"at --tolerance {args.tolerance}:")
    print(f"  A/A: {aa_same}/{pairs} pairs 'no measurable change' on every latency and throughput row")
    print(f"  A/B: {ab_slower}/{pairs} pairs p50 'slower'")
    print("  per row, pairs called changed (A/A) and slower (A/B):")
    for row in rounds[0][0].rows if rounds else ():
        if row.name not in SKIPPED:
            print(f"    {row.name:<18} A/A {aa_called[row.name]:>2}/{pairs}  A/B {ab_called[row.name]:>2}/{pairs}")
    valid = [r for r in rounds if all(r[2])]
    both = tally(tolerance, valid)
    print(f"  rounds whose 3 runs were all valid measurements: {len(valid)}; A/A {both[0]}, A/B {both[1]}")
    print("other tolerances: A/A every row same, A/A p50 same, A/B p50 slower")
    for at in (0.05, 0.10, 0.15, 0.20, 0.30, 0.50):
        same_all, slower_p50, aa_rows, _ = tally(at, rounds)
        print(f"  {at:>4.0%}: {same_all:>2}/{pairs}  {pairs - aa_rows['p50']:>2}/{pairs}  {slower_p50:>2}/{pairs}")
    print("A/A p50 change per pair: " + " ".join(f"{same.row('p50').relative:+.0%}" for same, _, _ in rounds))
    print("A/B p50 change per pair: " + " ".join(f"{slower.row('p50').relative:+.0%}" for _, slower, _ in rounds))
    return {"pairs": pairs, "aa_same": aa_same, "ab_slower": ab_slower}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--duration", default="10s", help="each run's load.duration (warm-up included)")
    parser.add_argument("--config", type=Path, default=Path("examples/open.toml"))
    parser.add_argument("--server", action="store_true", help="a small aiohttp server, not the local endpoint")
    parser.add_argument("--slower", type=float, default=1.10, help="B's sleep as a multiple of A's")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/moetui-compare-calibration"))
    parser.add_argument("--analyze-only", action="store_true", help="read the reports in --dir, run nothing")
    parser.add_argument("--tolerance", default="5%", help="as moetui compare --tolerance")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    args.server_url = None
    if args.analyze_only:
        pass
    elif args.server:
        from tests.http_server import serve_in_process

        with serve_in_process() as server:  # stopped by its PID when the block ends
            args.server_url = server.base_url
            runs(args, 0.020)
    else:
        runs(args, float(tomllib.loads(args.config.read_text())["target"]["local"]["sleep"]))
    analyze(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
