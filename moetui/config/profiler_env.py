"""The endpoint model profiler's environment as a moetui configuration layer (`moetui --run --profiler-env`).

The profiler job is configured by environment variables (ONLINE_ENDPOINT, DEPLOYMENT, SCORING_URI,
SCORING_HEADERS, PROFILING_TOOL, DURATION, CONNECTIONS, THREAD, TARGET_RPS, CLIENTS, TIMEOUT, PAYLOAD and
SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE). `read_profiler_env` maps them onto the TOML-shaped keys of a
config, with each key's origin, so the normal validation in `config/load.py` checks them and its messages
name the variable. Values stay strings unless they read as TOML numbers, so a bad one is reported, not
guessed at.

The key in `SCORING_HEADERS` (`Authorization: Bearer <key>`) never enters the configuration, which refuses
secrets: it is handed back apart, to be put in the environment variable `PROFILER_KEY_ENV`, which the
config names as `target.url.key_env`. It is never printed.

Imports neither textual, rich nor azure.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moetui.config.load import ConfigLayer, put_dotted, typed_number
from moetui.redact import is_secret_header, split_secret_query

#: Where the key from SCORING_HEADERS is put for `target.url.key_env` to read.
PROFILER_KEY_ENV = "MOETUI_PROFILER_KEY"
#: Where IDENTITY_ACCESS_TOKEN is put for moetui.azure.clients to sign in to Azure Resource Manager with.
ARM_TOKEN_ENV = "MOETUI_ARM_TOKEN"
#: Prefixes of the variables that carry SCORING_HEADERS' other secret headers and SCORING_URI's secret
#: query values (`code=`) to `target.url.header_env` and `target.url.query_env`.
PROFILER_HEADER_ENV = "MOETUI_PROFILER_HEADER"
PROFILER_QUERY_ENV = "MOETUI_PROFILER_QUERY"
#: What messages name when the profiler's environment is the whole configuration.
SOURCE = "profiler environment"
#: PROFILING_TOOL -> load.mode: wrk is a closed loop, wrk2 and LaBench keep a constant rate.
TOOLS = {"wrk": "closed", "wrk2": "open", "labench": "open"}
DEFAULT_TOOL = "wrk"
#: wrk's and wrk2's request timeout when none is given on their command line (`--timeout`, default 2s in
#: wrk's usage text); the profiler passes TIMEOUT to labench only, so with them this is the one in force.
WRK_TIMEOUT = "2s"
SOCKET_TIMEOUT_TOOLS = ("wrk", "wrk2")
#: Variables an Azure ML job sets, read when SUBSCRIPTION, RESOURCE_GROUP or WORKSPACE is unset: the
#: profiler's defaults are the job's own subscription, resource group and workspace.
AML_JOB_DEFAULTS = {
    "SUBSCRIPTION": "AZUREML_ARM_SUBSCRIPTION",
    "RESOURCE_GROUP": "AZUREML_ARM_RESOURCEGROUP",
    "WORKSPACE": "AZUREML_ARM_WORKSPACE_NAME",
}
#: Every variable read, for `--help` and the README.
VARIABLES = (
    "ONLINE_ENDPOINT",
    "DEPLOYMENT",
    "SUBSCRIPTION",
    "RESOURCE_GROUP",
    "WORKSPACE",
    "SCORING_URI",
    "SCORING_HEADERS",
    "PROFILING_TOOL",
    "DURATION",
    "CONNECTIONS",
    "THREAD",
    "TARGET_RPS",
    "CLIENTS",
    "TIMEOUT",
    "PAYLOAD",
)
#: Which load variables each tool reads (the profiler's table); the others are ignored, with a note.
_TOOL_VARIABLES = {
    "wrk": {"CONNECTIONS": "load.connections", "THREAD": "load.workers"},
    # wrk2's connections each carry one request at a time: they cap the requests in flight, as clients do.
    "wrk2": {"CONNECTIONS": "load.clients", "THREAD": "load.workers", "TARGET_RPS": "load.rate"},
    "labench": {"CLIENTS": "load.clients", "TARGET_RPS": "load.rate"},
}
#: Without PROFILING_TOOL each variable goes to its own key (mode stays the config's, closed by default).
_UNTOOLED = {
    "CONNECTIONS": "load.connections",
    "THREAD": "load.workers",
    "TARGET_RPS": "load.rate",
    "CLIENTS": "load.clients",
}
_AZURE_KEYS = {
    "SUBSCRIPTION": "target.azure.subscription_id",
    "RESOURCE_GROUP": "target.azure.resource_group",
    "WORKSPACE": "target.azure.workspace",
    "ONLINE_ENDPOINT": "target.azure.endpoint",
    "DEPLOYMENT": "target.azure.deployment",
}


@dataclass(frozen=True)
class ProfilerEnv:
    """The profiler's settings read from an environment."""

    layer: ConfigLayer
    """The settings, as a layer for `load_config`: over a config file, or alone."""
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    """Environment variables to set before the target is opened: the key, under PROFILER_KEY_ENV."""
    notes: tuple[str, ...] = ()
    """What was read but not used, and why (no values: they may be secrets)."""


