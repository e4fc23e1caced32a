"""Reading a run configuration: a TOML file plus `--set` overrides, checked into a `Config`.

The walk is generic over the dataclasses of `schema.py`: each field's annotation gives its type and
its metadata its TOML key, bounds and choices. Every problem is collected and reported in one
ConfigError, one line each, naming the file (or the `--set`), the dotted TOML key, what is wrong and
what is allowed. Imports neither textual, rich nor azure.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import math
import re
import tomllib
import types
import typing
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moetui.config.files import CONFIG_MAX_BYTES, read_named_text
from moetui.config.schema import Config, LoadConfig, LocalTarget, StepsConfig, TargetConfig, UrlTarget
from moetui.errors import ConfigError
from moetui.redact import has_user_info, is_secret_header, secret_query_parameters

BURST_MAX_REQUESTS = 10_000
"""A burst opens every request at once; past this many it measures the client, not the endpoint."""
SECRET_NAMES = frozenset({"authorization", "key", "api_key", "token", "password", "secret"})
"""Key and header names (any case, `-` read as `_`) refused anywhere under [target]."""
SECRET_MESSAGE = (
    "a secret does not belong in a config file (the value is not shown); allowed: key_env (the "
    "environment variable that holds the key) or key_file (a file that holds it) instead."
)
_SECRET_SOURCES = ("header_env", "header_file", "query_env", "query_file")
"""[target.url]'s tables that say where secret headers and query parameters come from."""
URL_HELP = "an http:// or https:// URL with a host and, if any, a port from 1 to 65535"
DURATION_HELP = 'a number of seconds, or a string such as "300s", "5m", "1h", "250ms" or "1.5s"'

_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_ITEM_KIND = {int: "whole numbers", float: "numbers", str: "strings"}
_TARGET_TABLES = "[target.url], [target.local], [target.azure]"
_INVALID: Any = object()
"""Returned by a check that has reported its problem: the field keeps its default."""


@dataclass(frozen=True)
class ConfigLayer:
    """Settings laid over a config file, or standing in for one, before `--set` (the profiler's environment).

    A layer that names a target table replaces the file's target: `[target]` holds exactly one table.
    """

    data: Mapping[str, Any]
    """Tables and keys as in the TOML file."""
    origins: Mapping[str, str]
    """Dotted key -> what set it, as messages name it (such as "environment variable CONNECTIONS")."""
    source: str
    """What messages name as the origin of everything else when there is no file."""
    problems: tuple[str, ...] = ()
    """What was wrong before the settings could be read (a variable that is not JSON), reported with the rest."""


def stacked(under: ConfigLayer, over: ConfigLayer) -> ConfigLayer:
    """Two layers as one, `over` laid on `under` as a layer is laid on a file (its target table replaces
    `under`'s): a node's launcher-given endpoint over the profiler's environment."""
    data = copy.deepcopy(dict(under.data))
    _lay(data, over.data)
    return ConfigLayer(data, {**under.origins, **over.origins}, under.source, under.problems + over.problems)


