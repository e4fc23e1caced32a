"""moetui's load engine against its peers, in one run, on one loopback nginx; one table of targets.

nginx (Debian's, echo module) runs a private config on 127.0.0.1 pinned to CPU 0; this process, its
generators and children run on CPU 1. Each peer runs --warmup + --duration s, peers alternate (order
rotated per round), medians of --rounds are reported. Targets (the project's issue):
1. closed loop, GET /fast, 32 connections, one generator: moetui (aiohttp) >= 0.9x a raw aiohttp loop
   and >= 1.2x locust FastHttpUser (1 process); wrk -t1 -c32, moetui httpx and workers=2 for reference.
2. open loop, 2,000 req/s, one generator: sent / (rate x wall) within 1 %, send drift p99 <= 2 ms.
3. GET /sleep (0.1 s), 50 connections: moetui p50 within 1 ms and p99 within 5 ms of wrk -t2 -c50's.
4. a fresh process, closed loop of warm-up + --memory-requests: VmRSS growth < 20 MB over 10M requests.
CPU used meanwhile by other processes is measured; above 25 % of a core the run is repeated once (the
quieter kept) and flagged if still noisy. A peer whose tool is missing is skipped with a message (wrk
from apt; locust from bench/.venv, which `make bench` creates, or this interpreter); its rows say
SKIPPED. Exits 0 whatever the verdicts, 2 when nginx or its echo module is missing (every row needs the
server; nothing is installed from here: `make bench-deps` does, as root).

    .venv/bin/python bench/engine_bench.py [--duration 10] [--rounds 3] [--quick] [--memory-requests N]
    .venv/bin/python bench/engine_bench.py --peers "raw aiohttp,moetui" --no-memory   # one comparison
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from moetui.engine.plan import LoadPlan
from moetui.engine.run import Run
from moetui.engine.transport import RequestSpec

SERVER_CPU, LOAD_CPU = 0, 1
ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
APT = "apt-get update && apt-get install -y nginx libnginx-mod-http-echo wrk"
BENCH_VENV_PYTHON = Path(__file__).resolve().parent / ".venv" / "bin" / "python"
"""Where `make bench` installs bench/requirements.txt (locust)."""
FULL_MEMORY_RUN = 10_000_000
OTHER_LIMIT = 0.25
NAN = float("nan")
_TICKS = os.sysconf("SC_CLK_TCK")
#: Every peer in a round's order: (kind, path, arguments). "engine": a moetui Run (client and LoadPlan
#: arguments) and "raw": the raw aiohttp loop, each in a fresh process; "wrk": threads and connections;
#: "locust": 32 FastHttpUsers in one process.
PEERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "wrk": ("wrk", "/fast", {"threads": 1, "conns": 32}),
    "raw aiohttp": ("raw", "/fast", {}),
    "moetui": ("engine", "/fast", {"client": "aiohttp", "mode": "closed", "connections": 32}),
    "locust": ("locust", "/fast", {}),
    "httpx": ("engine", "/fast", {"client": "httpx", "mode": "closed", "connections": 32}),
    "workers=2": ("engine", "/fast", {"client": "aiohttp", "mode": "closed", "connections": 32, "workers": 2}),
    "open": ("engine", "/fast", {"client": "aiohttp", "mode": "open", "rate": 2000, "clients": 200}),
    "open httpx": ("engine", "/fast", {"client": "httpx", "mode": "open", "rate": 2000, "clients": 200}),
    "sleep wrk": ("wrk", "/sleep", {"threads": 2, "conns": 50}),
    "sleep moetui": ("engine", "/sleep", {"client": "aiohttp", "mode": "closed", "connections": 50}),
}

NGINX_CONF = """\
load_module {module};
daemon off; master_process on; worker_processes 1;
pid {tmp}/nginx.pid; error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off; keepalive_requests 1000000000; keepalive_timeout 300s;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /fast {{ return 200 "ok"; }}
        location /sleep {{ echo_sleep 0.1; echo "ok"; }}
    }}
}}
"""
WRK_LUA = """\
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50": %.1f, "p99": %.1f, "errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""
LOCUSTFILE = """\
import json, time
import gevent
from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser

class Fast(FastHttpUser):
    wait_time = constant(0)
    @task
    def fast(self):
        self.client.get("/fast")

@events.test_start.add_listener
def measure(environment, **_):
    def window():
        gevent.sleep({warmup})
        total = environment.stats.total
        n0, t0 = total.num_requests, time.perf_counter()
        gevent.sleep({duration})
        n1, t1 = total.num_requests, time.perf_counter()
        print("LOCUST_JSON " + json.dumps({{"rps": (n1 - n0) / (t1 - t0), "errors": total.num_failures}}))
        environment.runner.quit()
    gevent.spawn(window)
"""


