"""Peak memory of a long run with and without the request log (--request-log): the log is streamed to disk
a settled batch at a time, so peak RSS should not grow with the number of requests.

Each run is `moetui run http://127.0.0.1:P/fast -c 32 -n N` against tests/http_server.py in its own
process; peak RSS is the child's own ru_maxrss (os.wait4), so the server and this script are not counted.

    PYTHONPATH=. .venv/bin/python bench/requests_log_bench.py --requests 1000000

Prints one line per run (requests, seconds, req/s, peak RSS MB, log file rows and MB) and the difference.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.http_server import serve_in_process  # noqa: E402


def run(url: str, requests: int, log: Path | None) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one moetui run."""
    argv = [sys.executable, "-m", "moetui", "run", url, "-c", "32", "-n", str(requests), "-d", "10m"]
    if log is not None:
        argv += ["--request-log", str(log)]
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 4):
        raise SystemExit(f"moetui run exited {process.returncode}")
    return time.monotonic() - started, usage.ru_maxrss / 1024  # ru_maxrss is in KB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    args = parser.parse_args()
    with serve_in_process() as server, tempfile.TemporaryDirectory(prefix="moetui-reqlog-") as tmp:
        url = server.url("/fast")
        results = {}
        for name in ("without", "with"):
            log = Path(tmp) / "requests.csv" if name == "with" else None
            seconds, rss_mb = run(url, args.requests, log)
            results[name] = rss_mb
            extra = ""
            if log is not None:
                with log.open("rb") as handle:
                    rows = sum(1 for _ in handle) - 1
                extra = f", log {rows:,} rows, {log.stat().st_size / 1e6:.1f} MB"
            print(
                f"{name:>7} --request-log: {args.requests:,} requests in {seconds:.1f} s "
                f"({args.requests / seconds:,.0f} req/s), peak RSS {rss_mb:.1f} MB{extra}",
                flush=True,
            )
        print(f"peak RSS difference: {results['with'] - results['without']:+.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