def put_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `table.key` (or deeper) in TOML-shaped `data`, making the tables on the way: how a layer (the
    profiler's environment, `moetui run`'s flags) is built one setting at a time."""
    table = data
    *parents, last = dotted.split(".")
    for part in parents:
        table = table.setdefault(part, {})
    table[last] = value


class _Problems:
    """The problems found so far, each with where it came from: the file, a layer or a `--set`."""

    def __init__(
        self, source: str, set_by: Mapping[str, str] | None = None, origins: Mapping[str, str] | None = None
    ) -> None:
        self.source = source
        self.set_by = set_by if set_by is not None else {}
        self.origins = origins if origins is not None else {}
        self.lines: list[str] = []
        self.bad: set[str] = set()
        """Keys with a problem, so the cross-field rules do not judge their stand-in defaults."""

    def add(self, key: str, message: str) -> None:
        self.lines.append(f"{self._origin(key)}: {key}: {message}")
        self.bad.add(key)

    def _origin(self, key: str) -> str:
        # A key inside a table an override created came from that override too.
        while key:
            if key in self.set_by:
                return f"--set {self.set_by[key]}"
            if key in self.origins:
                return self.origins[key]
            key = key[: max(key.rfind("."), key.rfind("["), 0)]
        return self.source

    def raise_if_any(self) -> None:
        if self.lines:
            raise ConfigError("\n".join(self.lines))


def load_config(
    path: Path | None,
    overrides: Sequence[str] = (),
    *,
    layer: ConfigLayer | None = None,
    complete: Callable[[dict[str, Any]], None] | None = None,
) -> Config:
    """Read a TOML config file, lay `layer` over it, apply `--set` overrides and check the result.

    Args:
        path: The TOML file; None when `layer` is the whole configuration.
        overrides: `section.key=value` strings, such as `load.mode=open` or `target.local.sleep=2`.
            The value is read as a TOML value, or as a plain string when it is not one; missing
            tables are created.
        layer: Settings over the file's and under the overrides (the profiler's environment).
        complete: Fills in what the merged settings leave out, before they are checked (TOML-shaped,
            changed in place): `--deploy` names a new endpoint there.

    Returns:
        The checked configuration.

    Raises:
        ConfigError: The file cannot be read or is not TOML, or the settings have problems (all of
            them, one line each).
    """
    if path is None and layer is None:
        raise ValueError("load_config needs a path, a layer or both")
    data = read_toml(path) if path is not None else {}
    origins: dict[str, str] = {}
    if layer is not None:
        _lay(data, layer.data)
        # A key the layer names but did not set (a required one it lacks) is its to explain only when the
        # file did not set it either.
        origins = {key: origin for key, origin in layer.origins.items() if _has(layer.data, key) or not _has(data, key)}
    set_by: dict[str, str] = {}
    problems = _Problems(str(path) if path is not None else layer.source if layer else "", set_by, origins)
    problems.lines.extend(layer.problems if layer is not None else ())
    for override in overrides:
        name, message = _apply_override(data, override, set_by)
        if message:
            problems.lines.append(f"--set {name}: {message}")
    if complete is not None:
        complete(data)
    config = _check(data, problems)
    problems.raise_if_any()
    return config


def config_from_dict(data: Mapping[str, Any], source: str = "<config>") -> Config:
    """Build and check a Config from a TOML-shaped mapping.

    Args:
        data: Tables and keys as in the TOML file.
        source: What the messages name as the origin of the settings, usually the file.

    Returns:
        The checked configuration.

    Raises:
        ConfigError: Every problem found, one line each.
    """
    problems = _Problems(source)
    config = _check(data, problems)
    problems.raise_if_any()
    return config


def _lay(data: dict[str, Any], layer: Mapping[str, Any]) -> None:
    """Merge `layer` into `data`, table by table; a layer's target table replaces the file's target."""
    target = layer.get("target")
    if isinstance(target, Mapping) and isinstance(data.get("target"), dict):
        for kind in ("url", "local", "azure"):
            if kind not in target:
                data["target"].pop(kind, None)
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(data.get(key), dict):
            _lay(data[key], value)
        else:
            data[key] = copy.deepcopy(value)  # --set edits tables in place: never the layer's


def _has(data: Mapping[str, Any], dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return False
        data = data[part]
    return True


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file named on the command line (a configuration, a matrix), read by the rules of config.files.

    Raises:
        ConfigError: Missing, not a regular file, too large, unreadable, not UTF-8 or not TOML.
    """
    if not path.exists() and not path.is_symlink():
        raise ConfigError(f"{path}: no such file.")
    text = read_named_text(path, "", max_bytes=CONFIG_MAX_BYTES)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}.") from error


def _apply_override(data: dict[str, Any], override: str, set_by: dict[str, str]) -> tuple[str, str]:
    """Set one `section.key=value` in data; return its key and what is wrong with it ("" if nothing)."""
    dotted, equals, raw = override.partition("=")
    parts = [part.strip() for part in dotted.split(".")]
    name = ".".join(parts)  # never the value, which may be a secret
    if not equals or not all(parts):
        return name, "expected section.key=value, such as load.connections=8."
    table = data
    for depth, part in enumerate(parts[:-1]):
        if part not in table:
            table[part] = {}
            set_by.setdefault(".".join(parts[: depth + 1]), name)
        table = table[part]
        if not isinstance(table, dict):
            return (
                name,
                f"{'.'.join(parts[: depth + 1])} is not a table, so it has no key {parts[depth + 1]!r}.",
            )
    table[parts[-1]] = typed_value(raw.strip())
    set_by[name] = name
    return name, ""


