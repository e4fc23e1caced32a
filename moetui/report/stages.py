"""A ramped open run's `stages` block: per stage and per second, what the timetable offered, what was sent
and what was answered 2xx, by the slot each send was due at (warm-up included, as the timetable is). A stage's
not-sent share is judged as the run's is (thresholds.max_not_sent): a run that kept up on average can still
have dropped the top of its ramp."""

from __future__ import annotations

import math
from collections.abc import Sequence

from moetui.config.schema import Stage
from moetui.engine.ramp import Schedule
from moetui.report.model import StageRow, Stages, StageSecond


def stages_block(stages: Sequence[Stage], arrivals: str, timetable: Sequence[tuple[int, int, int, int]]) -> Stages:
    """The block from the run's stages and the engine's (second, stage, sent, ok) counts."""
    schedule = Schedule(tuple(stages))
    sent_by_stage = [0] * len(stages)
    ok_by_stage = [0] * len(stages)
    by_second: dict[int, list[int]] = {}
    for second, index, sent, ok in timetable:
        sent_by_stage[index] += sent
        ok_by_stage[index] += ok
        counts = by_second.setdefault(second, [0, 0])
        counts[0] += sent
        counts[1] += ok
    rows: list[StageRow] = []
    for index, (stage, segment) in enumerate(zip(stages, schedule.segments, strict=True)):
        if arrivals == "even":
            offered: float = schedule.due_before(segment.t1) - schedule.due_before(segment.t0)
        else:
            offered = round(segment.count, 3)  # Poisson: the expected count
        not_sent = max(0.0, offered - sent_by_stage[index])
        rows.append(
            {
                "stage": index,
                "shape": stage.shape,
                "from_rate": segment.r0,
                "to_rate": segment.r1,
                "start_s": segment.t0,
                "duration_s": stage.duration_s,
                "offered": offered,
                "sent": sent_by_stage[index],
                "ok": ok_by_stage[index],
                "not_sent": round(not_sent, 3),
                "not_sent_share": round(not_sent / offered, 6) if offered else None,
            }
        )
    seconds: list[StageSecond] = [
        {
            "second": second,
            "offered": round(schedule.count_at(second + 1) - schedule.count_at(second), 3),
            "sent": by_second.get(second, [0, 0])[0],
            "ok": by_second.get(second, [0, 0])[1],
        }
        for second in range(math.ceil(schedule.duration_s))
    ]
    return {"stages": rows, "per_second": seconds}


def stages_lines(block: Stages | None) -> list[str]:
    """The summary's lines: each stage's rates and what of its timetable was sent and answered."""
    if not block:
        return []
    lines = ["stages (by timetable slot: offered, sent, ok 2xx, not sent)"]
    for row in block["stages"]:
        if not row["duration_s"]:
            continue  # a jump: no slot of its own
        share = "" if row["not_sent_share"] is None else f" ({row['not_sent_share']:.1%})"
        lines.append(
            f"  {row['stage']:>2} {row['shape']:<4} {row['from_rate']:,.4g} -> {row['to_rate']:,.4g}/s over "
            f"{row['duration_s']:g} s: offered {row['offered']:,.0f}, sent {row['sent']:,}, ok {row['ok']:,}, "
            f"not sent {row['not_sent']:,.0f}{share}"
        )
    return lines