def read_profiler_env(environ: Mapping[str, str], *, needs_target: bool = False) -> ProfilerEnv:
    """Map the profiler's environment variables onto configuration keys.

    Unset and empty variables are left out, so the config file's value or moetui's default (the
    profiler's default) applies. The target is SUBSCRIPTION/RESOURCE_GROUP/WORKSPACE/ONLINE_ENDPOINT/
    DEPLOYMENT ([target.azure]) when ONLINE_ENDPOINT is set, else SCORING_URI ([target.url]), as in the
    profiler.

    Args:
        environ: The environment, usually os.environ.
        needs_target: Nothing else names a target (no config file): one of ONLINE_ENDPOINT and SCORING_URI
            must be set, as in the profiler.

    Returns:
        The layer of settings with the variable behind each key, the key to export, and notes. The layer
        carries what cannot be read at all (PROFILING_TOOL not a tool the profiler knows, SCORING_HEADERS
        not a JSON object of strings or its Authorization not `Bearer <key>`, THREAD above CONNECTIONS,
        DEPLOYMENT without ONLINE_ENDPOINT or SCORING_URI, no target), one line each naming the variable
        and never a value that may be secret; `load_config` reports them with the rest.
    """
    env = {name: environ[name].strip() for name in VARIABLES if environ.get(name, "").strip()}
    data: dict[str, Any] = {}
    origins: dict[str, str] = {}
    problems: list[str] = []
    notes: list[str] = []
    secrets: dict[str, str] = {}

    def put(dotted: str, variable: str, value: Any) -> None:
        put_dotted(data, dotted, value)
        origins[dotted] = f"environment variable {variable}"

    def through_env(values: Mapping[str, str], prefix: str) -> dict[str, str]:
        """Secret values (a signed URL's, a header's) handed to the run in variables PREFIX_0, PREFIX_1, ...:
        name -> variable, for query_env / header_env; the values go to `secrets`, never into the config."""
        names = {}
        for index, (name, value) in enumerate(values.items()):
            secrets[f"{prefix}_{index}"] = value
            names[name] = f"{prefix}_{index}"
        return names

    tool = env.get("PROFILING_TOOL")
    if tool is not None:
        if tool.lower() in TOOLS:
            tool = tool.lower()
            put("load.mode", "PROFILING_TOOL", TOOLS[tool])
        else:
            matches = difflib.get_close_matches(tool.lower(), list(TOOLS), n=1)
            hint = f" Did you mean {matches[0]!r}?" if matches else ""
            problems.append(
                f"environment variable PROFILING_TOOL: {tool!r} is not a profiling tool; allowed: "
                f"{', '.join(TOOLS)} (closed loop as wrk; constant rate as wrk2; constant rate with a clients "
                f"cap as LaBench).{hint}"
            )
            tool = None

    mapping = _TOOL_VARIABLES[tool] if tool is not None else _UNTOOLED
    for variable in ("CONNECTIONS", "THREAD", "TARGET_RPS", "CLIENTS"):
        if variable not in env:
            continue
        if variable in mapping:
            put(mapping[variable], variable, typed_number(env[variable]))
        else:
            notes.append(f"{variable} is not used with PROFILING_TOOL={tool}, as in the profiler.")
    threads, connections = data.get("load", {}).get("workers"), env.get("CONNECTIONS")
    if isinstance(threads, int) and connections is not None and "THREAD" in mapping:
        count = typed_number(connections)
        if isinstance(count, int) and threads > count:
            problems.append(
                f"environment variable THREAD: {threads} threads for {count} connections; allowed: at most "
                "CONNECTIONS (as wrk: each thread, a generator process here, needs a connection of its own)."
            )
    if "DURATION" in env:
        put("load.duration", "DURATION", typed_number(env["DURATION"]))
    if tool in SOCKET_TIMEOUT_TOOLS:
        # The profiler's table applies TIMEOUT to labench only; wrk and wrk2 time requests out on their own.
        put("load.timeout", "PROFILING_TOOL", WRK_TIMEOUT)
        ignored = " (TIMEOUT is not used with it, as in the profiler's table)" if "TIMEOUT" in env else ""
        notes.append(
            f"PROFILING_TOOL={tool}: requests time out after {WRK_TIMEOUT}, {tool}'s own socket timeout; the "
            f"profiler's TIMEOUT applies to labench only{ignored}."
        )
    elif "TIMEOUT" in env:
        put("load.timeout", "TIMEOUT", typed_number(env["TIMEOUT"]))
    if "PAYLOAD" in env:
        put("load.payload", "PAYLOAD", environ["PAYLOAD"])  # as given: a body may mean its spaces

    headers, key = _scoring_headers(env.get("SCORING_HEADERS"), problems)
    if "ONLINE_ENDPOINT" in env:
        for variable, dotted in _AZURE_KEYS.items():
            value = env.get(variable) or environ.get(AML_JOB_DEFAULTS.get(variable, ""), "").strip()
            if value:
                put(dotted, variable, value)
            elif variable != "DEPLOYMENT":
                # Required: the "missing" message names the variable when no config file gives the key either.
                origins[dotted] = f"environment variable {variable}"
        unused = [name for name in ("SCORING_URI", "SCORING_HEADERS") if name in env]
        if unused:
            notes.append(
                f"{' and '.join(unused)} not used: ONLINE_ENDPOINT names the target, whose scoring URI and key "
                "come from the workspace (as in the profiler)."
            )
    elif "SCORING_URI" in env:
        try:
            url, secret_query = split_secret_query(env["SCORING_URI"])
        except ValueError:
            url, secret_query = env["SCORING_URI"], {}  # not a URL: the config check says so
        put("target.url.url", "SCORING_URI", url)
        if secret_query:
            put("target.url.query_env", "SCORING_URI", through_env(secret_query, PROFILER_QUERY_ENV))
        deployment = env.get("DEPLOYMENT") or headers.pop("azureml-model-deployment", None)
        headers = {name: value for name, value in headers.items() if name.lower() != "azureml-model-deployment"}
        if deployment:
            put("target.url.deployment", "DEPLOYMENT" if "DEPLOYMENT" in env else "SCORING_HEADERS", deployment)
        # Secret-looking headers (x-api-key, api-key ...) reach the run as the key does: through variables.
        secret_headers = {name: value for name, value in headers.items() if is_secret_header(name)}
        headers = {name: value for name, value in headers.items() if name not in secret_headers}
        if headers:
            put("target.url.headers", "SCORING_HEADERS", headers)
        if secret_headers:
            put("target.url.header_env", "SCORING_HEADERS", through_env(secret_headers, PROFILER_HEADER_ENV))
        if key is not None:
            secrets[PROFILER_KEY_ENV] = key
            put("target.url.key_env", "SCORING_HEADERS", PROFILER_KEY_ENV)
    elif "DEPLOYMENT" in env:
        problems.append(
            "environment variable DEPLOYMENT: set without a target; allowed: with ONLINE_ENDPOINT (and "
            "SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE), or with SCORING_URI."
        )
    elif needs_target:
        problems.append(
            f"{SOURCE}: no target; allowed: SCORING_URI (with SCORING_HEADERS), or ONLINE_ENDPOINT and "
            "DEPLOYMENT (with SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE), or a CONFIG file with a [target] table."
        )
    elif "SCORING_HEADERS" in env:
        notes.append("SCORING_HEADERS not used: neither SCORING_URI nor ONLINE_ENDPOINT is set.")
    if token := environ.get("IDENTITY_ACCESS_TOKEN", "").strip():
        # The profiler's documented use: the token that reads the scoring URI, key and metrics over ARM.
        secrets[ARM_TOKEN_ENV] = token
        notes.append(
            "IDENTITY_ACCESS_TOKEN: used as the bearer token for Azure Resource Manager (the scoring URI, key "
            "and metrics), as the profiler does; it is never refreshed, so a run that outlives it cannot read "
            "the server's metrics at its end."
        )
    return ProfilerEnv(
        layer=ConfigLayer(data=data, origins=origins, source=SOURCE, problems=tuple(problems)),
        secrets=secrets,
        notes=tuple(notes),
    )


def _scoring_headers(raw: str | None, problems: list[str]) -> tuple[dict[str, str], str | None]:
    """Headers from SCORING_HEADERS and the key from its Authorization; problems never show a value."""
    if raw is None:
        return {}, None
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        # exc.msg and the position only: the text itself may hold the key.
        problems.append(
            f"environment variable SCORING_HEADERS: not JSON ({exc.msg} at character {exc.pos}); allowed: a JSON "
            'object of strings, such as {"Content-Type": "application/json", "Authorization": "Bearer <key>"}.'
        )
        return {}, None
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        problems.append("environment variable SCORING_HEADERS: allowed: a JSON object whose values are strings.")
        return {}, None
    headers: dict[str, str] = {}
    key = None
    for name, value in parsed.items():
        if name.lower() != "authorization":
            headers[name] = value
            continue
        scheme, _, credential = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            problems.append(
                "environment variable SCORING_HEADERS: Authorization is not 'Bearer <key>' (the value is not "
                "shown); allowed: Bearer with a key or token, as Azure ML endpoints expect."
            )
        else:
            key = credential.strip()
    return headers, key
