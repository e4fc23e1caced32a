"""`moetui run URL`: an ad-hoc run without a config file, typed as wrk, hey and oha users type one.

The flags become a configuration layer (each key remembers the flag that set it, so a bad value is
reported as `-c: load.connections: ...`), checked by the same loader as a TOML file and run by the same
headless runner as `moetui --run`: same summary, same report, same exit statuses. `--save run.toml`
writes the equivalent configuration, which `moetui --run run.toml` replays exactly.

A key given as `-H 'Authorization: Bearer <key>'` is where users put it; it is accepted but never enters
the configuration: it is handed to the run in the environment variable ADHOC_KEY_ENV, which the
configuration names as `target.url.key_env` (the profiler's SCORING_HEADERS are read the same way).
Other secret-looking headers (`x-api-key`, `api-key`, ...) and signed query values (`?code=`, `?sig=`)
go the same way, through `header_env` and `query_env`.

Imports neither textual, rich nor azure.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moetui.config.load import ConfigLayer, put_dotted, typed_number
from moetui.errors import ConfigError
from moetui.redact import is_secret_header, split_secret_query

#: Where a key typed on the command line is put for `target.url.key_env` to read.
ADHOC_KEY_ENV = "MOETUI_KEY"
#: What messages name as the origin of the settings no flag set.
SOURCE = "moetui run"
#: wrk's default duration, used when neither -d nor -n is given.
DEFAULT_DURATION = "10s"
#: With -n and no -d the request budget ends the run; this bounds it in time all the same.
BUDGET_DURATION = "1h"


@dataclass(frozen=True)
class AdhocRun:
    """What the command line asked for: a configuration layer and the secrets kept out of it."""

    layer: ConfigLayer
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    """Environment variable -> secret (the key, secret headers, signed query values) that the layer
    names through key_env, header_env and query_env; never printed."""


def _env_name(prefix: str, name: str) -> str:
    """An environment variable name for a secret header or query parameter (`api-key` -> MOETUI_HEADER_API_KEY)."""
    return prefix + "".join(c if c.isalnum() else "_" for c in name).upper()


#: --set keys that give the run a body, so that it POSTs as a scoring call does.
BODY_KEYS = ("load.payload", "load.payload_file", "load.api", "workload")


def _has_body(args: argparse.Namespace) -> bool:
    """Whether the command line gives a body (-b, or a payload or workload through --set)."""
    overrides = [str(item).partition("=")[0].strip() for item in args.adhoc_overrides]
    return args.adhoc_body is not None or any(key.startswith(BODY_KEYS) for key in overrides)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `moetui run`, named as wrk, hey and oha name them."""
    parser.add_argument("url", metavar="URL", help="the scoring URI, http:// or https://")
    parser.add_argument(
        "-c",
        "--connections",
        dest="adhoc_connections",
        type=int,
        metavar="N",
        help="closed loop: connections sending back to back; with -R: most requests in flight (default 1 "
        "closed; open: see the README's default for clients)",
    )
    parser.add_argument(
        "-d",
        "--duration",
        dest="adhoc_duration",
        metavar="DURATION",
        help=f'how long to send: seconds, "30s", "2m" (default {DEFAULT_DURATION}; with -n at most {BUDGET_DURATION})',
    )
    parser.add_argument(
        "-R",
        "--rate",
        dest="adhoc_rate",
        type=float,
        metavar="RPS",
        help="open loop (as wrk2): this many requests per second on a fixed timetable; without it: closed loop",
    )
    parser.add_argument(
        "--ramp",
        dest="adhoc_ramp",
        metavar="RATE:RATE:DURATION[:RATE:DURATION...]",
        help="open loop with a ramped rate: start at the first rate, then go linearly to each next rate over its "
        "duration (10:100:60s; 10:100:30s:100:30s holds 100/s for 30 s more); the durations make -d",
    )
    parser.add_argument("-n", "--requests", dest="adhoc_requests", type=int, metavar="N", help="stop after N requests")
    parser.add_argument(
        "-m",
        "--method",
        dest="adhoc_method",
        metavar="METHOD",
        help="GET, POST or PUT (default: GET without a body, as wrk, hey and oha; POST with -b or a payload)",
    )
    parser.add_argument(
        "-H",
        "--header",
        dest="adhoc_headers",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeatable); 'Authorization: Bearer <key>' is sent but never shown or saved",
    )
    parser.add_argument(
        "-b",
        "--body",
        dest="adhoc_body",
        metavar="BODY",
        help="the request body as is, or @FILE for a file of bodies, one per line, sent in turn",
    )
    parser.add_argument(
        "-t", "--timeout", dest="adhoc_timeout", metavar="DURATION", help="per-request timeout (default 10s)"
    )
    parser.add_argument(
        "--key-env",
        dest="adhoc_key_env",
        metavar="VAR",
        help="environment variable holding the key, sent as 'Authorization: Bearer <key>'",
    )
    parser.add_argument(
        "--workers", dest="adhoc_workers", type=int, metavar="N", help="generator processes (default 1)"
    )
    parser.add_argument(
        "--report",
        dest="adhoc_report",
        type=Path,
        metavar="JSON",
        help="write the JSON report here (-: to stdout, the summary to stderr)",
    )
    parser.add_argument(
        "--request-log",
        dest="adhoc_request_log",
        type=Path,
        metavar="CSV",
        help="write every request as the run goes: intended and actual send, status, latency, corrected latency, "
        "exec time, error (CSV; JSON lines for .jsonl); -n is --requests here",
    )
    parser.add_argument(
        "--save",
        dest="adhoc_save",
        type=Path,
        metavar="TOML",
        help="also write the equivalent configuration, for `moetui --run TOML` (never the key)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="adhoc_overrides",
        help="any other configuration value, e.g. --set thresholds.p99_ms=500 (repeatable)",
    )


