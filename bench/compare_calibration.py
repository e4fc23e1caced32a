"""Calibrate `moetui compare` on this machine: N A/A pairs (the same configuration run twice back to back) and
N A/B pairs (the scorer's sleep 10 % longer), each a real `moetui --run` against a fresh local endpoint, and
how many of each were called what.

    PYTHONPATH=$PWD .venv/bin/python bench/compare_calibration.py [--pairs 20] [--duration 10s]
        [--config examples/open.toml] [--slower 1.10] [--dir DIR] [--analyze-only] [--tolerance 5%]

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


def run(config: Path, duration: str, sleep: float, report: Path, log: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "moetui",
        "--run",
        str(config),
        "--set",
        f"load.duration={duration}",
        "--set",
        f"target.local.sleep={sleep:g}",
        "--report",
        str(report),
    ]
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
            run(args.config, args.duration, seconds, path, log)
            print(f"round {i + 1}/{args.pairs}: {path.name} (sleep {seconds:g} s) in {time.monotonic() - started:.0f} s")


def analyze(args: argparse.Namespace) -> dict[str, Any]:
    from moetui.report.compare import SAME, SLOWER, compare_reports, parse_tolerance

    tolerance = parse_tolerance(args.tolerance)
    aa_same = ab_slower = 0
    aa_called: Counter[str] = Counter()
    ab_calls: Counter[str] = Counter()
    aa_changes: dict[str, list[float]] = {}
    pairs = 0
    for i in range(args.pairs):
        paths = [args.dir / f"{name}{i:02d}.json" for name in ("a", "aa", "b")]
        if not all(path.exists() for path in paths):
            continue
        a, aa, b = (json.loads(path.read_text()) for path in paths)
        pairs += 1
        same = compare_reports([a], [aa], tolerance=tolerance)
        called = [row for row in same.rows if row.name not in SKIPPED and row.verdict not in (SAME, "")]
        aa_same += not called
        aa_called.update(row.name for row in called)
        for row in same.rows:
            if row.relative is not None and row.name not in SKIPPED:
                aa_changes.setdefault(row.name, []).append(row.relative)
        slower = compare_reports([a], [b], tolerance=tolerance)
        ab_slower += slower.row("p50").verdict == SLOWER
        ab_calls.update(row.name for row in slower.rows if row.verdict == SLOWER)
    print(f"tolerance {tolerance:.1%}, {pairs} rounds of {args.duration} runs ({args.config}, B sleeps x{args.slower:g})")
    print(f"A/A: {aa_same}/{pairs} pairs 'no measurable change' on every row")
    for name, n in aa_called.most_common():
        print(f"      {name} called changed in {n}")
    print(f"A/B: {ab_slower}/{pairs} pairs p50 'slower'")
    for name, n in sorted(ab_calls.items(), key=lambda item: -item[1]):
        print(f"      {name} slower in {n}")
    print("A/A relative differences, largest |change| per row:")
    for name, changes in aa_changes.items():
        print(f"      {name:<22} {max(changes, key=abs):+.1%}")
    return {"pairs": pairs, "aa_same": aa_same, "ab_slower": ab_slower}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--duration", default="10s", help="each run's load.duration (warm-up included)")
    parser.add_argument("--config", type=Path, default=Path("examples/open.toml"))
    parser.add_argument("--slower", type=float, default=1.10, help="B's sleep as a multiple of A's")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/moetui-compare-calibration"))
    parser.add_argument("--analyze-only", action="store_true", help="read the reports in --dir, run nothing")
    parser.add_argument("--tolerance", default="5%", help="as moetui compare --tolerance")
    args = parser.parse_args()
    sleep = float(tomllib.loads(args.config.read_text())["target"]["local"]["sleep"])
    args.dir.mkdir(parents=True, exist_ok=True)
    if not args.analyze_only:
        runs(args, sleep)
    analyze(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
