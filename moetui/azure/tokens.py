"""Reading a JWT access token's claims (expiry, who it is for) without verifying it. Imports nothing of
the Azure SDKs or of moetui, so every Azure module (credentials, deployments, sign-in) can use it."""

from __future__ import annotations

import base64
import json
from typing import Any


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token (its middle part), without verifying it: for display only.

    Returns:
        The claims, or {} when the token is not a JWT.
    """
    parts = token.split(".")
    if len(parts) < 2:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}