def typed_value(text: str) -> Any:
    """Text a person typed (--set, a profiler variable, a TUI field) as the TOML value it reads as: 8, 2.5,
    true, [1, 2], "quoted". Anything that is not one TOML value is the text itself: a bare word such as
    `open` is not TOML, and taking it as the string spares quoting in the shell. The one such parser."""
    try:
        parsed = tomllib.loads("v = " + text)
    except tomllib.TOMLDecodeError:
        return text
    return parsed["v"] if parsed.keys() == {"v"} else text


def typed_number(text: str) -> int | float | str:
    """A number when `text` reads as one ("8", "2.5", also ".5" and "1." as Python reads them), else the text
    itself ("300s", "true", "abc"): for fields that hold a number or a duration."""
    value = typed_value(text)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _check(data: Mapping[str, Any], problems: _Problems) -> Config:
    config: Config = _build(Config, data, "", problems)
    config = _check_target(config, problems)
    _check_url_secrets(config.target.url, problems)
    _check_header_text(config.target, problems)
    _check_load(config.load, problems)
    config = _check_stages(data, config, problems)
    _check_steps(config.steps, problems)
    _check_streaming(config, problems)
    return config


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: Any, table: Mapping[str, Any], prefix: str, problems: _Problems) -> Any:
    """One dataclass from its table; fields with problems keep their defaults."""
    hints = _hints(cls)
    known = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)}
    holds_tables = all(dataclasses.is_dataclass(_unwrap(hints[f.name])) for f in known.values())
    for key, value in table.items():
        if key not in known:
            _unknown(_join(prefix, key), value, list(known), holds_tables, problems)
    kwargs: dict[str, Any] = {}
    for key, f in known.items():
        dotted = _join(prefix, key)
        if key not in table:
            if f.metadata.get("required"):
                problems.add(dotted, f"missing; allowed: {_allowed(hints[f.name], f.metadata)}.")
            continue
        value = _convert(hints[f.name], table[key], f.metadata, dotted, problems)
        if value is _INVALID:
            problems.bad.add(dotted)
        else:
            kwargs[f.name] = value
    return cls(**kwargs)


def _unknown(key: str, value: Any, allowed: list[str], holds_tables: bool, problems: _Problems) -> None:
    prefix, _, name = key.rpartition(".")
    if _is_secret(key, name):
        problems.add(key, SECRET_MESSAGE)
        return
    what = "table" if isinstance(value, Mapping) else "key"
    where = f" in [{prefix}]" if prefix else ""
    kinds = "tables" if holds_tables else "keys"
    listed = ", ".join(allowed)
    problems.add(key, f"unknown {what}. Allowed {kinds}{where}: {listed}.{_did_you_mean(name, allowed)}")


def _convert(tp: Any, value: Any, meta: Mapping[str, Any], key: str, problems: _Problems) -> Any:
    """Check one value against its annotation and metadata; return it converted, or _INVALID."""
    if tp is not _unwrap(tp):
        if value is None:
            return None
        tp = _unwrap(tp)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, Mapping):
            return _build(tp, value, key, problems)
        return _wrong(key, value, "a table", problems)
    if meta.get("duration"):
        return _duration(value, meta, key, problems)
    if tp is bool:
        return value if isinstance(value, bool) else _wrong(key, value, "true or false", problems)
    if tp in (int, float):
        return _number(tp, value, meta, key, problems)
    if tp is str:
        return _string(value, meta, key, problems)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return _string(value, _literal_meta(tp, meta), key, problems)
    if origin is dict:
        return _string_table(value, key, problems)
    if origin is tuple:
        return _array(args[0], value, key, problems)
    raise TypeError(f"{key}: the config loader cannot read the type {tp!r}")


