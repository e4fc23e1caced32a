"""`moetui local`: the local managed endpoint in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal

from moetui.commands.endpoint_args import describe, settings_from_args
from moetui.errors import ExitStatus
from moetui.local_endpoint import LocalEndpoint
from moetui.paths import write_secret


async def run_local(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM, then exit 130 (interrupted, as a stopped run does); either during
    start-up (a scorer's init() may take minutes) stops the start at once and leaves no process or temporary
    directory."""
    try:
        return await _run_local(args)
    except asyncio.CancelledError:
        print("Interrupted while starting; stopped.", flush=True)
        return ExitStatus.INTERRUPTED


async def _run_local(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    started = False

    def on_signal() -> None:
        if started:
            stop.set()
        elif main is not None:
            main.cancel()  # still starting: unwind the start now rather than after init()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    print("moetui local endpoint", flush=True)
    for line in describe(settings):
        print(f"  {line}", flush=True)
    async with LocalEndpoint(settings, on_progress=lambda line: print(line, flush=True)) as endpoint:
        started = True
        key_file = write_secret(args.key_file, endpoint.key + "\n")
        try:
            quoted = shlex.quote(str(key_file))
            print(
                f"\nScoring URI  {endpoint.scoring_uri}\n"
                f"Key file     {key_file} (mode 0600)\n"
                f"Liveness     {endpoint.liveness_uri}\n\n"
                "Try it:\n"
                f'  curl -s {endpoint.scoring_uri} -H "Authorization: Bearer $(cat {quoted})" \\\n'
                "       -H 'Content-Type: application/json' -d '{\"request_id\": 1}'\n\n"
                "Press Ctrl-C to stop.",
                flush=True,
            )
            await stop.wait()
            print("Stopping ...", flush=True)
        finally:
            key_file.unlink(missing_ok=True)  # the key dies with the endpoint
    print("Stopped.", flush=True)
    return ExitStatus.INTERRUPTED  # stopped by Ctrl-C or SIGTERM, its only way to end: 130, as the README says
