"""Files a configuration names (key, secret headers, payloads, prompts, the config itself) are read by one
rule (moetui.config.files): a regular file under a stated size. /dev/zero, a FIFO, a directory or an
oversize file is refused before the first request, exit 2, naming the key and the file; nothing hangs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from moetui.config.files import BODIES_MAX_BYTES, SECRET_MAX_BYTES, read_named_file
from moetui.errors import ConfigError
from moetui.targets.url import read_key
from tests.http_server import FastServer


def run_moetui(*args: str) -> subprocess.CompletedProcess[str]:
    # A generous bound: a FIFO that blocked the open used to hang here for good (SIGINT/SIGTERM ignored).
    return subprocess.run([sys.executable, "-m", "moetui", *args], capture_output=True, text=True, timeout=60)


def fifo(path: Path) -> Path:
    os.mkfifo(path, 0o600)
    return path


def big_sparse(path: Path, size: int) -> Path:
    with path.open("wb") as file:
        file.truncate(size)  # no disk used: only the size counts
    os.chmod(path, 0o600)
    return path


def config_with(tmp_path: Path, url: str, target: str = "", load: str = "") -> Path:
    config = tmp_path / "run.toml"
    config.write_text(f'[target.url]\nurl = "{url}"\n{target}\n[load]\nmode = "burst"\nrequests = 2\n{load}\n')
    return config


CASES = {
    "key_file /dev/zero": ("target.url.key_file", lambda p: Path("/dev/zero"), "is a character device"),
    "key_file FIFO": ("target.url.key_file", lambda p: fifo(p / "key"), "is a FIFO (named pipe)"),
    "key_file oversize": (
        "target.url.key_file",
        lambda p: big_sparse(p / "key", SECRET_MAX_BYTES + 1),
        "is 65,537 bytes; allowed: at most 65,536 bytes (64 KB)",
    ),
    "header_file directory": ("target.url.header_file.api-key", lambda p: p, "is a directory"),
    "payload_file FIFO": ("load.payload_file", lambda p: fifo(p / "bodies"), "is a FIFO (named pipe)"),
    "payload_file oversize": (
        "load.payload_file",
        lambda p: big_sparse(p / "bodies", BODIES_MAX_BYTES + 1),
        "is 268,435,457 bytes; allowed: at most 268,435,456 bytes (256 MB)",
    ),
    "payload_file /dev/zero": ("load.payload_file", lambda p: Path("/dev/zero"), "is a character device"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_named_file_that_is_not_a_small_regular_file_is_refused(
    server: FastServer, tmp_path: Path, case: str
) -> None:
    key, make, said = CASES[case]
    path = make(tmp_path)
    if key == "load.payload_file":
        config = config_with(tmp_path, server.url("/fast"), load=f'payload_file = "{path}"')
    elif key == "target.url.key_file":
        config = config_with(tmp_path, server.url("/fast"), target=f'key_file = "{path}"')
    else:
        config = config_with(tmp_path, server.url("/fast"), target=f'header_file = {{ "api-key" = "{path}" }}')
    result = run_moetui("--run", str(config))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{key}: {path} {said}" in result.stderr
    assert "Traceback" not in result.stderr
    assert server.counts()["requests"] == 0


def test_a_fifo_as_the_config_or_the_prompts_does_not_hang(server: FastServer, tmp_path: Path) -> None:
    config = fifo(tmp_path / "run.toml")
    result = run_moetui("--run", str(config))
    assert result.returncode == 2 and f"{config}: is a FIFO (named pipe); allowed: a regular file" in result.stderr
    prompts = fifo(tmp_path / "prompts.jsonl")
    config = tmp_path / "chat.toml"
    config.write_text(
        f'[target.url]\nurl = "{server.url("/chat")}"\n[load]\napi = "chat"\nmode = "burst"\nrequests = 2\n'
        f'[workload]\nprompts_file = "{prompts}"\n'
    )
    result = run_moetui("--run", str(config))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"workload.prompts_file: {prompts} is a FIFO" in result.stderr
    assert server.counts()["requests"] == 0


def test_the_reader_keeps_the_secret_rule_and_returns_the_bytes(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_bytes(b"s3cret\n")
    os.chmod(key, 0o644)
    with pytest.raises(ConfigError, match=r"k: .*key holds a secret but others may read it \(mode 0644\)"):
        read_named_file(key, "k", max_bytes=100, private=True)
    os.chmod(key, 0o600)
    assert read_named_file(key, "k", max_bytes=100, private=True) == b"s3cret\n"
    assert read_named_file(key, "k", max_bytes=7) == b"s3cret\n"
    with pytest.raises(ConfigError, match=r"is 7 bytes; allowed: at most 6 bytes"):
        read_named_file(key, "k", max_bytes=6)


def test_a_key_file_with_nul_or_a_control_character_is_refused_unshown(tmp_path: Path) -> None:
    for text in (b"k3y\x00tail", b"k3y\x1btail"):
        key = tmp_path / "key"
        key.write_bytes(text)
        os.chmod(key, 0o600)
        with pytest.raises(ConfigError) as caught:
            read_key(None, str(key), tmp_path)
        assert caught.value.message.startswith(f"target.url.key_file: {key} holds a key with a line break")
        assert "k3y" not in caught.value.message
