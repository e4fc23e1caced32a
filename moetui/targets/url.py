"""[target.url]: any scoring URI, with its key and secret headers or query parameters from environment
variables or files readable by their owner only (moetui.redact holds the rule for what is secret)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from moetui.config.files import SECRET_MAX_BYTES, read_named_text
from moetui.config.load import has_control_chars
from moetui.config.schema import UrlTarget
from moetui.errors import ConfigError
from moetui.redact import shown_url, with_query
from moetui.targets.base import ResolvedTarget


def read_secret_file(path: Path, key: str) -> str:
    """The stripped text of a file that holds a secret, by config.files' rules: a small regular file that
    only its owner may read (as ssh does).

    Args:
        path: The file.
        key: The config key that named it, for the messages (`target.url.key_file`).

    Raises:
        ConfigError: Missing, unreadable, not a regular file, over SECRET_MAX_BYTES, or readable by the
            group or others.
    """
    return read_named_text(path, key, max_bytes=SECRET_MAX_BYTES, private=True).strip()


def read_key(key_env: str | None, key_file: str | None, base_dir: Path) -> str | None:
    """The key from `key_env` or `key_file` (the key alone, or JSON with "key" as a deploy script's cred.json).

    Raises:
        ConfigError: The variable is unset, or the file is missing, empty, without a key or readable by
            others, or the key holds a line break.
    """
    if key_env:
        key = os.environ.get(key_env, "").strip()
        if not key:
            raise ConfigError(f"target.url.key_env: the environment variable {key_env} is not set or empty")
        _check_key_chars(key, f"target.url.key_env: the environment variable {key_env}")
        return key
    if key_file:
        path = (base_dir / Path(key_file).expanduser()).resolve()
        text = read_secret_file(path, "target.url.key_file")
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


def read_secrets(
    from_env: Mapping[str, str] | None, from_file: Mapping[str, str] | None, table: str, base_dir: Path
) -> dict[str, str]:
    """Values named by a `*_env` and a `*_file` table (name -> variable, name -> file).

    Args:
        table: "header" or "query", for the messages (`target.url.header_env.api-key`).

    Raises:
        ConfigError: A variable unset or empty, a file unreadable, empty or readable by others, or a
            value with a line break.
    """
    values: dict[str, str] = {}
    for name, variable in (from_env or {}).items():
        value = os.environ.get(variable, "").strip()
        if not value:
            raise ConfigError(f"target.url.{table}_env.{name}: the environment variable {variable} is not set or empty")
        _check_key_chars(value, f"target.url.{table}_env.{name}: the environment variable {variable}")
        values[name] = value
    for name, file in (from_file or {}).items():
        path = (base_dir / Path(file).expanduser()).resolve()
        value = read_secret_file(path, f"target.url.{table}_file.{name}")
        if not value:
            raise ConfigError(f"target.url.{table}_file.{name}: {path} is empty")
        _check_key_chars(value, f"target.url.{table}_file.{name}: {path}")
        values[name] = value
    return values


def _check_key_chars(key: str, origin: str) -> None:
    """A line break inside a key cannot go into a header (aiohttp raised a ValueError mid-run); the key
    itself is never shown."""
    if has_control_chars(key):
        raise ConfigError(
            f"{origin} holds a key with a line break (CR or LF), NUL or another control character inside it; "
            "allowed: a key on one line"
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
        headers.update(read_secrets(config.header_env, config.header_file, "header", self.base_dir))
        if config.deployment:
            headers["azureml-model-deployment"] = config.deployment
        url = with_query(config.url, read_secrets(config.query_env, config.query_file, "query", self.base_dir))
        yield ResolvedTarget(
            kind="url",
            url=url,
            headers=headers,
            deployment=config.deployment,
            max_concurrent_requests_per_instance=config.max_concurrency,
            instance_count=1 if config.max_concurrency else None,
            description=shown_url(url),
        )
