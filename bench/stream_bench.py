"""Streaming load against its peer: moetui and NVIDIA's AIPerf on one SSE server whose timings are known.

The server (this file with --serve, aiohttp, its own process on 127.0.0.1) answers POST /v1/chat/completions
as OpenAI streams chat completions: the first token TTFT after the request arrived, then one token every
GAP, each token "tok " (one word: one token to the bench's tokenizer), `max_completion_tokens` or
`max_tokens` tokens, a usage chunk when asked, `data: [DONE]`. It counts the tokens it sent and how late
it was against its own schedule (GET /stats), so a tool's error can be told from the server's.

Two experiments per tool, in one run:
1. Accuracy: TTFT 50 ms, 10 ms between tokens, 32 tokens, concurrency 8. Each tool's TTFT and
   inter-token latency (p50, p99) minus the known values. AIPerf's inter-token latency is a per-request
   mean (FACTS), so its p99 is the p99 of those means, not of the gaps.
2. Throughput: no delays, 64 tokens per answer, concurrency 64: output tokens per second, as the tool
   says and as the server counted (the server shares the 2 cores, so this is the most each tool drives
   against a Python server, not its ceiling alone).

AIPerf comes from bench/.venv (`make bench` installs bench/requirements.txt). Its `--tokenizer builtin`
downloads tiktoken's file and fails offline, so the bench builds a whitespace word-level tokenizer with
`tokenizers` + `transformers.PreTrainedTokenizerFast(...).save_pretrained` in a temporary directory.
The moetui row needs its streaming engine (`[load] api = "chat"` and the report's "streaming" block); an
installed moetui without it gets its row skipped with a message. Every run is bounded by --duration;
every process started is stopped by its PID. Exits 0 (a benchmark, not a test).

    .venv/bin/python bench/stream_bench.py [--duration 10] [--only accuracy|throughput] [--tool aiperf|moetui]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / "bench" / ".venv"
AIPERF = BENCH_VENV / "bin" / "aiperf"
HOST = "127.0.0.1"
TOKEN = "tok "


@dataclass(frozen=True)
class Experiment:
    name: str
    ttft_ms: float
    gap_ms: float
    tokens: int
    concurrency: int


EXPERIMENTS = {
    "accuracy": Experiment("accuracy", ttft_ms=50.0, gap_ms=10.0, tokens=32, concurrency=8),
    "throughput": Experiment("throughput", ttft_ms=0.0, gap_ms=0.0, tokens=64, concurrency=64),
}


@dataclass
class Row:
    tool: str
    experiment: str
    tokens_per_s: float | None = None
    """Output tokens per second, as the tool reports."""
    server_tokens_per_s: float | None = None
    """Tokens the server sent per second, from the run's first token to its last."""
    ttft_ms: dict[str, float] = field(default_factory=dict)
    itl_ms: dict[str, float] = field(default_factory=dict)
    server_late_ms: float | None = None
    """How late the server was on average against its own schedule (its share of any error)."""
    note: str = ""


# -- the server --------------------------------------------------------------------------------------


