"""Request settings read from ARM's raw answer where azure-ai-ml loses them.

azure-ai-ml 1.35 reads `requestSettings.requestTimeout` (an ISO-8601 duration) into whole seconds:
`PT0.5S` becomes 0 ms and `PT1.5S` 1000 ms (`from_iso_duration_format_ms`). moetui sees every answer the
SDK gets through azure-core's `raw_response_hook` (MLClient passes it to its pipeline's CustomHookPolicy)
and keeps the exact value of each deployment it read, by endpoint and deployment name (lowercase: the
service's names are case-insensitive).
"""

from __future__ import annotations

import json
import re
from typing import Any

#: .../onlineEndpoints/{endpoint}/deployments[/{deployment}] in an ARM URL.
_DEPLOYMENTS_URL = re.compile(r"/onlineEndpoints/([^/?]+)/deployments(?:/([^/?]+))?(?:\?|$)", re.IGNORECASE)


def iso_duration_ms(value: Any) -> float | None:
    """An ISO-8601 duration (`PT0.5S`, `PT1M30S`) in milliseconds; None when it is not one."""
    import isodate  # azure-core's own dependency: already imported by any SDK call

    try:
        duration = isodate.parse_duration(str(value))
    except (isodate.ISO8601Error, ValueError, TypeError):
        return None
    seconds = duration.total_seconds() if hasattr(duration, "total_seconds") else None
    return None if seconds is None else seconds * 1000


def request_timeouts(url: str, body: bytes | str) -> dict[tuple[str, str], float]:
    """(endpoint, deployment) -> requestTimeout in ms, from a deployment GET or list answer; {} for others."""
    match = _DEPLOYMENTS_URL.search(url)
    if match is None:
        return {}
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return {}
    items = data.get("value", [data]) if isinstance(data, dict) else []
    found: dict[tuple[str, str], float] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        settings = (item.get("properties") or {}).get("requestSettings") or {}
        ms = iso_duration_ms(settings.get("requestTimeout")) if isinstance(settings, dict) else None
        name = item.get("name")
        if ms is not None and isinstance(name, str):
            found[(match.group(1).lower(), name.lower())] = ms
    return found
