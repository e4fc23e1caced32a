"""The machine the generator runs on: how busy all its CPUs were (/proc/stat) and how many this process may
use (its affinity). The run's process reads them as deltas arrive, so a generator is judged against the
machine's real state: two generator processes beside a local server can fill a 2-CPU machine while each
stays under 90 % of a core."""

from __future__ import annotations

import os
from dataclasses import dataclass

#: /proc/stat's first line: cpu user nice system idle iowait irq softirq steal (in clock ticks).
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)
_IDLE_FIELDS = (3, 4)


@dataclass(frozen=True)
class CpuTimes:
    """CPU seconds of all the machine's CPUs since boot: busy and in all."""

    busy_s: float
    total_s: float


def cpu_times() -> CpuTimes | None:
    """All CPUs' busy and total time from /proc/stat (about 0.03 ms); None where there is no /proc."""
    try:
        with open("/proc/stat", "rb") as stat:
            fields = [int(value) for value in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    if len(fields) < 8:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    busy = sum(fields[i] for i in _BUSY_FIELDS)
    return CpuTimes(busy / tick, (busy + sum(fields[i] for i in _IDLE_FIELDS)) / tick)


def busy_share(first: CpuTimes, last: CpuTimes) -> float | None:
    """Share of all the machine's CPU time that was busy between two readings; None when too close to tell."""
    total = last.total_s - first.total_s
    return (last.busy_s - first.busy_s) / total if total > 0 else None


def machine_cpus() -> int:
    """CPUs of the whole machine (what /proc/stat's busy share is a share of)."""
    return os.cpu_count() or 1


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity: a container or taskset may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else machine_cpus()
