"""The one stop policy (moetui.session.child.stop_children) on real child processes: by PID, to the
process group when the child started its own, SIGKILL after the grace when the stop is ignored."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from moetui.session.child import start_command, stop_children
from tests.helpers import alive, kill_all, wait_gone

#: A child that starts a grandchild (a `sleep`), prints its PID, and sleeps.
WITH_GRANDCHILD = (
    "import subprocess, sys, time\n"
    "grandchild = subprocess.Popen(['sleep', '60'])\n"
    "print(grandchild.pid, flush=True)\n"
    "time.sleep(60)\n"
)
#: A child that ignores SIGTERM, says so, and sleeps.
DEAF = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)\n"
)


def _started(code: str, own_group: bool) -> tuple[subprocess.Popen[bytes], str]:
    child = start_command([sys.executable, "-c", code], stdout=subprocess.PIPE, own_group=own_group)
    assert child.stdout is not None
    return child, child.stdout.readline().decode().strip()  # its handlers are in place once it speaks


def _close(child: subprocess.Popen[bytes]) -> None:
    if child.stdout is not None:
        child.stdout.close()


def test_a_child_in_its_own_group_is_stopped_with_its_children() -> None:
    child, said = _started(WITH_GRANDCHILD, own_group=True)
    grandchild = int(said)
    try:
        stop_children([child], grace_s=30, own_group=True)
        assert child.returncode == -signal.SIGTERM  # the first signal, not the SIGKILL after the grace
        assert wait_gone({grandchild}, timeout_s=10) == set()
    finally:
        kill_all({child.pid, grandchild})
        _close(child)


def test_a_child_without_a_group_of_its_own_is_stopped_alone() -> None:
    """The group is signalled only when the child started one: a plain child's children are its own affair."""
    child, said = _started(WITH_GRANDCHILD, own_group=False)
    grandchild = int(said)
    try:
        stop_children([child], grace_s=30)
        assert child.returncode == -signal.SIGTERM
        assert alive(grandchild)
    finally:
        kill_all({child.pid, grandchild})
        _close(child)


def test_a_child_that_ignores_its_stop_is_killed_after_the_grace() -> None:
    children = [_started(DEAF, own_group=False)[0] for _ in range(2)]
    try:
        begun = time.monotonic()
        stop_children(children, grace_s=0.5)
        # SIGTERM is their stop (ignored), the grace, then SIGKILL: for both at once, not one grace each.
        assert [child.returncode for child in children] == [-signal.SIGKILL, -signal.SIGKILL]
        assert 0.5 <= time.monotonic() - begun < 30
    finally:
        kill_all({child.pid for child in children})
        for child in children:
            _close(child)
