"""What an HTTP status means from an Azure ML managed online endpoint: the report, the summary and the TUI's
status tables read this one table. Plain data: no engine, no UI."""

from __future__ import annotations

from collections.abc import Mapping

#: Azure ML managed online endpoints' meanings of the status codes a load test sees most.
AZURE_STATUS_MEANINGS = {
    200: "ok",
    400: "bad request",
    401: "no, expired or wrong key or token",
    403: "forbidden",
    404: "no such deployment, or none with positive traffic",
    408: "request timeout (request_timeout_ms)",
    424: "model error: the scorer answered non-200",
    429: "too many pending requests, or over the endpoint's rate limit",
    500: "internal server error",
    502: "the model container crashed or did not answer",
    503: "service unavailable: no capacity yet, or scaling",
    504: "gateway timeout",
}

#: How `moetui run` chooses the method, said beside a status that refused it.
_METHOD_HINT = "moetui run sends GET without a body, POST with -b; -m chooses"


def status_meaning(code: int, method: str) -> str | None:
    """What `code` means for a request sent with `method`: 405 and 501 name the method, which is what the
    server refused (a POST to a static file server answers 501); None for a code without a known meaning."""
    if code == 405:
        return f"method not allowed: this URL does not take {method} ({_METHOD_HINT})"
    if code == 501:
        return f"not implemented: the server does not implement {method} ({_METHOD_HINT})"
    return AZURE_STATUS_MEANINGS.get(code)


#: 401s with no success before a run says "give the key": a few, so one stale token's retry does not count.
KEY_REFUSED_AFTER = 10


def key_refused(ok: int, statuses: Mapping[int, int] | Mapping[str, int]) -> str | None:
    """The line a run shows when every answer so far is 401 (at least KEY_REFUSED_AFTER of them): the key is
    missing or wrong, and the rest of the run will measure nothing else; None otherwise."""
    refused = sum(count for code, count in statuses.items() if int(code) == 401)
    if ok or refused < KEY_REFUSED_AFTER or refused != sum(statuses.values()):
        return None
    return (
        f"every answer is 401 ({refused:,} so far): the endpoint wants its key; give it with "
        "-H 'Authorization: Bearer <key>', --key-env VAR or target.url.key_env / key_file"
    )
