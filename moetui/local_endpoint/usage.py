"""CPU and memory of the local endpoint's processes during a run, read from /proc: each inference server
(gunicorn's master and its workers) and the gateway, sampled every SAMPLE_S. Every run
against a local endpoint reports it (moetui.session.run_session), and each local matrix cell (moetui.matrix).
Linux only; elsewhere the block says it could not be read. No textual, rich or azure."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SAMPLE_S = 0.5
#: Below this share of its CPUs at the goodput, a cell's instance type is bigger than the load needs.
LOW_CPU_SHARE = 0.30
_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses), from
    field 3 (state) on; None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, found through /proc/PID/task/*/children: a few small reads, where a scan
    of every process in /proc took 2.7 ms with 78 processes (more on a desktop), on the generator's loop."""
    found, index = [pid], 0
    while index < len(found):
        parent = found[index]
        index += 1
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                found.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def _group_usage(groups: Mapping[str, int]) -> dict[str, tuple[float, int]]:
    """Role -> (CPU seconds so far, resident bytes) over the role's process and its descendants (an
    inference server: gunicorn's master and its workers)."""
    usage: dict[str, tuple[float, int]] = {}
    for role, leader in groups.items():
        seconds, resident = 0.0, 0
        for pid in process_tree(leader):
            fields = proc_stat(pid)
            if fields is None:
                continue
            seconds += (int(fields[11]) + int(fields[12])) / _TICKS_PER_S  # utime + stime
            resident += int(fields[21]) * _PAGE_BYTES
        usage[role] = (seconds, resident)
    return usage


class Sampler:
    """Samples the processes of roles (name -> PID; its descendants count with it) until stopped.

    Args:
        groups: Such as {"gateway": 123, "server-0": 456}.
        cpus: CPUs each inference server may use, for the share (None: all of this machine's).
    """

    def __init__(self, groups: Mapping[str, int], cpus: int | None) -> None:
        self.groups = dict(groups)
        self.cpus = cpus
        self.samples: list[tuple[float, dict[str, tuple[float, int]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Sampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._sample()

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(SAMPLE_S)

    def _sample(self) -> None:
        try:
            self.samples.append((time.monotonic(), _group_usage(self.groups)))
        except OSError:
            pass

    def block(self) -> dict[str, Any]:
        """Per role: mean and peak CPU (cores), peak resident MB; and the inference servers' CPU share."""
        if len(self.samples) < 2:
            return {"error": "not enough samples (no /proc?)"}
        # CPU time moves in clock ticks (10 ms): over a short last interval (the run ended 11 ms after a
        # sample) one tick read as 0.91 cores. A short interval is joined to the one before it, so every
        # peak is over about SAMPLE_S and the peak is never below the mean.
        steps = [self.samples[0]]
        last = self.samples[-1]
        for sample in self.samples[1:]:
            if sample[0] - steps[-1][0] >= SAMPLE_S / 2 or (len(steps) == 1 and sample is last):
                steps.append(sample)
            elif sample is last:
                steps[-1] = sample  # the short last interval joins the one before it
        roles: dict[str, Any] = {}
        for role in self.groups:
            rates = []
            for (t0, a), (t1, b) in itertools.pairwise(steps):
                if t1 > t0:
                    rates.append(max(0.0, b[role][0] - a[role][0]) / (t1 - t0))
            first, last = self.samples[0], self.samples[-1]
            span = last[0] - first[0]
            roles[role] = {
                "cpu_cores_mean": round((last[1][role][0] - first[1][role][0]) / span, 3) if span else None,
                "cpu_cores_peak": round(max(rates), 3) if rates else None,
                "rss_mb_peak": round(max(s[1][role][1] for s in self.samples) / 2**20, 1),
            }
        servers = [v["cpu_cores_mean"] or 0.0 for k, v in roles.items() if k != "gateway"]
        cpus = self.cpus or len(os.sched_getaffinity(0))
        share = sum(servers) / (cpus * max(1, len(servers))) if servers else None
        return {
            "processes": roles,
            "server_cpu_share": round(share, 3) if share is not None else None,
            "cpus_per_instance": cpus,
            "sample_s": SAMPLE_S,
        }