def adhoc_run(args: argparse.Namespace) -> AdhocRun:
    """The configuration layer the flags describe.

    Raises:
        ConfigError: A header that is not `Name: value`, an Authorization header that is not a Bearer
            key, or a key given twice.
    """
    data: dict[str, Any] = {}
    origins: dict[str, str] = {}

    def put(dotted: str, value: Any, flag: str) -> None:
        put_dotted(data, dotted, value)
        origins[dotted] = flag

    secrets: dict[str, str] = {}
    # A signed URL (?code=, ?sig=) keeps its secret values out of the configuration, as a header's are.
    url, secret_query = split_secret_query(args.url)
    put("target.url.url", url, "URL")
    if secret_query:
        query_env = {name: _env_name("MOETUI_QUERY_", name) for name in secret_query}
        secrets.update({query_env[name]: value for name, value in secret_query.items()})
        put("target.url.query_env", query_env, "URL")
    ramp = getattr(args, "adhoc_ramp", None)
    if ramp is not None and args.adhoc_rate is not None:
        raise ConfigError("--ramp and -R both give the rate: keep one")
    if ramp is not None and args.adhoc_duration is not None:
        raise ConfigError("--ramp and -d both give the duration (the ramp's durations make it): keep one")
    open_loop = args.adhoc_rate is not None or ramp is not None
    put("load.mode", "open" if open_loop else "closed", "--ramp" if ramp else "-R" if open_loop else SOURCE)
    if args.adhoc_rate is not None:
        put("load.rate", args.adhoc_rate, "-R")
    if ramp is not None:
        put("load.stages", ramp_stages(ramp), "--ramp")
    if args.adhoc_connections is not None:
        put("load.clients" if open_loop else "load.connections", args.adhoc_connections, "-c")
    elif not open_loop:
        put("load.connections", 1, SOURCE)
    if args.adhoc_duration is not None:
        put("load.duration", typed_number(args.adhoc_duration), "-d")  # -d 2: two seconds, as wrk reads it
    elif ramp is None:
        put("load.duration", BUDGET_DURATION if args.adhoc_requests else DEFAULT_DURATION, SOURCE)
    if args.adhoc_requests is not None:
        put("load.requests", args.adhoc_requests, "-n")
    if args.adhoc_method is not None:
        put("load.method", args.adhoc_method.upper(), "-m")
    else:
        put("load.method", "POST" if _has_body(args) else "GET", SOURCE)
    if args.adhoc_timeout is not None:
        put("load.timeout", typed_number(args.adhoc_timeout), "-t")
    if args.adhoc_workers is not None:
        put("load.workers", args.adhoc_workers, "--workers")
    if args.adhoc_body is not None:
        if args.adhoc_body.startswith("@"):
            put("load.payload_file", args.adhoc_body[1:], "-b")
        else:
            put("load.payload", args.adhoc_body, "-b")

    key = None
    headers: dict[str, str] = {}
    header_env: dict[str, str] = {}
    for raw in args.adhoc_headers:
        name, colon, value = raw.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not name:
            # Without a colon the whole text may be a secret: show none of it.
            raise ConfigError("-H: expected 'Name: value' (the header given is not shown: it may hold a key)")
        if not value and (name.lower() == "authorization" or is_secret_header(name)):
            raise ConfigError(f"-H {name}: the value is empty (is the variable that should hold the key set?)")
        if name.lower() == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and not token.strip():
                raise ConfigError(
                    f"-H {name}: 'Bearer' is followed by an empty key (is the variable that should hold it, "
                    "such as $KEY, set?)"
                )
            if scheme.lower() != "bearer" or not token.strip():
                raise ConfigError(
                    "-H Authorization: moetui sends the key as 'Authorization: Bearer <key>'; "
                    "give it in that form (the value is not shown)"
                )
            key = token.strip()
        elif name.lower() == "azureml-model-deployment":
            put("target.url.deployment", value, "-H azureml-model-deployment")
        elif is_secret_header(name):
            header_env[name] = _env_name("MOETUI_HEADER_", name)
            secrets[header_env[name]] = value
        else:
            headers[name] = value
    if headers:
        put("target.url.headers", headers, "-H")
    if header_env:
        put("target.url.header_env", header_env, "-H")
    if key is not None and args.adhoc_key_env:
        raise ConfigError("-H Authorization and --key-env both give the key: keep one")
    if key is not None:
        put("target.url.key_env", ADHOC_KEY_ENV, "-H Authorization")
        secrets[ADHOC_KEY_ENV] = key
    elif args.adhoc_key_env:
        put("target.url.key_env", args.adhoc_key_env, "--key-env")
    return AdhocRun(ConfigLayer(data, origins, SOURCE), secrets)


