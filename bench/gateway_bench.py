"""The local endpoint's gateway against the same inference servers called directly, measured with wrk.

Two experiments, each on one started LocalEndpoint, each alternating direct and gateway runs of wrk
(a C load generator, so the client takes little of the machine's CPU) and taking the median per side:

1. Throughput: the scorer sleeps 0 s, one instance with --workers gunicorn workers and
   max_concurrent_requests_per_instance = --workers, `wrk -t1 -c<--connections>`.
   Target: gateway req/s >= 0.80 x direct req/s.
2. Latency overhead: the scorer sleeps 0.1 s, one instance with 50 workers and
   max_concurrent_requests_per_instance 50 (nothing queues), `wrk -t2 -c50`.
   Target: gateway p50 - direct p50 < 2 ms (p90 and p99 differences are reported too).

Around every run the CPU time (utime + stime, from /proc) of the gateway, of the inference server
(gunicorn master and workers), of wrk and of everything else on the machine is read. All traffic goes
to 127.0.0.1; every wrk run is bounded by -d. Exits 0 whether the targets pass or not (a benchmark,
not a test), 2 when wrk is missing.

    .venv/bin/python bench/gateway_bench.py [--duration 10] [--rounds 3] [--quick] [--workers 4]
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
from operator import attrgetter

from moetui.local_endpoint import DeploymentSettings, LocalEndpoint, LocalEndpointSettings, RunningEndpoint

_TICKS = os.sysconf("SC_CLK_TCK")
_PARTIES = ("gateway", "server", "wrk", "other")
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

Experiment = tuple[list["Run"], list["Run"]]
"""One experiment's runs: (direct, gateway)."""


@dataclass(frozen=True)
class Run:
    """One wrk run: its summary, and the CPU seconds each party used during its wall time."""

    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    wall_s: float
    cpu_s: dict[str, float]
    """By party: gateway, server, wrk, other (the rest of the machine: noise)."""

    def cpu_pct(self, party: str) -> float:
        return self.cpu_s[party] / self.wall_s

    def cpu_ms_per_request(self, party: str) -> float:
        return 1000 * self.cpu_s[party] / max(self.requests, 1)


def group_cpu_s(pgid: int) -> float:
    """utime + stime, in seconds, of every live process in process group `pgid`."""
    ticks = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rpartition(")")[2].split()  # after "(comm)": state ppid pgrp ...
            except OSError:  # gone in between
                continue
            if int(fields[2]) == pgid:
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / _TICKS


def cpu_snapshot(ep: RunningEndpoint) -> tuple[float, ...]:
    """CPU seconds so far of (gateway, server, wrk, whole machine busy), and the monotonic time."""
    with open("/proc/stat") as f:
        jiffies = [int(x) for x in f.readline().split()[1:9]]
    machine = (sum(jiffies) - jiffies[3] - jiffies[4]) / _TICKS  # all but idle and iowait
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once reaped
    wrk = children.ru_utime + children.ru_stime
    return group_cpu_s(ep.gateway_pid), group_cpu_s(ep.instance_pids[0]), wrk, machine, time.monotonic()


