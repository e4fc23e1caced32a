"""The live screen must not slow the load it shows: the same closed-loop run (32 connections against
nginx on 127.0.0.1, the engine at its maximum) headless and in the app on its live screen in a real
terminal (tmux), alternating, with the screen's refresh rate read from the outside.

Targets (issue: the TUI): TUI throughput >= 0.90 x headless; the live screen refreshes >= 4 times a
second. Refreshes are counted by sampling the terminal (tmux capture-pane every 50 ms) and counting
changes of the status line, whose elapsed time has 0.1 s resolution; the engine runs in its own process
in the app, in the main process headless.

    .venv/bin/python bench/tui_bench.py [--duration 10] [--rounds 2]

Needs nginx (with the echo module: engine_bench.py's server) and tmux: apt-get install nginx
libnginx-mod-http-echo tmux. Exits 0 whatever the verdict (a benchmark), 2 when a tool is missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MOETUI = [sys.executable, "-m", "moetui"]
sys.path.insert(0, str(HERE))

from engine_bench import start_nginx  # noqa: E402

CONFIG = """\
[target.url]
url = "http://127.0.0.1:{port}/fast"

[load]
mode = "closed"
connections = 32
duration = "{duration}s"
warmup = "1s"
timeout = "10s"
method = "GET"
"""


def headless(config: Path, out: Path) -> float:
    subprocess.run([*MOETUI, "--run", str(config), "--report", str(out)], cwd=ROOT, capture_output=True, timeout=300)
    return float(json.loads(out.read_text())["throughput_rps"])


def in_tmux(config: Path, out: Path, duration: float) -> tuple[float, float]:
    """Run in the app inside tmux; return (ok/s, screen refreshes per second while running)."""
    session = f"moetui-bench-{time.monotonic_ns()}"
    command = f"cd {ROOT} && {' '.join(MOETUI)} --live {config} --report {out}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", command], check=True)
    changes: list[float] = []
    last = ""
    deadline = time.monotonic() + duration + 60
    try:
        while not out.exists() and time.monotonic() < deadline:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout.splitlines()
            status = screen[0] if screen else ""
            if " · running · " in status and status != last:
                changes.append(time.monotonic())
            last = status
            time.sleep(0.05)
    finally:
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], capture_output=True)
        time.sleep(1)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    span = changes[-1] - changes[0] if len(changes) > 1 else 0.0
    return float(json.loads(out.read_text())["throughput_rps"]), (len(changes) - 1) / span if span else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="headless+TUI pairs (default 2)")
    args = parser.parse_args()
    for tool, package in (("nginx", "nginx libnginx-mod-http-echo"), ("tmux", "tmux")):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install -y {package}", file=sys.stderr)
            return 2
    tmp = Path(tempfile.mkdtemp(prefix="moetui-tui-bench-"))
    nginx, port = start_nginx(tmp)
    try:
        config = tmp / "run.toml"
        config.write_text(CONFIG.format(port=port, duration=args.duration))
        rows = []
        for round_ in range(args.rounds):
            h = headless(config, tmp / f"headless-{round_}.json")
            t, hz = in_tmux(config, tmp / f"tui-{round_}.json", args.duration)
            print(f"round {round_ + 1}: headless {h:,.0f} ok/s, TUI {t:,.0f} ok/s, screen {hz:.1f} refreshes/s")
            rows.append((h, t, hz))
    finally:
        nginx.terminate()
        nginx.wait(10)
    h = statistics.median(r[0] for r in rows)
    t = statistics.median(r[1] for r in rows)
    hz = statistics.median(r[2] for r in rows)
    print()
    print(f"{'measurement (median)':<40}{'value':>14}{'target':>12}  verdict")
    print(f"{'headless, ok/s':<40}{h:>14,.0f}")
    print(f"{'TUI on the live screen, ok/s':<40}{t:>14,.0f}")
    print(f"{'TUI / headless':<40}{t / h:>13.2f}x{'>= 0.90x':>12}  {'PASS' if t / h >= 0.9 else 'FAIL'}")
    print(f"{'live screen refreshes per second':<40}{hz:>14.1f}{'>= 4':>12}  {'PASS' if hz >= 4 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
