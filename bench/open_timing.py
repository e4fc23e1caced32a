"""Open-loop send timing under uvloop against tests/http_server.py: the share of sends that left before
their timetable slot, how early, and whether corrected latency ever fell below measured latency.

    PYTHONPATH=$PWD .venv/bin/python bench/open_timing.py [--rate 200] [--duration 3] [--path /sleep?ms=20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from moetui.aio import run_fast
from moetui.engine.plan import LoadPlan
from moetui.engine.run import Run
from moetui.engine.transport import RequestSpec
from tests.http_server import serve_in_process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--path", default="/sleep?ms=20")
    args = parser.parse_args()
    with serve_in_process() as server:
        plan = LoadPlan(
            request=RequestSpec(url=server.url(args.path), method="POST", headers={}, timeout_s=5),
            payloads=(b"{}",),
            mode="open",
            duration_s=args.duration,
            rate=args.rate,
            clients=args.clients,
            recent_size=100_000,
        )
        cpu = time.process_time()
        result = run_fast(Run(plan).run())
        cpu = time.process_time() - cpu
    records = [r for r in result.aggregator.recent if r.intended_at_s is not None]
    early_ms = [(r.intended_at_s - r.sent_at_s) * 1000 for r in records if r.sent_at_s < r.intended_at_s]  # type: ignore[operator]
    late_ms = [(r.sent_at_s - r.intended_at_s) * 1000 for r in records]  # type: ignore[operator]
    ok, corrected = result.aggregator.totals["ok"], result.aggregator.totals["ok_corrected"]
    print(
        f"{len(records)} sends at {args.rate:g}/s for {args.duration:g} s ({args.path}): "
        f"{len(early_ms)} early ({len(early_ms) / max(len(records), 1):.1%}), "
        f"median early {statistics.median(early_ms) if early_ms else 0:.3f} ms, "
        f"send slip p50 {statistics.median(late_ms):.3f} ms max {max(late_ms):.3f} ms; "
        f"min ok {ok.get_min_value() / 1000:.2f} ms, min corrected {corrected.get_min_value() / 1000:.2f} ms; "
        f"generator CPU {cpu / result.wall_s:.0%} of a core"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