async def run_wrk(
    ep: RunningEndpoint, url: str, body: str, *, auth: bool, threads: int, connections: int, seconds: int
) -> Run:
    """Run wrk once against `url` and return its summary; wrk is killed if this is cancelled."""
    # The key goes into a private temp file (mode 0600), never onto a command line or the screen.
    auth_line = f'wrk.headers["Authorization"] = [==[Bearer {ep.key}]==]' if auth else ""
    fd, lua_path = tempfile.mkstemp(prefix="gateway-bench-", suffix=".lua")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(_LUA.format(body=body, auth=auth_line))
        args = [f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", lua_path, url]
        before = cpu_snapshot(ep)
        proc = await asyncio.create_subprocess_exec(
            "wrk", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=seconds + 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        after = cpu_snapshot(ep)
    finally:
        os.unlink(lua_path)
    text = out.decode(errors="replace")
    line = next((x for x in text.splitlines() if x.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (status {proc.returncode}):\n{text}")
    s = json.loads(line.removeprefix("WRK_JSON "))
    gateway, server, wrk, machine, wall = (a - b for a, b in zip(after, before, strict=True))
    other = max(0.0, machine - gateway - server - wrk)
    return Run(
        requests=s["requests"],
        rps=s["requests"] / (s["duration_us"] / 1e6),
        p50_ms=s["p50"] / 1000,
        p90_ms=s["p90"] / 1000,
        p99_ms=s["p99"] / 1000,
        errors=s["errors"],
        wall_s=wall,
        cpu_s=dict(zip(_PARTIES, (gateway, server, wrk, other), strict=True)),
    )


async def wait_for_workers(ep: RunningEndpoint, deployment: str, workers: int, timeout_s: float = 180) -> None:
    """Wait until every gunicorn worker has run init(): liveness needs one, 50 take ~30 s on 2 cores."""
    log = ep.log_dir / f"{deployment}-0.log"
    ready_line = re.compile(r"Worker with pid (\d+) ready for serving traffic")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(set(ready_line.findall(log.read_text(errors="replace")))) >= workers:
            return
        await asyncio.sleep(0.5)
    print(f"  warning: not all {workers} workers were ready after {timeout_s:.0f} s", file=sys.stderr)


async def experiment(
    deployment: DeploymentSettings, body: str, threads: int, connections: int, args: argparse.Namespace
) -> Experiment:
    """Start one endpoint, warm up, then alternate direct and gateway runs; return (direct, gateway)."""
    settings = LocalEndpointSettings(deployments=(deployment,))
    async with LocalEndpoint(settings, on_progress=lambda line: print("  " + line)) as ep:
        await wait_for_workers(ep, deployment.name, deployment.worker_count)
        direct_url = f"http://127.0.0.1:{ep.instance_ports[deployment.name][0]}/score"

        async def one(side: str, seconds: int) -> Run:
            url, auth = (direct_url, False) if side == "direct" else (ep.scoring_uri, True)
            r = await run_wrk(ep, url, body, auth=auth, threads=threads, connections=connections, seconds=seconds)
            cpu = " ".join(f"{p} {r.cpu_pct(p):4.0%}" for p in _PARTIES)
            print(f"  {side:8} {r.rps:8.1f} req/s  p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  ", end="")
            print(f"errors {r.errors}  CPU {cpu}")
            return r

        print("  warm-up (discarded):")
        for side in ("direct", "gateway"):
            await one(side, args.warmup)
        runs: dict[str, list[Run]] = {"direct": [], "gateway": []}
        for i in range(args.rounds):
            print(f"  round {i + 1}/{args.rounds}:")
            for side in ("direct", "gateway") if i % 2 == 0 else ("gateway", "direct"):  # ABBA against drift
                runs[side].append(await one(side, args.duration))
        return runs["direct"], runs["gateway"]


def med(runs: list[Run], value: Callable[[Run], float]) -> float:
    return statistics.median(value(r) for r in runs)


def report(tput: Experiment | None, lat: Experiment | None, args: argparse.Namespace) -> None:
    """Print the one table and the verdict."""
    rows: list[tuple[str, ...]] = [
        ("measurement (median of each side)", "direct", "gateway", "gw vs direct", "target", "verdict")
    ]
    verdicts: list[str] = []

    def row(label: str, runs: Experiment, get: Callable[[Run], float], unit: str, target: str = "") -> None:
        dv, gv = med(runs[0], get), med(runs[1], get)
        diff = f"{gv / dv if dv else float('nan'):.2f}x" if unit == "x" else f"{gv - dv:+.2f} ms"
        ok = {">= 0.80x": dv > 0 and gv / dv >= 0.80, "< 2 ms": gv - dv < 2}.get(target)
        verdict = "" if ok is None else "PASS" if ok else "FAIL"
        rows.append((label, f"{dv:.2f}", f"{gv:.2f}", diff, target, verdict))
        if target:
            verdicts.append(f"{label.strip()}: {diff} (target {target}) -> {verdict}")

    def cpu_and_errors(name: str, runs: Experiment) -> None:
        for p in _PARTIES:
            ms = [med(side, lambda r: r.cpu_ms_per_request(p)) for side in runs]  # noqa: B023
            pct = [med(side, lambda r: r.cpu_pct(p)) for side in runs]  # noqa: B023
            cells = [f"{m:.2f} ({c:.0%})" for m, c in zip(ms, pct, strict=True)]
            rows.append((f"  {name}: CPU {p}, ms/request (% of a core)", *cells, f"{ms[1] - ms[0]:+.2f} ms", "", ""))
        errors = [sum(r.errors for r in side) for side in runs]
        verdict = "PASS" if errors == [0, 0] else "FAIL"
        rows.append((f"  {name}: errors (socket + HTTP >= 400, all runs)", *map(str, errors), "", "0", verdict))

    percentiles: dict[str, Callable[[Run], float]] = {p: attrgetter(f"{p}_ms") for p in ("p50", "p90", "p99")}
    if tput:
        label = f"1 throughput: req/s (sleep 0, W={args.workers}, -t1 -c{args.connections})"
        row(label, tput, lambda r: r.rps, "x", ">= 0.80x")
        for p in ("p50", "p99"):
            row(f"  throughput: latency {p} ms", tput, percentiles[p], "ms")
        cpu_and_errors("throughput", tput)
    if lat:
        row("2 latency: req/s (sleep 0.1, W=50, -t2 -c50)", lat, lambda r: r.rps, "x")
        for p, get in percentiles.items():
            row(f"  latency: {p} ms", lat, get, "ms", "< 2 ms" if p == "p50" else "")
        cpu_and_errors("latency", lat)

    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    print(f"\nGateway vs direct: median of {args.rounds} alternating run(s) of {args.duration} s per side")
    print(f"({os.cpu_count()} CPUs; a high 'CPU other' means something else was using the machine)\n")
    print("\n".join(lines))
    print("\nVERDICT:\n" + "\n".join(f"  {v}" for v in verdicts))
    noise = max(r.cpu_pct("other") for runs in (tput, lat) if runs for side in runs for r in side)
    if noise > 0.25:
        print(f"  WARNING: other processes used up to {noise:.0%} of a core during a run: the verdict is not")
        print("  trustworthy; rerun on a quiet machine.")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    p.add_argument("--rounds", type=int, default=3, help="direct+gateway pairs per experiment (default 3)")
    p.add_argument("--warmup", type=int, default=2, help="seconds of discarded warm-up per side (default 2)")
    p.add_argument("--quick", action="store_true", help="3 s smoke run: --duration 3 --rounds 1 --warmup 1")
    p.add_argument("--workers", type=int, default=4, help="exp. 1: WORKER_COUNT = max concurrency (default 4)")
    p.add_argument("--connections", type=int, help="exp. 1: wrk connections (default --workers; > 2x gets 429)")
    p.add_argument("--only", choices=("throughput", "latency"), help="run one experiment only")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.rounds, args.warmup = 3, 1, 1
    args.connections = args.connections or args.workers
    if min(args.duration, args.rounds, args.warmup, args.workers, args.connections) < 1:
        p.error("--duration, --rounds, --warmup, --workers and --connections must be at least 1")
    return args


async def main_async(args: argparse.Namespace) -> None:
    tput = lat = None
    if args.only in (None, "throughput"):
        print(f"Experiment 1: throughput, sleep 0 s, WORKER_COUNT {args.workers}, wrk -t1 -c{args.connections}")
        w = args.workers
        deployment = DeploymentSettings(
            worker_count=w, max_concurrent_requests_per_instance=w, request_timeout_ms=60_000, sleep_s=0.0
        )
        tput = await experiment(deployment, '{"request_id": 1, "sleep": 0}', 1, args.connections, args)
    if args.only in (None, "latency"):
        print("Experiment 2: latency overhead, sleep 0.1 s, WORKER_COUNT 50, wrk -t2 -c50")
        deployment = DeploymentSettings(
            worker_count=50, max_concurrent_requests_per_instance=50, request_timeout_ms=60_000, sleep_s=0.1
        )
        lat = await experiment(deployment, '{"request_id": 1, "sleep": 0.1}', 2, 50, args)
    report(tput, lat, args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: install it with `apt-get install wrk` (Debian/Ubuntu).", file=sys.stderr)
        return 2
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("\nInterrupted; the endpoint's processes and wrk were stopped.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
