"""The one rule for secrets: which headers and query parameters are secret, and how they are shown.

- A header is *secret-looking* when its name matches `SECRET_PATTERN` (key, token, secret, auth, password,
  signature, credential, cookie; any case) or is one of `SECRET_HEADERS`. A config takes such a header's
  value from the environment or a 0600 file (`header_env`, `header_file`), never inline.
- Header values are *shown* (reports, screens) only for the harmless `SHOWN_HEADERS`; every other value is
  `MASK`, secret-looking or not.
- A query parameter is secret-looking when its name matches the same pattern or is one of
  `SECRET_QUERY_PARAMETERS` (Azure Functions' `code`, a SAS's `sig`); a config takes it from `query_env` or
  `query_file`. Wherever a URL is shown or written for people (summary, report, progress lines, screens),
  every query value is `MASK` and the names stay (`?code=***&api-version=***`), as is a `user:password@`.
- A saved configuration (TOML, the TUI's remembered target) is written whole: the loader refuses secrets in
  it, so it holds none and replays as it is.

Also the rule for text from outside shown on a terminal (a report's strings, a server's answer, a log):
`printable` drops terminal escape sequences and control characters, which could rewrite the screen, the
title or the clipboard.

Imports nothing but the standard library: config, report, targets and screens all use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
"""What stands for a value that is not shown."""

SECRET_PATTERN = re.compile(r"key|token|secret|auth|password|passwd|signature|credential|cookie", re.IGNORECASE)
"""Header and query names whose values are secret (`x-api-key`, `api-key`, `Ocp-Apim-Subscription-Key`,
`Proxy-Authorization`, `X-Amz-Security-Token`, `Set-Cookie` ...)."""

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie"})
"""Named secret headers (lower case); the pattern covers them too, they are listed so the rule reads plainly."""

SECRET_QUERY_PARAMETERS = frozenset({"code", "sig", "apikey", "api-key", "api_key", "key", "token"})
"""Named secret query parameters (lower case): Azure Functions' `code`, an Azure SAS's `sig`."""

SHOWN_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "azureml-model-deployment",
        "content-encoding",
        "content-type",
        "user-agent",
        "x-ms-client-request-id",
        "x-request-id",
    }
)
"""Headers whose values reports and screens show (lower case); every other header's value is MASK."""


_TERMINAL_CONTROL = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI (7- and 8-bit): colours, cursor moves, erase
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window title, hyperlinks, clipboard
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"  # DCS, PM, APC, SOS strings
    r"|\x1b[ -/]*[0-~]?"  # any other escape
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # other C0 controls (CR included), DEL, C1 controls
)


def printable(text: str) -> str:
    """`text` without terminal escape sequences and control characters; line breaks and tabs kept.

    The one filter for what moetui prints that it did not write itself: a report's strings (`moetui report`
    reads files from anywhere), a server's answer or error, a child's log lines.
    """
    return _TERMINAL_CONTROL.sub("", text)


def is_secret_header(name: str) -> bool:
    """Whether a header's value must come from the environment or a file, never from the config itself."""
    return name.strip().lower() in SECRET_HEADERS or SECRET_PATTERN.search(name) is not None


def is_secret_query_parameter(name: str) -> bool:
    """Whether a query parameter's value must come from the environment or a file, never from the URL."""
    return name.strip().lower() in SECRET_QUERY_PARAMETERS or SECRET_PATTERN.search(name) is not None


def shown_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers as reports and screens show them: allow-listed values as they are, the rest MASK."""
    return {name: value if name.lower() in SHOWN_HEADERS else MASK for name, value in headers.items()}


def shown_url(url: str) -> str:
    """The URL as people see it: every query value and any `user:password@` replaced by MASK, names kept.

    Args:
        url: Any URL, well formed or not.

    Returns:
        `https://h/score?code=***&api-version=***`; a URL that does not parse has everything after its
        path's first `?` masked.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
        query = parts.query
        if query:
            names = [name for name, _ in parse_qsl(query, keep_blank_values=True)]
            query = "&".join(f"{name}={MASK}" for name in names) if names else MASK
        fragment = MASK if parts.fragment else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
    except ValueError:
        head, question, _ = url.partition("?")
        return head + (f"?{MASK}" if question else "")


def secret_query_parameters(url: str) -> list[str]:
    """The names of the secret-looking query parameters in a URL, in order (the values are never returned)."""
    try:
        pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    except ValueError:
        return []
    return [name for name, _ in pairs if is_secret_query_parameter(name)]


def has_user_info(url: str) -> bool:
    """Whether the URL carries `user[:password]@` before its host."""
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return False


def split_secret_query(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its secret-looking query parameters, and those parameters (name -> value).

    For a front end that takes a pasted URL and keeps its secrets apart (the TUI puts them in the
    environment and names them in `query_env`).
    """
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    secret = {name: value for name, value in pairs if is_secret_query_parameter(name)}
    if not secret:
        return url, {}
    kept = [(name, value) for name, value in pairs if not is_secret_query_parameter(name)]
    return urlunsplit(parts._replace(query=urlencode(kept))), secret


def with_query(url: str, parameters: Mapping[str, str]) -> str:
    """The URL with `parameters` appended to its query string (the values read from query_env/query_file)."""
    if not parameters:
        return url
    parts = urlsplit(url)
    extra = urlencode(list(parameters.items()))
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def shown_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """A TOML-shaped configuration as a report shows it: [target.url]'s url through `shown_url` and its
    headers through `shown_headers` (where the values come from, `*_env` and `*_file`, are names, kept)."""
    shown = dict(data)
    target = data.get("target")
    if isinstance(target, Mapping) and isinstance(target.get("url"), Mapping):
        table = dict(target["url"])
        if isinstance(table.get("url"), str):
            table["url"] = shown_url(table["url"])
        if isinstance(table.get("headers"), Mapping):
            table["headers"] = shown_headers(table["headers"])
        shown["target"] = {**target, "url": table}
    return shown
