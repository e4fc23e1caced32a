"""One local "instance": the real azureml-inference-server-http, bound to 127.0.0.1.

Run as `python -m moetui.local_endpoint.instance --port P --workers W --scorer score.py [--unix PATH]`
by the supervisor. This is the server's own CLI entry (`azmlinfsrv`) with two changes: its host
constant, the wildcard address in the package with no flag to change it, is set to 127.0.0.1 before it
starts, so the server never listens beyond loopback; and with --unix gunicorn also listens on that Unix
socket, where the gateway connects. gunicorn becomes this very process (the master); its workers are
children in this process group.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from functools import partial

from moetui import lifeline

LOOPBACK = "127.0.0.1"
#: SIGINT when the supervisor dies, even by SIGKILL: gunicorn's quick shutdown, workers included.
#: Without it an instance whose supervisor was killed would keep its port and workers forever.
die_with_parent = partial(lifeline.die_with_parent, sig=signal.SIGINT)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="moetui-instance", description=__doc__, allow_abbrev=False)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--scorer", required=True)
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument("--unix", default=None, help="also listen on this Unix socket (the gateway's way in)")
    parser.add_argument(
        "--cpus", default=None, help="pin the server (and so its forked workers) to these CPUs, e.g. 0 or 0,1"
    )
    args = parser.parse_args(argv)
    if args.parent_pid is not None:
        die_with_parent(args.parent_pid)
    if args.cpus:
        # Before gunicorn forks: workers inherit the affinity, so "local-1cpu" is one CPU for the instance.
        os.sched_setaffinity(0, {int(cpu) for cpu in args.cpus.split(",")})

    from azureml_inference_server_http import amlserver  # deferred: heavy, and only this process needs it

    amlserver.DEFAULT_HOST = LOOPBACK
    if args.unix:
        also_bind(f"unix:{args.unix}")
    # gunicorn >= 23 opens a control socket shared by every server of the same user; several
    # instances side by side would fight over it.
    os.environ["GUNICORN_CMD_ARGS"] = (os.environ.get("GUNICORN_CMD_ARGS", "") + " --no-control-socket").strip()
    os.environ.setdefault("AML_APP_ROOT", os.path.dirname(os.path.abspath(args.scorer)))
    sys.argv = [
        "azmlinfsrv",
        "--entry_script",
        args.scorer,
        "--port",
        str(args.port),
        "--worker_count",
        str(args.workers),
    ]
    amlserver.run()


def also_bind(address: str) -> None:
    """Make gunicorn listen on `address` as well as where the inference server's CLI binds it.

    The server passes its one address as `-b`, which overrides gunicorn's other sources of settings
    (GUNICORN_CMD_ARGS, config files), so the address is added once gunicorn has read them all.
    """
    from gunicorn.app.wsgiapp import WSGIApplication

    load_config = WSGIApplication.load_config

    def load_config_and_bind(self: WSGIApplication) -> None:
        load_config(self)
        self.cfg.set("bind", [*self.cfg.bind, address])

    WSGIApplication.load_config = load_config_and_bind


if __name__ == "__main__":
    main()
