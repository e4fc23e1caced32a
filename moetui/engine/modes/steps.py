"""`steps` as a load model: a sweep over levels, each held for step_duration_s after an optional warm-up at
the first level; a level is closed with that many connections, or open at that many requests per second."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from moetui.engine.modes.closed import run_closed
from moetui.engine.modes.context import Load
from moetui.engine.modes.open import run_open_plan
from moetui.engine.plan import LoadPlan


async def run_steps(load: Load, plan: LoadPlan, start_step: Callable[[int], None]) -> None:
    """Run every level of `plan.steps_levels` in turn, until the last ends or `load.stop` is set.

    Args:
        load: The context every mode receives.
        plan: The plan (steps_over, steps_levels, step_duration_s, warmup_s).
        start_step: Called with the step's index as each step starts (the generator closes the last one's delta).
    """
    if plan.warmup_s:
        await _level(load, plan, plan.steps_levels[0], plan.warmup_s)
    for index, level in enumerate(plan.steps_levels):
        if load.stop.is_set():
            break
        start_step(index)
        await _level(load, plan, level, plan.step_duration_s)


async def _level(load: Load, plan: LoadPlan, level: float, duration_s: float) -> None:
    """One level of a sweep: closed with `level` connections, or open at `level` requests per second."""
    if plan.steps_over == "rate":
        await run_open_plan(load, replace(plan, rate=level), duration_s)
    else:
        await run_closed(load, connections=int(level), duration_s=duration_s)