def _literal_meta(tp: Any, meta: Mapping[str, Any]) -> Mapping[str, Any]:
    """A Literal-typed field's metadata with its Literal's values as the choices: one list, the type's."""
    return {**meta, "choices": typing.get_args(tp)}


def _number(tp: type, value: Any, meta: Mapping[str, Any], key: str, problems: _Problems) -> Any:
    allowed = _allowed(tp, meta)
    accepted = int if tp is int else (int, float)
    if not _is_number(value, accepted):
        return _wrong(key, value, allowed, problems)
    return _in_bounds(tp(value), str(value), meta, allowed, key, problems)


def _duration(value: Any, meta: Mapping[str, Any], key: str, problems: _Problems) -> Any:
    allowed = _allowed(float, meta)
    if isinstance(value, str):
        match = _DURATION_RE.fullmatch(value.strip())
        if match is None:
            problems.add(key, f"{_show(value, key)} is not a duration; allowed: {allowed}.")
            return _INVALID
        return _in_bounds(float(match[1]) * _UNIT_S[match[2]], f'"{value}"', meta, allowed, key, problems)
    if not _is_number(value, (int, float)):
        return _wrong(key, value, allowed, problems)
    return _in_bounds(float(value), str(value), meta, allowed, key, problems)


def _is_number(value: Any, accepted: type | tuple[type, ...]) -> bool:
    # bool is an int subclass: `connections = true` must not count as 1. TOML allows inf and nan, which
    # pass every bound; and a 400-digit integer overflows a float, so it is refused before comparing.
    if isinstance(value, bool) or not isinstance(value, accepted):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and abs(value) < 2**63


def _in_bounds(number: float, shown: str, meta: Mapping[str, Any], allowed: str, key: str, problems: _Problems) -> Any:
    low, high, above = meta.get("min"), meta.get("max"), meta.get("above")
    if (
        (low is not None and number < low)
        or (high is not None and number > high)
        or (above is not None and number <= above)
    ):
        problems.add(key, f"{shown} is out of range; allowed: {allowed}.")
        return _INVALID
    return number


def _string(value: Any, meta: Mapping[str, Any], key: str, problems: _Problems) -> Any:
    allowed = _allowed(str, meta)
    if not isinstance(value, str):
        return _wrong(key, value, allowed, problems)
    choices: Sequence[str] = meta.get("choices", ())
    if choices and value not in choices:
        suggestion = _did_you_mean(value, choices)
        problems.add(key, f"{_show(value, key)} is not allowed; allowed: {allowed}.{suggestion}")
        return _INVALID
    if meta.get("required") and not value.strip():
        problems.add(key, f"is empty; allowed: {allowed}.")
        return _INVALID
    return value


def _string_table(value: Any, key: str, problems: _Problems) -> Any:
    if not isinstance(value, Mapping):
        return _wrong(key, value, "a table of strings", problems)
    # The tables that say where secrets are (header_env ...) are keyed by secret-looking names: not checked.
    sourcing = key.rpartition(".")[2] in _SECRET_SOURCES
    for name, item in value.items():
        if key == "target.url.headers" and is_secret_header(name):
            problems.add(f"{key}.{name}", _secret_header_message(name))
        elif not sourcing and _is_secret(f"{key}.{name}", name):
            problems.add(f"{key}.{name}", SECRET_MESSAGE)
        elif not isinstance(item, str):
            _wrong(f"{key}.{name}", item, "a string", problems)
        elif sourcing and not item.strip():
            problems.add(f"{key}.{name}", "is empty; allowed: the name of an environment variable or a file.")
    return dict(value)


def _secret_header_message(name: str) -> str:
    bearer = "key_env or key_file (for Authorization: Bearer <key>), or " if name.lower() == "authorization" else ""
    return (
        f"{name!r} is a secret-looking header, and a secret does not belong in a config file (the value is not "
        f'shown); allowed: under [target.url], {bearer}header_env = {{ "{name}" = "VARIABLE" }} (the environment '
        f'variable that holds it) or header_file = {{ "{name}" = "path/to/file" }} (a file only you can read, '
        "mode 0600)."
    )


