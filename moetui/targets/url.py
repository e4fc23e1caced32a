"""[target.url]: any scoring URI, with the key from an environment variable or a credentials file."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from moetui.config.schema import UrlTarget
from moetui.errors import ConfigError
from moetui.targets.base import ResolvedTarget


def read_key(key_env: str | None, key_file: str | None, base_dir: Path) -> str | None:
    """The key from `key_env` or `key_file` (the key alone, or JSON with "key" as the seed's cred.json).

    Raises:
        ConfigError: The variable is unset or the file is missing, empty or without a key, or the key
            holds a line break.
    """
    if key_env:
        key = os.environ.get(key_env, "").strip()
        if not key:
            raise ConfigError(f"target.url.key_env: the environment variable {key_env} is not set or empty")
        _check_key_chars(key, f"target.url.key_env: the environment variable {key_env}")
        return key
    if key_file:
        path = (base_dir / Path(key_file).expanduser()).resolve()
        try:
            text = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"target.url.key_file: cannot read {path}: {exc.strerror}") from None
        if text.startswith("{"):
            try:
                text = str(json.loads(text).get("key", "")).strip()
            except (json.JSONDecodeError, AttributeError):
                raise ConfigError(f'target.url.key_file: {path} is neither a key nor JSON with a "key"') from None
        if not text:
            raise ConfigError(f"target.url.key_file: {path} holds no key")
        _check_key_chars(text, f"target.url.key_file: {path}")
        return text
    return None


def _check_key_chars(key: str, origin: str) -> None:
    """A line break inside a key cannot go into a header (aiohttp raised a ValueError mid-run); the key
    itself is never shown."""
    if any(char in key for char in "\r\n\0"):
        raise ConfigError(
            f"{origin} holds a key with a line break (CR or LF) or NUL inside it; allowed: a key on one line"
        )


class UrlTargetSource:
    """A Target for [target.url]."""

    def __init__(self, config: UrlTarget, base_dir: Path) -> None:
        self.config = config
        self.base_dir = base_dir

    @asynccontextmanager
    async def open(self) -> AsyncIterator[ResolvedTarget]:
        config = self.config
        headers = {"Content-Type": "application/json", **config.headers}
        key = read_key(config.key_env, config.key_file, self.base_dir)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if config.deployment:
            headers["azureml-model-deployment"] = config.deployment
        yield ResolvedTarget(
            kind="url",
            url=config.url,
            headers=headers,
            deployment=config.deployment,
            max_concurrent_requests_per_instance=config.max_concurrency,
            instance_count=1 if config.max_concurrency else None,
            description=config.url,
        )
