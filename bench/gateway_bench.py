"""The local endpoint's gateway against the same inference servers called directly, measured with wrk.

Two experiments, each on one started LocalEndpoint, each alternating direct and gateway runs of wrk
(a C load generator, so the client takes little of the machine's CPU) and taking the median per side:

1. Throughput: the scorer sleeps 0 s, one instance with --workers gunicorn workers and
   max_concurrent_requests_per_instance = --workers, `wrk -t1 -c --connections`.
   Target: gateway req/s >= 0.80 x direct req/s.
2. Latency overhead: the scorer sleeps 0.1 s, one instance with 50 workers and
   max_concurrent_requests_per_instance 50 (nothing queues), `wrk -t2 -c50`.
   Target: gateway p50 - direct p50 < 2 ms (p90 and p99 differences are reported too).

CPU use of the gateway, of the inference server (master and workers) and of wrk is read from /proc
(utime + stime) around every run. All traffic goes to 127.0.0.1; every wrk run is bounded by -d.
Exits 0 whether the targets pass or not (a benchmark, not a test), 2 when wrk is missing.

    .venv/bin/python bench/gateway_bench.py [--duration 10] [--quick] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from moetui.local_endpoint import DeploymentSettings, LocalEndpoint, LocalEndpointSettings, RunningEndpoint

_TICKS = os.sysconf("SC_CLK_TCK")
_LUA = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
{auth}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {{"requests": %d, "duration_us": %d, "p50": %.1f, "p90": %.1f, "p99": %.1f, "errors": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclass(frozen=True)
class Run:
    """One wrk run: its summary and the CPU seconds each party used during it."""

    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    wall_s: float
    cpu_gateway_s: float
    cpu_server_s: float
    cpu_wrk_s: float


def group_cpu_s(pgid: int) -> float:
    """utime + stime, in seconds, of every live process in process group `pgid`."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:  # gone in between
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp ... utime(11) stime(12)
            total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def wrk_children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def run_wrk(
    ep: RunningEndpoint, url: str, body: str, *, auth: bool, threads: int, connections: int, duration_s: float
) -> Run:
    """Run wrk once against `url` and return its summary; wrk is killed if this is cancelled."""
    # The key goes into a private temp file, never onto a command line or the screen.
    auth_line = f'wrk.headers["Authorization"] = [==[Bearer {ep.key}]==]' if auth else ""
    fd, lua_path = tempfile.mkstemp(prefix="gateway-bench-", suffix=".lua")
    server_pgid = ep.instance_pids[0]
    try:
        with os.fdopen(fd, "w") as f:
            f.write(_LUA.format(body=body, auth=auth_line))
        before = (group_cpu_s(ep.gateway_pid), group_cpu_s(server_pgid), wrk_children_cpu_s(), time.monotonic())
        seconds = max(1, round(duration_s))
        proc = await asyncio.create_subprocess_exec(
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", lua_path, url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=seconds + 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        after = (group_cpu_s(ep.gateway_pid), group_cpu_s(server_pgid), wrk_children_cpu_s(), time.monotonic())
    finally:
        os.unlink(lua_path)
    text = out.decode(errors="replace")
    line = next((x for x in text.splitlines() if x.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (status {proc.returncode}):\n{text}")
    s = json.loads(line.removeprefix("WRK_JSON "))
    cpu = [a - b for a, b in zip(after, before, strict=True)]
    return Run(
        rps=s["requests"] / (s["duration_us"] / 1e6),
        p50_ms=s["p50"] / 1000, p90_ms=s["p90"] / 1000, p99_ms=s["p99"] / 1000,
        errors=s["errors"], wall_s=cpu[3], cpu_gateway_s=cpu[0], cpu_server_s=cpu[1], cpu_wrk_s=cpu[2],
    )  # fmt: skip


async def wait_for_workers(ep: RunningEndpoint, deployment: str, workers: int, timeout_s: float = 180) -> None:
    """Wait until every gunicorn worker has run init() (liveness needs only one; 50 take ~30 s on 2 cores)."""
    log = ep.log_dir / f"{deployment}-0.log"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready = set(re.findall(r"Worker with pid (\d+) ready for serving traffic", log.read_text(errors="replace")))
        if len(ready) >= workers:
            return
        await asyncio.sleep(0.5)
    print(f"  warning: not all {workers} workers were ready after {timeout_s:.0f} s", file=sys.stderr)


async def experiment(
    deployment: DeploymentSettings, body: str, threads: int, connections: int, args: argparse.Namespace
) -> tuple[list[Run], list[Run]]:
    """Start one endpoint, warm up, then alternate direct and gateway runs; return (direct, gateway)."""
    settings = LocalEndpointSettings(deployments=(deployment,))
    async with LocalEndpoint(settings, on_progress=lambda line: print("  " + line)) as ep:
        await wait_for_workers(ep, deployment.name, deployment.worker_count)
        direct_url = f"http://127.0.0.1:{ep.instance_ports[deployment.name][0]}/score"

        async def one(side: str, duration_s: float) -> Run:
            url, auth = (direct_url, False) if side == "direct" else (ep.scoring_uri, True)
            run = await run_wrk(
                ep, url, body, auth=auth, threads=threads, connections=connections, duration_s=duration_s
            )
            print(f"  {side:8} {run.rps:9.1f} req/s  p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms  "
                  f"errors {run.errors}  CPU gw {run.cpu_gateway_s / run.wall_s:4.0%} "
                  f"server {run.cpu_server_s / run.wall_s:4.0%} wrk {run.cpu_wrk_s / run.wall_s:4.0%}")  # fmt: skip
            return run

        print("  warm-up (discarded):")
        for side in ("direct", "gateway"):
            await one(side, args.warmup)
        runs: dict[str, list[Run]] = {"direct": [], "gateway": []}
        for i in range(args.rounds):
            print(f"  round {i + 1}/{args.rounds}:")
            order = ("direct", "gateway") if i % 2 == 0 else ("gateway", "direct")  # ABBA against drift
            for side in order:
                runs[side].append(await one(side, args.duration))
        return runs["direct"], runs["gateway"]


def med(runs: list[Run], value: Callable[[Run], float]) -> float:
    return statistics.median(value(r) for r in runs)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]  # fmt: skip
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def report(tput: tuple[list[Run], list[Run]], lat: tuple[list[Run], list[Run]], args: argparse.Namespace) -> None:
    rows: list[tuple[str, ...]] = [("measurement (median)", "direct", "gateway", "gw vs direct", "target", "verdict")]
    verdicts: list[str] = []

    def cpu_rows(name: str, d: list[Run], g: list[Run]) -> None:
        for label, get in (("gateway", lambda r: r.cpu_gateway_s), ("server", lambda r: r.cpu_server_s),
                           ("wrk", lambda r: r.cpu_wrk_s)):  # fmt: skip
            dv, gv = med(d, lambda r: get(r) / r.wall_s), med(g, lambda r: get(r) / r.wall_s)  # noqa: B023
            rows.append((f"  {name} CPU {label} (% of a core)", f"{dv:.0%}", f"{gv:.0%}", f"{(gv - dv) * 100:+.0f} pt",
                         "", ""))  # fmt: skip
        derr, gerr = sum(r.errors for r in d), sum(r.errors for r in g)
        rows.append((f"  {name} errors (sum, socket + HTTP>=400)", str(derr), str(gerr), "", "0",
                     "PASS" if derr == gerr == 0 else "FAIL"))  # fmt: skip

    d, g = tput
    tput_ratio = ratio(med(g, lambda r: r.rps), med(d, lambda r: r.rps))
    ok = tput_ratio >= 0.80
    verdicts.append(f"throughput {'PASS' if ok else 'FAIL'} ({tput_ratio:.2f}x)")
    rows.append((f"1 throughput req/s (sleep 0, W={args.workers}, -t1 -c{args.connections})",
                 f"{med(d, lambda r: r.rps):.1f}", f"{med(g, lambda r: r.rps):.1f}", f"{tput_ratio:.2f}x", ">= 0.80x",
                 "PASS" if ok else "FAIL"))  # fmt: skip
    rows.append(("  throughput p50 latency ms", f"{med(d, lambda r: r.p50_ms):.2f}", f"{med(g, lambda r: r.p50_ms):.2f}",
                 f"{med(g, lambda r: r.p50_ms) - med(d, lambda r: r.p50_ms):+.2f} ms", "", ""))  # fmt: skip
    cpu_rows("throughput", d, g)

    d, g = lat
    rows.append(("2 latency req/s (sleep 0.1, W=50, -t2 -c50)", f"{med(d, lambda r: r.rps):.1f}",
                 f"{med(g, lambda r: r.rps):.1f}", f"{ratio(med(g, lambda r: r.rps), med(d, lambda r: r.rps)):.2f}x",
                 "", ""))  # fmt: skip
    for pct, get in (("p50", lambda r: r.p50_ms), ("p90", lambda r: r.p90_ms), ("p99", lambda r: r.p99_ms)):
        dv, gv = med(d, get), med(g, get)
        target, verdict = ("< 2 ms", "PASS" if gv - dv < 2 else "FAIL") if pct == "p50" else ("", "")
        if pct == "p50":
            verdicts.append(f"latency overhead {verdict} (p50 {gv - dv:+.2f} ms)")
        rows.append((f"  latency {pct} ms", f"{dv:.2f}", f"{gv:.2f}", f"{gv - dv:+.2f} ms", target, verdict))
    cpu_rows("latency", d, g)

    print(f"\nGateway vs direct: median of {args.rounds} alternating round(s) of {args.duration:g} s each, "
          f"{os.cpu_count()} CPU(s)\n")  # fmt: skip
    print(table(rows))
    print("\nVERDICT: " + "; ".join(verdicts))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    p.add_argument("--rounds", type=int, default=3, help="direct+gateway pairs per experiment (default 3)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of discarded warm-up per side (default 2)")
    p.add_argument("--quick", action="store_true", help="3 s smoke run: --duration 3 --rounds 1 --warmup 1")
    p.add_argument("--workers", type=int, default=2,
                   help="experiment 1: WORKER_COUNT = max_concurrent_requests_per_instance (default 2)")  # fmt: skip
    p.add_argument("--connections", type=int, default=None,
                   help="experiment 1: wrk connections (default --workers; above 2x it the gateway answers 429)")  # fmt: skip
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.rounds, args.warmup = 3.0, 1, 1.0
    args.connections = args.connections or args.workers
    if args.duration < 1 or args.rounds < 1 or args.workers < 1 or args.connections < 1:
        p.error("--duration must be >= 1 s; --rounds, --workers and --connections >= 1")
    return args


async def main_async(args: argparse.Namespace) -> None:
    print(f"Experiment 1: throughput, sleep 0 s, WORKER_COUNT {args.workers}, wrk -t1 -c{args.connections}")
    tput = await experiment(
        DeploymentSettings(name="blue", worker_count=args.workers, max_concurrent_requests_per_instance=args.workers,
                           request_timeout_ms=60_000, sleep_s=0.0),
        '{"request_id": 1, "sleep": 0}', 1, args.connections, args,
    )  # fmt: skip
    print("Experiment 2: latency overhead, sleep 0.1 s, WORKER_COUNT 50, wrk -t2 -c50")
    lat = await experiment(
        DeploymentSettings(name="blue", worker_count=50, max_concurrent_requests_per_instance=50,
                           request_timeout_ms=60_000, sleep_s=0.1),
        '{"request_id": 1, "sleep": 0.1}', 2, 50, args,
    )  # fmt: skip
    report(tput, lat, args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: install it with `apt-get install wrk` (Debian/Ubuntu).", file=sys.stderr)
        return 2
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("\nInterrupted; every process was stopped.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