def _check_url_secrets(url: UrlTarget | None, problems: _Problems) -> None:
    """No secret inline in [target.url]'s URL, and each secret header or parameter sourced once."""
    if url is None:
        return
    if "target.url.url" not in problems.bad:
        # Names only: the URL and its values are never echoed.
        for name in dict.fromkeys(secret_query_parameters(url.url)):
            problems.add(
                "target.url.url",
                f"its query parameter {name!r} looks like a secret, and a secret does not belong in a config "
                f"file (the value is not shown); allowed: the URL without it, and under [target.url] "
                f'query_env = {{ "{name}" = "VARIABLE" }} (the environment variable that holds it) or '
                f'query_file = {{ "{name}" = "path/to/file" }} (a file only you can read, mode 0600).',
            )
        if has_user_info(url.url):
            problems.add(
                "target.url.url",
                "holds a user name or password before the host (not shown); allowed: the URL without it, and "
                'header_env = { "Authorization" = "VARIABLE" } for the credential.',
            )
    sources: dict[str, str] = {}
    for table in ("headers", *_SECRET_SOURCES):
        kind = "query" if table.startswith("query") else "header"
        for name in getattr(url, table) or {}:
            dotted = f"target.url.{table}.{name}"
            seen = sources.setdefault(f"{kind}:{name.lower()}", dotted)
            if seen != dotted and dotted not in problems.bad:
                problems.add(dotted, f"is also set by {seen}; allowed: one source for each {kind}.")
    if (url.key_env or url.key_file) and "header:authorization" in sources:
        problems.add(
            sources["header:authorization"],
            "is set with key_env or key_file, which send Authorization: Bearer <key>; allowed: one of them.",
        )