@dataclass
class Sample:
    """One peer's run."""

    rps: float
    p50_ms: float = NAN
    p99_ms: float = NAN
    errors: dict[str, int] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """moetui's health warnings."""
    other_cpu: float = 0.0
    """Cores used meanwhile by processes other than this tree and nginx: noise."""


def start_nginx(tmp: Path, pin: bool = True) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(module=ECHO_MODULE, tmp=tmp, port=port))
    args = ["nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")]
    pin_fn = partial(os.sched_setaffinity, 0, {SERVER_CPU}) if pin else None
    proc = subprocess.Popen(args, preexec_fn=pin_fn, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"nginx did not start: {(tmp / 'error.log').read_text(errors='replace')}")


def cpu_now(nginx_pid: int) -> tuple[float, ...]:
    """CPU seconds so far of (the machine, nginx, this process and its reaped children), and the time."""
    with open("/proc/stat") as f:
        machine = sum(int(x) for x in f.readline().split()[1:4]) / _TICKS  # user, nice, system
    server = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == nginx_pid:  # nginx's process group: master and worker
            server += int(fields[11]) + int(fields[12])
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return machine, server / _TICKS, sum(u.ru_utime + u.ru_stime for u in usage), time.monotonic()


def measured(nginx_pid: int, run: Callable[[], Sample]) -> Sample:
    before = cpu_now(nginx_pid)
    sample = run()
    machine, server, own, wall = (a - b for a, b in zip(cpu_now(nginx_pid), before, strict=True))
    sample.other_cpu = max(0.0, machine - server - own) / wall
    return sample