def ramp_stages(text: str) -> list[dict[str, Any]]:
    """--ramp FROM:TO:DURATION[:TO:DURATION...] as [[load.stages]]: a jump to FROM, then a linear ramp to each
    TO over its DURATION. The values are checked by the loader, as the file's are (named as --ramp)."""
    parts = text.split(":")
    if len(parts) < 3 or len(parts) % 2 == 0:
        raise ConfigError(f"--ramp: expected RATE:RATE:DURATION[:RATE:DURATION...], such as 10:100:60s; got {text!r}")
    stages: list[dict[str, Any]] = [{"rate": typed_number(parts[0]), "duration": 0}]
    for rate, duration in zip(parts[1::2], parts[2::2], strict=True):
        stages.append({"rate": typed_number(rate), "duration": typed_number(duration)})
    return stages


async def run_adhoc(args: argparse.Namespace) -> int:
    """`moetui run URL ...`: check, optionally save, then run as `moetui --run` does."""
    from moetui.config.dump import dump_config
    from moetui.config.load import load_config
    from moetui.headless import run_config

    adhoc = adhoc_run(args)
    os.environ.update(adhoc.secrets)  # read through key_env, header_env and query_env; never in the config
    if args.adhoc_save is not None:
        config = load_config(None, args.adhoc_overrides, layer=adhoc.layer)
        dump_config(config, args.adhoc_save)
        names = ", ".join(sorted(adhoc.secrets))
        note = f" (export {names} to replay it: the secrets are not in the file)" if names else ""
        print(f"moetui: saved {args.adhoc_save}{note}", file=sys.stderr, flush=True)
    return await run_config(
        None,
        report_path=args.adhoc_report,
        overrides=args.adhoc_overrides,
        layer=adhoc.layer,
        requests_path=args.adhoc_request_log,
    )
