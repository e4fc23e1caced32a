"""`moetui check`: the 3-request concurrency test against the local endpoint."""

from __future__ import annotations

import argparse
import json

from moetui.commands.endpoint_args import describe, settings_from_args
from moetui.engine.burst_check import BurstRecord, run_burst
from moetui.engine.judge import judge_burst
from moetui.errors import ConfigError, ExitStatus
from moetui.local_endpoint import LocalEndpoint
from moetui.redact import printable


async def run_check(args: argparse.Namespace) -> int:
    if not 1 <= args.requests <= 1000:
        raise ConfigError(f"--requests must be 1 to 1000, not {args.requests}")
    settings = settings_from_args(args)
    deployment = settings.deployments[0]
    timeout_s = args.timeout if args.timeout is not None else deployment.sleep_s * args.requests + 30
    print(f"Concurrency check: {args.requests} requests at once, each sleeping {deployment.sleep_s:g} s")
    for line in describe(settings):
        print(f"  {line}")

    async with LocalEndpoint(settings, on_progress=print) as endpoint:
        print(f"\nSending to {endpoint.scoring_uri}", flush=True)
        payloads = [json.dumps({"request_id": i + 1}).encode() for i in range(args.requests)]
        result = await run_burst(
            endpoint.scoring_uri,
            payloads,
            endpoint.headers(),
            timeout_s=timeout_s,
            on_sent=lambda i, t: print(f"request {i + 1} has been made at t={t:.4f} seconds", flush=True),
            on_done=_print_record,
        )

    capacity = sum(d.capacity for d in settings.deployments)
    verdict = judge_burst(result.records, result.wall_s, capacity)
    print(f"Total time elapsed: {result.wall_s:.2f} seconds")
    # One number: "effective concurrency" (request times over the wall time) is (N+1)/2 for requests served
    # one by one, a 2.00 that reads as concurrency beside a serialized verdict; the report keeps it.
    print(f"Served at once: {verdict.served_at_once:.2f} of {args.requests} (capacity {capacity}) -> {verdict.verdict}")
    failed = [r for r in result.records if r.status != 200]
    if failed:
        print(f"{len(failed)} of {args.requests} requests failed (see above): the check fails.")
        return ExitStatus.THRESHOLD_FAILED
    if verdict.as_expected:
        print(f"As expected: about one sleep for up to {verdict.expected} requests at once.")
        return ExitStatus.OK
    print(
        f"Not as concurrent as the settings allow: expected {verdict.expected} at once. "
        "Check WORKER_COUNT against max_concurrent_requests_per_instance."
    )
    return ExitStatus.THRESHOLD_FAILED


def _print_record(record: BurstRecord) -> None:
    outcome = str(record.status) if record.status is not None else f"no response ({record.error})"
    body = printable(record.body.decode(errors="replace")).strip()  # the server's text, escapes and all
    print(f"request {record.index + 1}: {outcome} after {record.elapsed_s:.4f} s  {body}", flush=True)
