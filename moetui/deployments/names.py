"""The one rule for online endpoint and deployment names (Azure's, also applied by the local endpoint),
a random valid name, and how Azure compares two names. Imports nothing from moetui but the standard library."""

from __future__ import annotations

import re
import secrets
import string

#: Azure's rules for online endpoint and deployment names, as azure-ai-ml 1.35.2 checks them
#: (`constants/_endpoint.py` EndpointConfigurations, `entities/_endpoint/_endpoint_helpers.py`
#: validate_endpoint_or_deployment_name): 3 to 32 characters, a letter first, letters, digits and hyphens,
#: an alphanumeric last. The one rule for both names, here and in the local endpoint.
ENDPOINT_NAME_MIN = 3
ENDPOINT_NAME_MAX = 32
_NAME_PATTERN = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")


def random_endpoint_name(prefix: str = "moetui") -> str:
    """A random endpoint name valid for Azure (unique per region, so random, as deploy scripts make them).

    Returns:
        `prefix-` followed by 8 random lowercase letters and digits, e.g. "moetui-k3f9x2qa".
    """
    alphabet = string.ascii_lowercase + string.digits
    return f"{prefix}-" + "".join(secrets.choice(alphabet) for _ in range(8))


def name_problem(name: str, what: str = "endpoint") -> str | None:
    """Why `name` is not a valid online endpoint (or deployment) name, or None when it is.

    Args:
        name: The name.
        what: "endpoint" or "deployment", for the message.
    """
    article = "an" if what[:1] in "aeiou" else "a"
    if not ENDPOINT_NAME_MIN <= len(name) <= ENDPOINT_NAME_MAX:
        return f"{article} {what} name has {ENDPOINT_NAME_MIN} to {ENDPOINT_NAME_MAX} characters, not {len(name)}"
    if not name[0].isascii() or not name[0].isalpha():
        return f"{article} {what} name starts with a letter"
    if not _NAME_PATTERN.match(name):
        if name.isascii() and all(ch.isalnum() or ch == "-" for ch in name):
            return f"{article} {what} name ends with a letter or digit, not a hyphen"
        return f"{article} {what} name holds only letters, digits and hyphens"
    return None


def endpoint_name_problem(name: str) -> str | None:
    """Why `name` is not a valid online endpoint name, or None when it is."""
    return name_problem(name, "endpoint")


def same_name(a: str | None, b: str | None) -> bool:
    """Whether two endpoint or deployment names are the same to Azure: azure-ai-ml lowercases them
    (`_online_endpoint_operations.py` `_strip_zeroes_from_traffic`: `k.lower()`), the service compares
    them without regard to case, and traffic keys come back as stored."""
    return a is not None and b is not None and a.casefold() == b.casefold()