_ONE_LINE = "allowed: one line of text (a tab is allowed)."
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""An HTTP header name (RFC 9110 token)."""


def has_control_chars(text: str) -> bool:
    """Whether `text` holds a character no header value may carry: CR, LF, NUL or another control
    character (a tab is allowed). aiohttp refused such a header with a ValueError once the load ran."""
    return any((ord(char) < 32 and char != "\t") or char == "\x7f" for char in text)


def _check_header_text(target: TargetConfig, problems: _Problems) -> None:
    """What goes into a request header is checked here, before anything starts: header names are HTTP
    tokens, and header values and the deployment name (`azureml-model-deployment`) hold no line break,
    NUL or other control character. Values are never shown: they may be secrets."""
    url = target.url
    for kind in ("url", "local", "azure"):
        table = getattr(target, kind)
        key = f"target.{kind}.deployment"
        name = getattr(table, "deployment", None) if table is not None else None
        if name is not None and key not in problems.bad and has_control_chars(name):
            problems.add(key, f"holds a line break, NUL or another control character; {_ONE_LINE}")
    if url is None:
        return
    for table in ("headers", "header_env", "header_file"):
        for name, value in (getattr(url, table) or {}).items():
            dotted = f"target.url.{table}.{name}"
            if dotted in problems.bad:
                continue
            if not _TOKEN_RE.fullmatch(name):
                shown = name.encode("unicode_escape").decode()[:40]
                problems.add(
                    f"target.url.{table}",
                    f'the header name "{shown}" is not an HTTP token; allowed: letters, digits and !#$%&\'*+-.^_`|~.',
                )
            elif table == "headers" and isinstance(value, str) and has_control_chars(value):
                problems.add(dotted, f"holds a line break, NUL or another control character (not shown); {_ONE_LINE}")


def _array(item_tp: Any, value: Any, key: str, problems: _Problems) -> Any:
    if not isinstance(value, list | tuple):
        return _wrong(key, value, f"an array of {_ITEM_KIND.get(item_tp, 'tables')}", problems)
    items = [_convert(item_tp, item, {}, f"{key}[{index}]", problems) for index, item in enumerate(value)]
    return _INVALID if any(item is _INVALID for item in items) else tuple(items)


def _check_target(config: Config, problems: _Problems) -> Config:
    target = config.target
    present = [name for name in ("url", "local", "azure") if getattr(target, name) is not None]
    if not present:
        # No target at all means the local endpoint with the deployment file's settings.
        return dataclasses.replace(config, target=TargetConfig(local=LocalTarget()))
    if len(present) > 1:
        tables = " and ".join(f"[target.{name}]" for name in present)
        problems.add("target", f"has {tables}; allowed: exactly one of {_TARGET_TABLES}.")
    url = target.url.url if target.url is not None and "target.url.url" not in problems.bad else None
    if url is not None:
        wrong = url_problem(url)
        if wrong:
            problems.add("target.url.url", f"{wrong}; allowed: {URL_HELP}.")
    return config


def url_problem(url: str) -> str:
    """What makes `url` unusable as a scoring URI ("" when nothing): the scheme, the host or the port.

    The URL is never echoed: its query string may hold a key (an Azure Functions `code=`). Checked here,
    where every URL enters (the file, --set, the profiler's SCORING_URI): a bad one reaching the engine
    failed each request instantly (1.7 M failed attempts in 15 s, measured).
    """
    if url != url.strip() or any(char.isspace() for char in url):
        return "holds spaces"
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "is not a valid URL (its host cannot be read)"
    try:
        port = parts.port  # ValueError when not a number or out of 0..65535
    except ValueError:
        port = -1
    if parts.scheme.lower() not in ("http", "https"):
        return "is not an HTTP URL (the scheme must be http or https)"
    if not parts.hostname:
        return "has no host"
    if port is not None and not 1 <= port <= 65535:
        return "has a port that is not a number from 1 to 65535"
    return ""


def _check_load(load: LoadConfig, problems: _Problems) -> None:
    if load.http2 and load.client != "httpx" and not problems.bad & {"load.http2", "load.client"}:
        problems.add(
            "load.http2",
            f'true needs client = "httpx" ({load.client} speaks HTTP/1.1 only); '
            'allowed: http2 = false, or client = "httpx".',
        )
    if load.payload is not None and load.payload_file is not None:
        problems.add("load.payload_file", "is set with payload; allowed: payload or payload_file, not both.")
    # Each worker process opens at least one connection: workers = 4 with connections = 1 opened 4.
    for mode, key, count in (("closed", "connections", load.connections), ("open", "clients", load.clients)):
        if load.mode == mode and count is not None and load.workers > count and not problems.bad & {"load.workers"}:
            problems.add(
                "load.workers",
                f"{load.workers} is more than {key} = {count}, and each worker opens at least one; "
                f"allowed: workers at most {key}.",
            )
    if load.api == "chat" and load.method != "POST" and not problems.bad & {"load.api", "load.method"}:
        problems.add("load.method", f'{load.method} with api = "chat"; allowed: "POST" (chat completions are POSTed).')
    if load.mode == "burst" and load.requests is not None and load.requests > BURST_MAX_REQUESTS:
        problems.add(
            "load.requests",
            f'{load.requests} is too many for mode = "burst", which sends every request at once; '
            f"allowed: at most {BURST_MAX_REQUESTS} in a burst.",
        )


def _check_stages(data: Mapping[str, Any], config: Config, problems: _Problems) -> Config:
    """[[load.stages]]: an open run's ramped rate. The run lasts the stages' sum, which becomes load.duration."""
    load = config.load
    if not load.stages or any(key.startswith("load.stages") for key in problems.bad):
        return config  # a stage with a problem keeps its stand-in defaults: judge nothing more of them
    if load.mode != "open" and "load.mode" not in problems.bad:
        problems.add("load.stages", f'is set with mode = "{load.mode}"; allowed: stages with mode = "open".')
    total_s = sum(stage.duration_s for stage in load.stages)
    if not any(stage.rate > 0 and (stage.duration_s > 0) for stage in load.stages):
        problems.add("load.stages", "sends nothing; allowed: at least one stage with a rate and a duration above 0.")
        return config
    if _has(data, "load.duration") and "load.duration" not in problems.bad and load.duration_s != total_s:
        problems.add(
            "load.duration",
            f"{load.duration_s:g} s is set with load.stages, which last {total_s:g} s; allowed: one of them "
            "(the stages' durations make the run's).",
        )
    if load.warmup_s >= total_s and "load.warmup" not in problems.bad:
        problems.add("load.warmup", f"{load.warmup_s:g} s is not shorter than the stages' {total_s:g} s.")
    return dataclasses.replace(config, load=dataclasses.replace(load, duration_s=total_s))


def _check_streaming(config: Config, problems: _Problems) -> None:
    """[workload], [slo] and the streaming thresholds need a run that streams or sends prompts."""
    load = config.load
    streams = load.stream if load.stream is not None else load.api == "chat"
    if config.workload is not None and (load.payload is not None or load.payload_file is not None):
        problems.add("workload", "is set with load.payload or load.payload_file; allowed: one source of bodies.")
    if config.thresholds.goodput is not None and config.slo.ttft_ms is None and config.slo.tpot_ms is None:
        problems.add("thresholds.goodput", "needs [slo] ttft_ms or tpot_ms: goodput is the share within them.")
    if not streams:
        for key in ("ttft_p99_ms", "tpot_p90_ms", "itl_p99_ms", "goodput", "output_tokens_per_s"):
            if getattr(config.thresholds, key) is not None:
                problems.add(
                    f"thresholds.{key}",
                    'is measured on streamed answers only; allowed: with load.api = "chat" or load.stream = true.',
                )


def _check_steps(steps: StepsConfig, problems: _Problems) -> None:
    if "steps.levels" in problems.bad:
        return
    if not steps.levels:
        problems.add("steps.levels", "is empty; allowed: one or more levels above 0, such as [1, 2, 4, 8].")
    whole = steps.over == "connections" and "steps.over" not in problems.bad
    for index, level in enumerate(steps.levels):
        if level <= 0:
            problems.add(f"steps.levels[{index}]", f"{level} is not above 0; allowed: levels above 0.")
        elif whole and not float(level).is_integer():
            message = 'is not a whole number; allowed: whole numbers of connections with over = "connections".'
            problems.add(f"steps.levels[{index}]", f"{level} {message}")


def _allowed(tp: Any, meta: Mapping[str, Any]) -> str:
    """What a field accepts, in words, for the messages."""
    if meta.get("duration"):
        return f"a duration{_bounds(meta, 's')}: {DURATION_HELP}"
    if tp in (int, float):
        return ("a whole number" if tp is int else "a number") + _bounds(meta, "")
    if typing.get_origin(_unwrap(tp)) is typing.Literal:
        meta = _literal_meta(_unwrap(tp), meta)
    if meta.get("choices"):
        return "one of " + ", ".join(meta["choices"])
    return "a non-empty string" if meta.get("required") else "a string"


def _bounds(meta: Mapping[str, Any], unit: str) -> str:
    low, high, above = meta.get("min"), meta.get("max"), meta.get("above")
    if low is not None and high is not None:
        return f" from {low}{unit} to {high}{unit}"
    parts = [f"at least {low}{unit}"] if low is not None else []
    parts += [f"above {above}{unit}"] if above is not None else []
    parts += [f"at most {high}{unit}"] if high is not None else []
    return " " + " and ".join(parts) if parts else ""


def _wrong(key: str, value: Any, allowed: str, problems: _Problems) -> Any:
    problems.add(key, f"expected {allowed}; got {_show(value, key)}.")
    return _INVALID


def _show(value: Any, key: str) -> str:
    """A value for a message; strings under [target] are not echoed, as they may be pasted secrets."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return f"{value} (a number)"
    if isinstance(value, str):
        if key.startswith("target."):
            return "a string"
        return f'"{value}"' if len(value) <= 40 else f'"{value[:37]}..."'
    if isinstance(value, Mapping):
        return "a table"
    return "an array" if isinstance(value, list | tuple) else f"a {type(value).__name__}"


def _is_secret(key: str, name: str) -> bool:
    return key.startswith("target.") and name.lower().replace("-", "_") in SECRET_NAMES


def _did_you_mean(word: str, options: Sequence[str]) -> str:
    by_lower = {option.lower(): option for option in options}
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
    return f" Did you mean {by_lower[matches[0]]!r}?" if matches else ""


def _unwrap(tp: Any) -> Any:
    """X from `X | None`; any other type as it is."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return next(arg for arg in typing.get_args(tp) if arg is not type(None))
    return tp


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
