"""Process and socket helpers for tests: who listens where, and which processes descend from a PID; and
what a run's exit status may be when the machine, not the code, decides whether it was measured validly."""

from __future__ import annotations

import os
import signal
import socket
import struct
import time
from pathlib import Path
from typing import Any

from moetui.errors import ExitStatus
from moetui.local_endpoint.usage import proc_stat, process_tree


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, grandchildren, ...), read from /proc."""
    return set(process_tree(pid)[1:])


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    fields = proc_stat(pid)
    return fields is not None and fields[0] != "Z"


def listening_addresses(pids: set[int]) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state that one of `pids` holds, IPv4 and IPv6."""
    inodes: set[str] = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            for fd in fd_dir.iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            hex_addr, hex_port = local.split(":")
            raw = bytes.fromhex(hex_addr)
            # /proc prints the address as host-order 32-bit words.
            packed = b"".join(struct.pack("<I", struct.unpack(">I", raw[i : i + 4])[0]) for i in range(0, len(raw), 4))
            found.append((socket.inet_ntop(family, packed), int(hex_port, 16)))
    return found


def wait_gone(pids: set[int], timeout_s: float) -> set[int]:
    """Wait until none of `pids` lives; return the ones still alive after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = {pid for pid in pids if alive(pid)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def kill_all(pids: set[int]) -> None:
    """SIGKILL each of `pids` still alive (a test's cleanup)."""
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def assert_failed(status: int, output: str) -> None:
    """`status` is 1 (a threshold failed), or 4 with a threshold failed too: an invalid measurement outranks a
    failed threshold, and whether a closed loop against a fast server on a busy machine is one is the
    machine's matter (assert_ran's reason), not the test's."""
    if status == ExitStatus.INVALID_MEASUREMENT:
        assert "INVALID MEASUREMENT" in output and "FAIL  " in output, output
    else:
        assert status == ExitStatus.THRESHOLD_FAILED, output


def failed_status(valid: bool) -> ExitStatus:
    """The exit status of a run whose threshold failed: 1, or 4 when its generator could not keep up (an
    invalid measurement outranks a failed threshold; whether it keeps up is the machine's matter)."""
    return ExitStatus.THRESHOLD_FAILED if valid else ExitStatus.INVALID_MEASUREMENT


def assert_ran(status: int, report: dict[str, Any], output: str = "") -> None:
    """`status` is 0, or 4 (invalid measurement) with the generator's reasons given and every threshold held.

    For tests about counts, replays, tokens or reports: whether one generator process keeps up with a fast
    server on 127.0.0.1 depends on the machine and its load, not on the code (a quiet 2-core CI machine ran
    a closed loop of 8 at 94 % of a core and was rightly judged invalid). Everything else a run can end in
    (a threshold missed, an unreachable target, an interruption) still fails the test; the verdict itself
    has its own tests (tests/engine/test_open_timetable.py, tests/engine/test_saturation.py)."""
    if status == ExitStatus.INVALID_MEASUREMENT:
        generator = report["generator"]
        assert not generator["valid"] and generator["reasons"], output
        assert all(check["passed"] for check in report["thresholds"]), output
    else:
        assert status == ExitStatus.OK, output