def serve(ttft_ms: float, gap_ms: float) -> None:
    """The SSE server, until SIGTERM; prints READY <port>."""
    from aiohttp import web

    stats: dict[str, float] = {}

    def reset() -> None:
        stats.update(tokens=0, requests=0, late_s=0.0, late_n=0, first_at=0.0, last_at=0.0)

    reset()

    async def chat(request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        body = await request.json()
        tokens = int(body.get("max_completion_tokens") or body.get("max_tokens") or 16)
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        stats["requests"] += 1
        common = {"id": f"chatcmpl-{stats['requests']}", "object": "chat.completion.chunk", "model": "bench"}
        for index in range(tokens):
            due = arrived + (ttft_ms + index * gap_ms) / 1000
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            stats["late_s"] += max(0.0, loop.time() - due)
            stats["late_n"] += 1
            delta = {"role": "assistant", "content": TOKEN} if index == 0 else {"content": TOKEN}
            choice = {"index": 0, "delta": delta, "finish_reason": "length" if index == tokens - 1 else None}
            await response.write(f"data: {json.dumps({**common, 'choices': [choice]})}\n\n".encode())
            stats["tokens"] += 1
            stats["last_at"] = loop.time()
            stats["first_at"] = stats["first_at"] or stats["last_at"]
        if usage:
            counts = {"prompt_tokens": 1, "completion_tokens": tokens, "total_tokens": tokens + 1}
            await response.write(f"data: {json.dumps({**common, 'choices': [], 'usage': counts})}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def read_stats(request: web.Request) -> web.Response:
        answer = web.json_response(stats)
        if request.query.get("reset"):
            reset()
        return answer

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        app.router.add_get("/stats", read_stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        print(f"READY {port}", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


class Server:
    """The SSE server in a process of its own, stopped by PID."""

    def __init__(self, experiment: Experiment) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                "--ttft-ms",
                str(experiment.ttft_ms),
                "--gap-ms",
                str(experiment.gap_ms),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the SSE server did not start: {line!r}")
        self.port = int(line.split()[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stats(self, reset: bool = False) -> dict[str, Any]:
        """The server's counts since the last reset (and a reset after reading them, when asked)."""
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/stats{'?reset=1' if reset else ''}", timeout=5) as answer:
            result: dict[str, Any] = json.load(answer)
            return result

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- AIPerf --------------------------------------------------------------------------------------------

_TOKENIZER_SCRIPT = """
import sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast
words = ["[UNK]", "tok"] + [f"w{i}" for i in range(1000)]
tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
tokenizer.decoder = decoders.WordPiece()  # joins words with spaces
PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]").save_pretrained(sys.argv[1])
"""


def build_tokenizer(directory: Path) -> None:
    """A whitespace word-level tokenizer AIPerf can load offline ("tok " is one token)."""
    subprocess.run([str(BENCH_VENV / "bin" / "python"), "-c", _TOKENIZER_SCRIPT, str(directory)], check=True)


def run_aiperf(experiment: Experiment, server: Server, duration_s: float, work: Path) -> Row:
    row = Row("aiperf", experiment.name)
    if not AIPERF.exists():
        row.note = "skipped: bench/.venv has no aiperf (make bench installs bench/requirements.txt)"
        return row
    tokenizer = work / "tokenizer"
    if not tokenizer.exists():
        build_tokenizer(tokenizer)
    artifacts = work / f"aiperf-{experiment.name}"
    command = [
        str(AIPERF),
        "profile",
        "--model",
        "bench",
        "--url",
        server.url,
        "--endpoint-type",
        "chat",
        "--streaming",
        "--tokenizer",
        str(tokenizer),
        "--concurrency",
        str(experiment.concurrency),
        "--benchmark-duration",
        str(duration_s),
        "--benchmark-grace-period",
        "5",
        "--synthetic-input-tokens-mean",
        "16",
        "--output-tokens-mean",
        str(experiment.tokens),
        "--output-tokens-stddev",
        "0",
        "--warmup-request-count",
        str(experiment.concurrency),
        "--ui-type",
        "none",
        "--artifact-dir",
        str(artifacts),
    ]
    server.stats(reset=True)
    started = time.monotonic()
    # Its own session: its worker processes are stopped with it (FACTS: a killed AIPerf left five behind).
    process = subprocess.Popen(
        command, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = process.communicate(timeout=duration_s + 180)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        row.note = "timed out"
        return row
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything of its session still there
        except ProcessLookupError:
            pass
    after = server.stats()
    wall_s = time.monotonic() - started
    (work / f"aiperf-{experiment.name}.log").write_text(output)
    exports = sorted(artifacts.rglob("profile_export_aiperf.json"))
    if process.returncode != 0 or not exports:
        row.note = f"failed (exit {process.returncode}; log {work / f'aiperf-{experiment.name}.log'})"
        return row
    metrics = json.loads(exports[-1].read_text())
    row.ttft_ms = _stats(metrics, "time_to_first_token")
    row.itl_ms = _stats(metrics, "inter_token_latency")
    throughput = _stats(metrics, "output_token_throughput")
    row.tokens_per_s = throughput.get("avg")
    row.server_tokens_per_s = _server_rate(after)
    row.server_late_ms = _late_ms(after)
    row.note = f"{wall_s:.0f} s in all, start-up included"
    return row


def _stats(metrics: dict[str, Any], name: str) -> dict[str, float]:
    """One metric's statistics from AIPerf's JSON export, wherever it sits (top level or under "records")."""
    found = metrics.get(name) or (metrics.get("records") or {}).get(name)
    if isinstance(found, dict):
        return {k: float(v) for k, v in found.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return {}


def _late_ms(stats: dict[str, Any]) -> float | None:
    return stats["late_s"] / stats["late_n"] * 1000 if stats["late_n"] else None


def _server_rate(stats: dict[str, Any]) -> float | None:
    """Tokens the server sent per second from its first token to its last (the tool's warm-up included)."""
    span_s = stats["last_at"] - stats["first_at"]
    return stats["tokens"] / span_s if span_s > 0 else None


# -- moetui --------------------------------------------------------------------------------------------


def moetui_streams() -> str | None:
    """None when the moetui this bench imports has a streaming engine, else why not."""
    try:
        from moetui.config.schema import LoadConfig
    except ImportError as exc:
        return f"moetui cannot be imported ({exc})"
    if "api" not in {f.name for f in fields(LoadConfig)}:
        return (
            'skipped: this moetui has no streaming engine yet ([load] api = "chat" and the report\'s '
            '"streaming" block); the row runs once it has'
        )
    return None


def run_moetui(experiment: Experiment, server: Server, duration_s: float, work: Path) -> Row:
    row = Row("moetui", experiment.name)
    reason = moetui_streams()
    if reason is not None:
        row.note = reason
        return row
    payload = {
        "model": "bench",
        "messages": [{"role": "user", "content": "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16"}],
        "stream": True,
        "max_tokens": experiment.tokens,
        "stream_options": {"include_usage": True},
    }
    config = work / f"moetui-{experiment.name}.toml"
    config.write_text(
        "[target.url]\n"
        f'url = "{server.url}/v1/chat/completions"\n\n'
        "[load]\n"
        'mode = "closed"\n'
        'api = "chat"\n'
        f"connections = {experiment.concurrency}\n"
        f'duration = "{duration_s:g}s"\n'
        'warmup = "1s"\n'
        'timeout = "30s"\n'
        f"payload = '{json.dumps(payload)}'\n"
    )
    report_path = work / f"moetui-{experiment.name}.json"
    server.stats(reset=True)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "moetui", "--run", str(config), "--report", str(report_path)],
        capture_output=True,
        text=True,
        timeout=duration_s + 120,
    )
    wall_s = time.monotonic() - started
    after = server.stats()
    if not report_path.exists():
        row.note = f"failed (exit {result.returncode}): {(result.stderr or result.stdout).strip()[-300:]}"
        return row
    streaming = json.loads(report_path.read_text()).get("streaming")
    if not isinstance(streaming, dict):
        row.note = 'the report has no "streaming" block'
        return row
    row.ttft_ms = _ladder(streaming, "ttft_ms")
    row.itl_ms = _ladder(streaming, "itl_ms")
    rate = (streaming.get("tokens") or {}).get("output_per_s")  # report["streaming"]["tokens"]["output_per_s"]
    row.tokens_per_s = float(rate) if isinstance(rate, int | float) else None
    row.server_tokens_per_s = _server_rate(after)
    row.server_late_ms = _late_ms(after)
    row.note = f"{wall_s:.0f} s in all, start-up included"
    return row


def _ladder(block: dict[str, Any], name: str) -> dict[str, float]:
    """A percentile ladder in ms from the report's streaming block: report["streaming"][name] = {"p50": ..}."""
    found = block.get(name)
    return {key: float(value) for key, value in found.items()} if isinstance(found, dict) else {}


# -- the table -----------------------------------------------------------------------------------------


def _error(stats: dict[str, float], key: str, known_ms: float) -> str:
    value = stats.get(key)
    return f"{value - known_ms:+.2f}" if value is not None else "—"


def print_table(rows: list[Row]) -> None:
    print()
    print("Streaming: moetui and AIPerf against one SSE server with known timings (127.0.0.1, 2 cores shared)")
    header = (
        f"{'tool':<8} {'experiment':<11} {'tok/s tool':>11} {'tok/s srv':>10} {'TTFT p50':>9} {'TTFT p99':>9} "
        f"{'ITL p50':>8} {'ITL p99':>8} {'srv late':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        experiment = EXPERIMENTS[row.experiment]
        if not row.ttft_ms and row.tokens_per_s is None:
            print(f"{row.tool:<8} {row.experiment:<11} {row.note}")
            continue
        rate = f"{row.tokens_per_s:,.0f}" if row.tokens_per_s is not None else "—"
        server = f"{row.server_tokens_per_s:,.0f}" if row.server_tokens_per_s is not None else "—"
        late = f"{row.server_late_ms:.2f}" if row.server_late_ms is not None else "—"
        print(
            f"{row.tool:<8} {row.experiment:<11} {rate:>11} {server:>10} "
            f"{_error(row.ttft_ms, 'p50', experiment.ttft_ms):>9} {_error(row.ttft_ms, 'p99', experiment.ttft_ms):>9} "
            f"{_error(row.itl_ms, 'p50', experiment.gap_ms):>8} {_error(row.itl_ms, 'p99', experiment.gap_ms):>8} "
            f"{late:>9}"
        )
        if row.note:
            print(f"{'':<21}{row.note}")
    print(
        "TTFT and ITL columns: the tool's value minus the server's known one (ms; accuracy: TTFT 50, gap 10; "
        "throughput: 0 and 0).\nsrv late: the server's mean lateness against its own schedule, part of any "
        "error. AIPerf's ITL is a per-request mean."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per tool and experiment")
    parser.add_argument("--only", choices=sorted(EXPERIMENTS), help="one experiment")
    parser.add_argument("--tool", choices=("aiperf", "moetui"), help="one tool")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep configs, logs and exports in DIR")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ttft-ms", type=float, default=50.0, help=argparse.SUPPRESS)
    parser.add_argument("--gap-ms", type=float, default=10.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.ttft_ms, args.gap_ms)
        return 0
    if not 1 <= args.duration <= 600:
        parser.error("--duration must be 1 to 600 seconds")
    rows: list[Row] = []
    runners = {"moetui": run_moetui, "aiperf": run_aiperf}
    with tempfile.TemporaryDirectory(prefix="moetui-stream-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for experiment in EXPERIMENTS.values():
            if args.only and experiment.name != args.only:
                continue
            server = Server(experiment)
            try:
                for tool, runner in runners.items():
                    if args.tool and tool != args.tool:
                        continue
                    print(f"{tool} / {experiment.name} ...", flush=True)
                    rows.append(runner(experiment, server, args.duration, work))
            finally:
                server.stop()
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([row.__dict__ for row in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