def run_tool(args: list[str], marker: str, timeout_s: float) -> dict[str, Any]:
    """Run a child to completion (killed after timeout_s) and return the JSON on its `marker` line."""
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
    line = next((x for x in out.stdout.splitlines() if x.startswith(marker)), None)
    if line is None:
        raise RuntimeError(f"{args[0]} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return dict(json.loads(line.removeprefix(marker)))


def wrk(url: str, warmup: int, duration: int, lua: Path, threads: int, conns: int) -> Sample:
    base = ["wrk", f"-t{threads}", f"-c{conns}", "--timeout", "10s", "-s", str(lua)]
    run_tool([*base, f"-d{warmup}s", url], "WRK_JSON ", warmup + 30)  # the warm-up, discarded
    s = run_tool([*base, f"-d{duration}s", url], "WRK_JSON ", duration + 30)
    errors = {"wrk errors": int(s["errors"])} if s["errors"] else {}
    return Sample(s["requests"] / (s["duration_us"] / 1e6), s["p50"] / 1000, s["p99"] / 1000, errors)


def locust_python() -> str | None:
    """An interpreter that can import locust: this one, or bench/.venv's; None when neither can."""
    if importlib.util.find_spec("locust") is not None:
        return sys.executable
    if BENCH_VENV_PYTHON.exists():
        probe = subprocess.run([str(BENCH_VENV_PYTHON), "-c", "import locust"], capture_output=True, timeout=60)
        if probe.returncode == 0:
            return str(BENCH_VENV_PYTHON)
    return None


def missing_tool(kind: str) -> str | None:
    """Why a peer of this kind cannot run here, or None."""
    if kind == "wrk" and shutil.which("wrk") is None:
        return "wrk is not installed (make bench-deps, or: sudo apt-get install wrk)"
    if kind == "locust" and locust_python() is None:
        return "locust is not installed (make bench puts it in bench/.venv: bench/requirements.txt)"
    return None


def locust(host: str, warmup: int, duration: int, tmp: Path) -> Sample:
    locustfile = tmp / "locustfile.py"
    locustfile.write_text(LOCUSTFILE.format(warmup=warmup, duration=duration))
    python = locust_python()
    assert python is not None  # checked before the rounds
    args = [python, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "32", "-r", "1000"]
    args += ["-t", f"{warmup + duration + 10}s", "--host", host, "--only-summary", "--exit-code-on-error", "0"]
    s = run_tool(args, "LOCUST_JSON ", warmup + duration + 60)
    return Sample(s["rps"], errors={"locust failures": int(s["errors"])} if s["errors"] else {})


async def raw_aiohttp(url: str, conns: int, warmup: float, duration: float) -> Sample:
    """The floor for any aiohttp-based generator: one session, `conns` tasks, nothing recorded."""
    count = bad = 0
    stop_at = time.perf_counter() + warmup + duration
    async with aiohttp.ClientSession() as session:

        async def lane() -> None:
            nonlocal count, bad
            while time.perf_counter() < stop_at:
                async with session.get(url) as r:
                    await r.read()
                bad += r.status != 200
                count += 1

        tasks = [asyncio.create_task(lane()) for _ in range(conns)]
        await asyncio.sleep(warmup)
        n0, t0, c0 = count, time.perf_counter(), time.process_time()
        await asyncio.sleep(duration)
        n1, t1, c1 = count, time.perf_counter(), time.process_time()
        await asyncio.gather(*tasks)
    cpu = {"cpu": (c1 - c0) / (t1 - t0)}  # share of a core, as moetui's health.cpu_share
    return Sample((n1 - n0) / (t1 - t0), errors={"non-200": bad} if bad else {}, extra=cpu)


def engine(url: str, warmup: float, duration: float, client: str, **plan_args: Any) -> Sample:
    """One moetui Run on a fresh uvloop (as its generator processes use)."""
    spec = RequestSpec(url=url, method="GET", headers={}, timeout_s=10, client=client)
    plan = LoadPlan(spec, payloads=(b"",), duration_s=warmup + duration, warmup_s=warmup, **plan_args)
    result = uvloop.run(Run(plan).run())
    s = result.snapshot
    errors = {f"HTTP {k}": v for k, v in s.statuses.items() if k != 200} | dict(s.errors)
    if s.ok == 0:
        errors["no successful response"] = 1
    lag = s.health.loop_lag_p99_ms
    extra = {"cpu": s.health.cpu_share, "sent": s.sent, "late": s.late, "lag_p99": NAN if lag is None else lag}
    if plan.mode == "open":
        extra["held"] = s.sent / (plan.rate * result.wall_s)
        extra["drift_p99"] = NAN if s.health.drift_p99_ms is None else s.health.drift_p99_ms
    pct = s.percentiles_ms
    return Sample(s.throughput_rps, pct.get(50.0, NAN), pct.get(99.0, NAN), errors, extra, list(s.health.reasons))


def child_main(a: argparse.Namespace) -> None:
    """(In a fresh process: no peer inherits another's heap, GC generations or imports.) Print one result."""
    if a.child == "memory":
        n = a.memory_requests
        uvloop.run(memory_child(f"{a.host}/fast", n, warm=min(100_000, max(n // 5, 1))))
        return
    kind, path, args = PEERS[a.child]
    if kind == "raw":
        sample = uvloop.run(raw_aiohttp(a.host + path, 32, a.warmup, a.duration))
    else:
        if args.get("workers", 1) > 1:
            os.sched_setaffinity(0, {SERVER_CPU, LOAD_CPU})  # the spawned generators inherit both CPUs
        sample = engine(a.host + path, a.warmup, a.duration, **args)
    print("CHILD_JSON " + json.dumps(asdict(sample)), flush=True)


def child(a: argparse.Namespace, name: str, host: str) -> dict[str, Any]:
    args = [sys.executable, __file__, "--child", name, "--host", host, f"--warmup={a.warmup}"]
    args += [f"--duration={a.duration}", f"--memory-requests={a.memory_requests}"]
    return run_tool(args, "CHILD_JSON ", 300 + a.warmup + a.duration + a.memory_requests / 500 * (name == "memory"))


def run_peer(a: argparse.Namespace, name: str, host: str, tmp: Path) -> Sample:
    kind, path, args = PEERS[name]
    if kind == "wrk":
        return wrk(host + path, a.warmup, a.duration, tmp / "done.lua", **args)
    if kind == "locust":
        return locust(host, a.warmup, a.duration, tmp)
    return Sample(**child(a, name, host))


def rss_mb() -> float:
    lines = Path("/proc/self/status").read_text().splitlines()
    return int(next(x for x in lines if x.startswith("VmRSS:")).split()[1]) / 1024


async def memory_child(url: str, requests: int, warm: int) -> None:
    """(In a fresh process.) VmRSS after `warm` requests and after `warm + requests`, printed as JSON."""
    spec, bound_s = RequestSpec(url, "GET", {}, timeout_s=10), 60 + (warm + requests) / 1000  # >1,000 req/s
    run = Run(LoadPlan(spec, (b"",), "closed", duration_s=bound_s, connections=32, requests=warm + requests))
    task = asyncio.create_task(run.run())
    base: tuple[float, int] | None = None
    trace: list[float] = []
    while not task.done():
        await asyncio.wait({task}, timeout=0.2)
        sent = run.latest().sent
        if base is None and sent >= warm:
            base = (rss_mb(), sent)
        if base and sent - base[1] >= len(trace) * requests / 10:
            trace.append(round(rss_mb(), 1))
    s = (await task).snapshot
    end = rss_mb()  # the run's result is still alive
    base = base or (end, s.sent)
    bad = sum(s.errors.values()) + sum(v for k, v in s.statuses.items() if k != 200)
    out = {"base": base[0], "end": end, "n": s.sent - base[1], "rps": s.throughput_rps, "errors": bad}
    print("CHILD_JSON " + json.dumps(out | {"trace": [*trace[:10], round(end, 1)]}), flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="measured seconds per run (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="discarded seconds before each run (default 2)")
    p.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported (default 3)")
    p.add_argument("--memory-requests", type=int, default=1_000_000, help="experiment 4's N (default 1,000,000)")
    p.add_argument("--quick", action="store_true", help="smoke run: 3 s runs, 1 round, N <= 200,000")
    p.add_argument("--memory-only", action="store_true", help="experiment 4 alone (the 10M run takes ~45 min)")
    p.add_argument("--no-memory", action="store_true", help="skip experiment 4")
    p.add_argument("--peers", help=f"comma-separated subset of: {', '.join(PEERS)} (default all)")
    p.add_argument("--no-pin", action="store_true", help="let the OS place server and generators (no affinity)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--host", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child_main(a)
        return 0
    if a.quick:
        a.duration, a.warmup, a.rounds, a.memory_requests = 3, 1, 1, min(a.memory_requests, 200_000)
    missing = ["nginx"] * (shutil.which("nginx") is None) + [str(ECHO_MODULE)] * (not ECHO_MODULE.exists())
    if missing:
        print(f"engine_bench skipped: the server is missing ({', '.join(missing)});", file=sys.stderr)
        print(f"  install with `make bench-deps` (root) or: sudo sh -c '{APT}'", file=sys.stderr)
        return 2
    if a.peers:
        unknown = set(a.peers.split(",")) - set(PEERS)
        if unknown:
            p.error(f"--peers: unknown {', '.join(sorted(unknown))}; choose from {', '.join(PEERS)}")
    if not a.no_pin and not {SERVER_CPU, LOAD_CPU} <= os.sched_getaffinity(0):
        print("needs CPUs 0 and 1 (Linux, 2 cores or more): server and generators are pinned apart", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)  # nginx's worker runs as nobody
        nginx, port = start_nginx(tmp, pin=not a.no_pin)
        try:
            if not a.no_pin:
                os.sched_setaffinity(0, {LOAD_CPU})
            return bench(a, nginx.pid, f"http://127.0.0.1:{port}", tmp)
        finally:
            nginx.terminate()  # nginx's master stops its worker and exits
            nginx.wait(timeout=10)


def bench(a: argparse.Namespace, nginx_pid: int, host: str, tmp: Path) -> int:
    w, d = a.warmup, a.duration
    (tmp / "done.lua").write_text(WRK_LUA)
    pinning = f"nginx (1 worker) on CPU {SERVER_CPU}, load generators on CPU {LOAD_CPU} (workers=2: both CPUs)"
    if a.no_pin:
        pinning = "no CPU pinning (the OS places nginx and the generators)"
    print(f"engine_bench: {pinning}; {a.rounds} round(s) of {w} s warm-up + {d} s per peer; {host}", flush=True)
    results: dict[str, list[Sample]] = {name: [] for name in PEERS}
    names = a.peers.split(",") if a.peers else list(PEERS)
    for name in list(names):
        why = missing_tool(PEERS[name][0])
        if why is not None:
            print(f"  SKIPPED {name}: {why}", flush=True)
            names.remove(name)
    for r in range(0 if a.memory_only else a.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            run = partial(run_peer, a, name, host, tmp)
            s = measured(nginx_pid, run)
            if s.other_cpu > OTHER_LIMIT:  # someone else's load: run it once more, keep the quieter run
                print(f"  round {r + 1} {name:<12} others used {s.other_cpu:.0%} of a core: once more", flush=True)
                s = min(s, measured(nginx_pid, run), key=lambda x: x.other_cpu)
            results[name].append(s)
            for note in s.notes:
                print(f"    moetui health ({name}): {note}")
            note = "".join(f"  {k} {v:.2f}" for k, v in s.extra.items() if k in ("cpu", "lag_p99", "drift_p99", "held"))
            note += f"  ERRORS {s.errors}" if s.errors else ""
            note += f"  NOISY: others used {s.other_cpu:.0%} of a core" if s.other_cpu > OTHER_LIMIT else ""
            print(f"  round {r + 1} {name:<12} {s.rps:>8,.0f} req/s  p50 {s.p50_ms:6.2f}  p99 {s.p99_ms:6.2f} ms{note}")

    if a.no_memory:
        mem = {"base": NAN, "end": NAN, "n": 0, "rps": NAN, "errors": 0, "trace": []}
    else:
        print(f"  memory: warm-up + {a.memory_requests:,} requests in a fresh process ...", flush=True)
        mem = child(a, "memory", host)
    if a.memory_only:
        growth = mem["end"] - mem["base"]
        verdict = "PASS" if growth < 20 else "FAIL"
        print(f"4 memory: VmRSS growth over {mem['n']:,} requests {growth:+.1f} MB (< 20 MB / 10M: {verdict})")
        print(f"memory run: {mem['rps']:,.0f} req/s; VmRSS (MB) after the warm-up, every N/10, end: {mem['trace']}")
        return 1 if mem["errors"] else 0
    report(results, mem)
    print(f"\n{pinning}. Median of {a.rounds} round(s), {d} s each after a {w} s warm-up.")
    print(f"memory run: {mem['rps']:,.0f} req/s; VmRSS (MB) after the warm-up, every N/10, at the end: {mem['trace']}")
    errors = {name: s.errors for name, samples in results.items() for s in samples if s.errors}
    errors |= {"memory": {"failed": int(mem["errors"])}} if mem["errors"] else {}
    print(f"ERRORS: {errors}" if errors else "No errors: every response of every peer was a 200.")
    noisy = max((s.other_cpu for samples in results.values() for s in samples), default=0.0)
    if noisy > OTHER_LIMIT:
        print(f"WARNING: other processes used up to {noisy:.0%} of a core during a run: those figures are noisy.")
    return 0


def report(results: dict[str, list[Sample]], mem: dict[str, Any]) -> None:
    """The table: medians over rounds, ratios, targets."""

    def med(name: str, key: str) -> float:
        """The median over rounds; NaN for a peer skipped or not chosen (its rows then say SKIPPED)."""
        if not results[name]:
            return NAN
        return statistics.median(s.extra[key] if key in s.extra else getattr(s, key) for s in results[name])

    def med_of(name: str, figure: Callable[[Sample], float]) -> float:
        return statistics.median(figure(s) for s in results[name]) if results[name] else NAN

    def paired(a: str, b: str, figure: Callable[[Sample], float] = lambda s: s.rps) -> float:
        """The median over rounds of a/b within each round: both ran minutes apart at most, under the same
        background load, which a ratio of the two medians (rounds apart) does not ensure."""
        pairs = list(zip(results[a], results[b], strict=False))
        return statistics.median(figure(x) / figure(y) for x, y in pairs) if pairs else NAN

    def verdict(ok: bool, *figures: float) -> str:
        if any(math.isnan(x) for x in figures):
            return "SKIPPED"
        return "PASS" if ok else "FAIL"

    m, raw, loc, hx, w2 = (med(name, "rps") for name in ("moetui", "raw aiohttp", "locust", "httpx", "workers=2"))
    wrk_rps, held, drift = med("wrk", "rps"), med("open", "held"), med("open", "drift_p99")

    # Requests per CPU-second of the generator: what the code costs, whatever share of a core it got
    # (on a shared machine the closed-loop rate follows the share: see bench/README.md).
    def efficiency(s: Sample) -> float:
        return s.rps / s.extra["cpu"]

    m_eff, raw_eff = (med_of(name, efficiency) for name in ("moetui", "raw aiohttp"))
    m_raw, m_loc = paired("moetui", "raw aiohttp"), paired("moetui", "locust")
    m_raw_eff = paired("moetui", "raw aiohttp", efficiency)
    hx_held, hx_drift = med("open httpx", "held"), med("open httpx", "drift_p99")
    sw, sm = ((med(name, "p50_ms"), med(name, "p99_ms")) for name in ("sleep wrk", "sleep moetui"))
    growth = mem["end"] - mem["base"]
    cpu = f"({med('workers=2', 'cpu'):.2f} cores)"
    rows = [
        ("1 closed /fast", "wrk -t1 -c32 (C reference)", f"{wrk_rps:,.0f} req/s", f"moetui {m / wrk_rps:.2f}x", "info"),
        ("  32 connections", "raw aiohttp loop", f"{raw:,.0f} req/s"),
        ("", "locust FastHttpUser, 1 process", f"{loc:,.0f} req/s"),
        ("", "moetui aiohttp, 1 generator", f"{m:,.0f} req/s", f"{m_raw:.2f}x raw aiohttp", ">= 0.90x",
         verdict(m_raw >= 0.9, m_raw)),
        ("", "", "", f"{m_loc:.2f}x locust", ">= 1.20x", verdict(m_loc >= 1.2, m_loc)),
        ("", "per generator CPU-second: moetui", f"{m_eff:,.0f} req/s", f"{m_raw_eff:.2f}x raw aiohttp",
         "info", f"(raw {raw_eff:,.0f}; cores {med('moetui', 'cpu'):.2f} / {med('raw aiohttp', 'cpu'):.2f})"),
        ("", "moetui httpx, 1 generator", f"{hx:,.0f} req/s", f"{hx / m:.2f}x aiohttp", "info"),
        ("", "moetui aiohttp, workers=2", f"{w2:,.0f} req/s", f"{w2 / m:.2f}x workers=1", "info", cpu),
        ("2 open 2,000/s", "moetui aiohttp: sent/(rate x wall)", f"{held:.2%}", f"{med('open', 'sent'):,.0f} sent",
         "within 1 %", verdict(abs(held - 1) <= 0.01, held)),
        ("", "moetui aiohttp: send drift p99", f"{drift:.2f} ms", f"{med('open', 'late'):,.0f} held by the cap",
         "<= 2 ms", verdict(drift <= 2, drift)),
        ("", "moetui httpx: sent/(rate x wall)", f"{hx_held:.2%}", f"drift p99 {hx_drift:.2f} ms", "info"),
        ("3 closed /sleep", "wrk -t2 -c50 p50 / p99", f"{sw[0]:.2f} / {sw[1]:.2f} ms"),
        ("  0.1 s, 50 conn", "moetui aiohttp p50 / p99", f"{sm[0]:.2f} / {sm[1]:.2f} ms",
         f"{sm[0] - sw[0]:+.2f} / {sm[1] - sw[1]:+.2f} ms", "<= 1 / 5 ms",
         verdict(sm[0] - sw[0] <= 1 and sm[1] - sw[1] <= 5, *sm, *sw)),
        ("4 memory", f"VmRSS growth, {mem['n']:,.0f} requests", f"{growth:+.1f} MB",
         f"{mem['base']:.1f} -> {mem['end']:.1f} MB", "< 20 MB / 10M",
         verdict(growth < 20, growth)
         + (f" (N={mem['n'] / 1e6:.2g}M: 10M NOT RUN)" if 0 < mem["n"] < FULL_MEMORY_RUN else "")),
    ]  # fmt: skip
    head = ("Experiment", "Peer / figure", "Value", "Ratio / difference", "Target", "Result")
    table = [head, *(row + ("",) * (6 - len(row)) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(6)]
    table.insert(1, tuple("-" * wd for wd in widths))
    print()
    for row in table:
        print("  ".join(cell.ljust(wd) for cell, wd in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    sys.exit(main())
