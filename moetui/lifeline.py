"""Children that die with their parent: every process moetui starts (generator workers, the TUI's engine
process, the local endpoint's gateway and inference servers) calls `die_with_parent` first thing, so a
`kill -9` of moetui never leaves load running or ports held. Imports nothing of moetui.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send `sig` to this process when its parent dies, even by SIGKILL; exit at once when
    the parent is already gone.

    The parent-death signal is Linux's (prctl PR_SET_PDEATHSIG); elsewhere only the getppid check
    applies, and each child also watches its pipe to the parent (EOF: the parent is gone).

    Args:
        parent_pid: The PID the parent had when it started this process (os.getpid() there).
        sig: What to receive when the parent dies.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig))
    except (OSError, AttributeError):  # not Linux
        pass
    # The parent may have died before prctl took effect: then this process was already re-parented.
    if not parent_alive(parent_pid):
        sys.exit(1)


def parent_alive(parent_pid: int) -> bool:
    """True while `parent_pid` is still this process's parent (a dead parent's children are re-parented)."""
    return os.getppid() == parent_pid


@contextmanager
def signals_blocked(*signals: int) -> Iterator[None]:
    """Block `signals` in this thread while children are started: a child inherits the blocked mask
    through fork and exec, so a Ctrl-C that arrives while it imports cannot raise KeyboardInterrupt in it
    (it unblocks them once it ignores or handles them). Here they are delivered on leaving the block."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, set(signals))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
