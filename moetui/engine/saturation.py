"""A saturated generator: one of its processes at a full core, or the whole machine busy with the generator a
large part of it, each with a sign that answers waited to be read. The verdict says what the numbers then
mean (the throughput is the generator's ceiling, the latency holds its own delay), and every invalid
measurement says what to do (what_to_do)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: A generator process using this share of a core or more is saturated: with any sign that it read answers
#: late (loop lag, sends held by the cap or never sent), the latency measured is partly its own queue.
#: Measured: open loop at 7,000-10,000 req/s against nginx used 99-100 % with lag p99 under 20 ms while
#: nginx saw send slip p99 of 49-131 ms; a closed loop of 128 connections on a 0.1 ms server, p50 10 ms.
CPU_SATURATED_SHARE = 0.9
#: Loop lag p99 above this on a saturated generator (or machine): answers waited to be read.
LAG_P99_BUSY_MS = 2.0
#: The machine's CPUs this busy over the run count as full: the generator's processes waited for a CPU.
MACHINE_BUSY_SHARE = 0.9
#: ... when the generator itself used at least this many cores of it. Measured on a 2-CPU machine against a
#: fast local server: --workers 2 used 0.52 + 0.51 cores (each under 90 %) beside the server, loop lag higher
#: and throughput lower than with one process. A test's bounded load (tenths of a core) on a machine busy
#: with other work is not the generator's saturation: the event-loop lag rule judges what that costs.
MACHINE_GENERATOR_CORES = 0.5


@dataclass(frozen=True)
class GeneratorLoad:
    """What the generator used during a run, per process and against the machine."""

    process_cpu: tuple[float, ...]
    """Each generator process's CPU seconds per wall second (1.0 = a full core)."""
    process_lag_p99_ms: tuple[float | None, ...]
    """Each process's event-loop lag p99 (the same order)."""
    lag_p99_ms: float | None
    """Event-loop lag p99 over all processes: how late answers were read at worst, for most of them."""
    held: int
    """Sends held by the clients cap or never sent."""
    machine_busy: float | None
    """Share of all the machine's CPU time that was busy during the run (/proc/stat); None where unknown."""
    machine_cpus: int
    usable_cpus: int
    """CPUs the generator may run on (its affinity)."""
    throughput_rps: float
    open_loop: bool


def saturation_reason(load: GeneratorLoad) -> str | None:
    """Why the generator's numbers are its own, when one of its processes or the machine was saturated."""
    signs = _signs(load)
    if not signs:
        return None
    what = _what_the_numbers_mean(load)
    full = [i for i, share in enumerate(load.process_cpu) if share >= CPU_SATURATED_SHARE and _late(load, i)]
    if full:
        who = ", ".join(f"process {i} at {load.process_cpu[i]:.0%}" for i in full)
        return f"the generator was at a full core ({who} of a core) with {signs}: {what}"
    used = sum(load.process_cpu)
    if load.machine_busy is not None and load.machine_busy >= MACHINE_BUSY_SHARE and used >= MACHINE_GENERATOR_CORES:
        return (
            f"the machine's {load.machine_cpus} CPUs were {load.machine_busy:.0%} busy, {used:.2f} cores of it the "
            f"generator's {len(load.process_cpu)} process{'es' if len(load.process_cpu) != 1 else ''} "
            f"({cpu_text(load.process_cpu)}), "
            f"with {signs}: its processes waited for a CPU, so {what}"
        )
    return None


def what_to_do(load: GeneratorLoad, workers: int) -> str:
    """What to do about a generator that could not keep up: a quieter machine when other processes held the
    CPUs; else more processes while CPUs are idle, else less load per process (fewer connections, or a rate
    under its ceiling)."""
    used = sum(load.process_cpu)
    full = any(share >= CPU_SATURATED_SHARE for share in load.process_cpu)
    busy = load.machine_busy is not None and load.machine_busy >= MACHINE_BUSY_SHARE
    if busy and not full and used < MACHINE_GENERATOR_CORES:
        return (
            f"what to do: other processes kept the machine's {load.machine_cpus} CPUs {load.machine_busy:.0%} busy "
            f"and the generator had only {used:.2f} cores of them ({cpu_text(load.process_cpu)}): measure when "
            "the machine is quieter, or from another machine"
        )
    if load.machine_busy is not None:
        idle = load.machine_cpus * (1 - load.machine_busy)
    else:
        idle = max(load.usable_cpus - used, 0.0)
    room = min(load.usable_cpus, math.floor(used + idle + 0.1))  # the cores the generator could have had
    ceiling = f"{load.throughput_rps:,.0f}/s"
    lighter = (
        f"a lower rate (-R, load.rate) under the {ceiling} it reached"
        if load.open_loop
        else f"fewer connections (-c, load.connections) or a fixed rate under {ceiling} (-R)"
    )
    if room > workers:
        return (
            f"what to do: run {room} generator processes (--workers {room}, load.workers: {idle:.1f} of the "
            f"{load.machine_cpus} CPUs were idle), or measure with {lighter}"
        )
    return (
        f"what to do: measure with {lighter}; more generator processes would not help here: {idle:.1f} of the "
        f"{load.machine_cpus} CPUs were idle (a target on this machine takes its share too), so run the "
        "generator on another machine for more"
    )


def cpu_text(process_cpu: Sequence[float]) -> str:
    """Each process's CPU share, plainly: '94 % of a core', '52 % + 51 % of a core'."""
    return " + ".join(f"{share:.0%}" for share in process_cpu) + " of a core" if process_cpu else "no CPU figures"


def _signs(load: GeneratorLoad) -> str:
    signs = [f"loop lag p99 {load.lag_p99_ms:.1f} ms"] if _lag_busy(load.lag_p99_ms) else []
    if load.held:
        signs.append(f"{load.held:,} sends held by the clients cap or never sent")
    return ", ".join(signs)


def _late(load: GeneratorLoad, process: int) -> bool:
    """This process read answers late: its own loop lag, or sends held (the cap is the run's)."""
    lags = load.process_lag_p99_ms
    own = lags[process] if process < len(lags) else load.lag_p99_ms
    return _lag_busy(own) or load.held > 0


def _lag_busy(lag_ms: float | None) -> bool:
    return lag_ms is not None and lag_ms > LAG_P99_BUSY_MS


def _what_the_numbers_mean(load: GeneratorLoad) -> str:
    lag = f"up to {load.lag_p99_ms:.1f} ms" if load.lag_p99_ms is not None else "part"
    return (
        f"the throughput ({load.throughput_rps:,.0f} ok/s) is the generator's ceiling, not the target's, and the "
        f"latency includes {lag} of the generator's own delay (loop lag p99)"
    )
