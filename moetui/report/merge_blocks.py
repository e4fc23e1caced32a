"""How each block of a report merges (moetui.report.merge puts them together): per-second rows and latency
windows on one clock, the request log, the sweep's table, the open-loop rate, the bodies received, the
generator's health and a burst's verdict. Each function says what it keeps and what it cannot; what it
cannot goes into the merged report's `notes`.

`together` is True for runs that overlapped in time (the nodes of one run: they loaded the endpoint at
once, so their rates add up) and False for runs that followed one another (`moetui merge --sequential`:
their requests pool, their rates do not add up)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from moetui.engine.histogram import REPORT_PERCENTILES, decode, new_histogram, percentiles_ms, report_key
from moetui.engine.judge import find_knee, judge_burst
from moetui.engine.recorder import RequestRecord
from moetui.engine.snapshot import StepRow
from moetui.engine.windows import MAX_WINDOWS, Windows
from moetui.report import model
from moetui.report.json_report import latency_block

#: A report as read (moetui.report.codec checks the fields moetui reads; older reports may lack a block).
Report = Mapping[str, Any]
_PERCENTILE_OF = {report_key(p): p for p in REPORT_PERCENTILES}
#: How far a merged step's latency windows may miss its own count of successful responses (see merged_steps).
WINDOWS_SLACK = 0.02


def _summed(reports: Sequence[Report], block: str, key: str) -> Any:
    return sum(r[block][key] for r in reports if r.get(block) and r[block].get(key) is not None)


def merged_seconds(reports: Sequence[Report], offsets: Sequence[int] | None = None) -> list[model.SecondRow]:
    """The reports' per-second rows on one clock: each report's row `second` counts from its own start, so
    it is shifted by `offsets` (whole seconds; by default the start's distance from the earliest one, to the
    nearest second) and rows falling on the same second are added: ok, failed, output tokens and statuses
    summed, max_ms the largest. A second's percentiles cannot be merged from rows (no histogram per second):
    kept when one report alone fills that second, else None."""
    if not reports:
        return []
    if offsets is None:
        offsets = wall_clock_offsets(reports)
    rows: dict[int, dict[str, Any]] = {}
    for report, shift in zip(reports, offsets, strict=True):
        for row in report.get("per_second") or []:
            second = int(row["second"]) + shift
            if second not in rows:
                rows[second] = {**row, "second": second}
                continue
            into = rows[second]
            into["ok"] += row["ok"]
            into["failed"] += row["failed"]
            maxes = [m for m in (into.get("max_ms"), row.get("max_ms")) if m is not None]
            into["max_ms"] = max(maxes) if maxes else None
            if "output_tokens" in row:
                into["output_tokens"] = into.get("output_tokens", 0) + row["output_tokens"]
            if "statuses" in row:
                into["statuses"] = _added(into.get("statuses", {}), row["statuses"])
            for key in ("p50_ms", "p99_ms", "p50_corrected_ms", "p99_corrected_ms"):
                if key in into:
                    into[key] = None
    return [cast(model.SecondRow, rows[second]) for second in sorted(rows)]


def _added(counts: Mapping[str, int], more: Mapping[str, int]) -> dict[str, int]:
    out = dict(counts)
    for name, count in more.items():
        out[name] = out.get(name, 0) + count
    return dict(sorted(out.items()))


def started_s(report: Report) -> float:
    """When the run started, in seconds since the epoch."""
    return datetime.fromisoformat(str(report["started_at"])).timestamp()


def wall_clock_offsets(reports: Sequence[Report]) -> list[int]:
    """Each report's start, in whole seconds after the earliest one's."""
    starts = [started_s(r) for r in reports]
    return [round(start - min(starts)) for start in starts]


def merged_windows(
    reports: Sequence[Report], offsets: Sequence[int], notes: list[str], sources: Sequence[str]
) -> model.Windows | None:
    """The reports' latency windows (moetui.engine.windows) on one clock: each window's histograms added into
    the merged window its shifted start falls in, the windows as long as the longest run's (a multiple of
    every run's), doubled while there are more than a report holds. None when no report has windows."""
    blocks = [
        (r["windows"], shift, source)
        for r, shift, source in zip(reports, offsets, sources, strict=True)
        if r.get("windows")
    ]
    if not blocks:
        return None
    seconds = math.lcm(*(max(1, int(block["seconds"])) for block, _, _ in blocks))
    straddle = sorted({source for block, shift, source in blocks if shift % seconds or block["seconds"] < seconds})
    if straddle and seconds > 1:
        notes.append(
            f"windows: those of {', '.join(straddle)} are shorter than the merged {seconds} s or start off its "
            "grid; each is counted in the merged window its start falls in"
        )
    decoded = [
        (int(row["start_s"]) + shift, {name: decode(value) for name, value in row.items() if name != "start_s"})
        for block, shift, _ in blocks
        for row in block["rows"]
    ]
    while True:
        windows = Windows(None)
        windows.seconds = seconds
        for start, histograms in decoded:
            windows.add(start, histograms)
        windows.close_before(math.inf)
        if len(windows.closed) <= 2 * MAX_WINDOWS:
            return cast(model.Windows, windows.to_dict())
        seconds *= 2


def merged_request_log(reports: Sequence[Report], starts: Sequence[float]) -> list[model.LoggedRequest]:
    """Every report's logged requests on the earliest start's clock (send and timetable times shifted by the
    run's start; first-token times count from the send, so they stay), in the order they were sent."""
    origin = min(starts)
    records = []
    for report, start in zip(reports, starts, strict=True):
        shift = start - origin
        for record in report.get("request_log") or []:
            moved = cast(model.LoggedRequest, {**record, "sent_at_s": record["sent_at_s"] + shift})
            intended = moved.get("intended_at_s")
            if intended is not None:
                moved["intended_at_s"] = intended + shift
            records.append(moved)
    return sorted(records, key=lambda record: record["sent_at_s"])


def merged_burst(
    reports: Sequence[Report], request_log: Sequence[model.LoggedRequest], together: bool, notes: list[str]
) -> model.Burst | None:
    """Bursts sent at once (the nodes' shares of one burst) are judged again as one, from their requests on one
    clock (engine.judge.judge_burst, with the target's capacity). Bursts one after another cannot be pooled
    into one verdict: None, each run's own in a note."""
    bursts = [r["burst"] for r in reports if r.get("burst")]
    if not bursts:
        return None
    if not together:
        verdicts = ", ".join(str(b["verdict"]) for b in bursts)
        notes.append(f"burst: runs one after another are no burst together; each run's verdict: {verdicts}")
        return None
    if any(r.get("mode") != "burst" for r in reports) or not request_log:
        notes.append("burst: only bursts sent together are judged as one; the runs were not all bursts")
        return None
    records = [
        RequestRecord(r["id"], r["sent_at_s"], r["elapsed_s"], r["status"], None, r.get("exec_ms"), None, None)
        for r in request_log
    ]
    wall_s = max(r.sent_at_s + r.elapsed_s for r in records) - min(r.sent_at_s for r in records)
    capacities = {(r.get("target") or {}).get("capacity") for r in reports}
    capacity = capacities.pop() if len(capacities) == 1 else None
    verdict = judge_burst(records, wall_s, capacity)
    return {
        "verdict": verdict.verdict,
        "expected": verdict.expected,
        "served_at_once": verdict.served_at_once,
        "effective_concurrency": verdict.effective_concurrency,
        "service_s": verdict.service_s,
        "as_expected": verdict.as_expected,
    }


def merged_steps(
    reports: Sequence[Report], together: bool, notes: list[str], windows: model.Windows | None
) -> model.Steps | None:
    """One sweep table. Sweeps run together (the nodes' shares of one sweep) merge step by step, in order:
    their levels, counts and rates add up. Sweeps one after another merge level by level: counts pooled, the
    rate over their summed time. A step's latency ladder is kept when one run alone fills it. A report keeps
    no histogram per step, so for sweeps run together it is drawn again, with a note, from the merged
    `windows` that the step's time covers, when they hold the step's successful responses give or take
    WINDOWS_SLACK (a window counts a response in the second its batch was taken, which near a step's change
    may be the next step's); else it is None, and so is the knee, with a note."""
    sweeps = [(r["steps"], r) for r in reports if r.get("steps")]
    if not sweeps:
        return None
    groups: dict[float, list[Mapping[str, Any]]] = {}
    for sweep, _ in sweeps:
        for position, row in enumerate(sweep["table"]):
            groups.setdefault(position if together else float(row["level"]), []).append(row)
    table: list[model.StepRow] = []
    lost, drawn = [], []
    step_start_s = 0.0
    for position, (_, rows) in enumerate(sorted(groups.items())):
        ok, failed = sum(r["ok"] for r in rows), sum(r["failed"] for r in rows)
        durations = [float(r.get("duration_s", 0.0)) for r in rows]
        duration = max(durations) if together else sum(durations)
        level = sum(r["level"] for r in rows) if together else rows[0]["level"]
        rps = sum(r["rps"] for r in rows) if together else (ok / duration if duration else 0.0)
        ladder = rows[0]["latency_ms"] if len(rows) == 1 else None
        if len(rows) > 1 and together:
            end_s = step_start_s + duration if position < len(groups) - 1 else math.inf  # the last: to the end
            ladder = _windows_ladder(windows, step_start_s, end_s, ok)
            drawn += [level] if ladder is not None else []
        if len(rows) > 1 and ladder is None:
            lost.append(level)
        step_start_s += duration
        table.append(
            {
                "level": level,
                "duration_s": round(duration, 3),
                "ok": ok,
                "failed": failed,
                "rps": round(rps, 3),
                "error_rate": round(failed / (ok + failed), 6) if ok + failed else 0.0,
                "latency_ms": ladder,
            }
        )
    first = sweeps[0][0]
    knee = None
    if drawn:
        notes.append(
            f"steps: the latency of level(s) {', '.join(f'{level:g}' for level in drawn)} is drawn from the latency "
            f"windows each step's time covers, within {WINDOWS_SLACK:.0%} of its responses (a report keeps no "
            "histogram per step)"
        )
    if lost:
        notes.append(
            f"steps: the latency of level(s) {', '.join(f'{level:g}' for level in lost)} is not merged (a report "
            "keeps no histogram per step, and the latency windows do not cover the step exactly), so the knee "
            "is not found again; each run's own report has both"
        )
    else:
        step_rows = [
            StepRow(
                row["level"],
                row["duration_s"],
                row["ok"],
                row["failed"],
                row["rps"],
                {_PERCENTILE_OF[k]: v for k, v in _ladder(row["latency_ms"]).items() if k in _PERCENTILE_OF},
                row["error_rate"],
            )
            for row in table
        ]
        knee = find_knee(step_rows, first["percentile"], first["threshold_ms"], first["error_limit"])
    return {
        "over": first["over"],
        "percentile": first["percentile"],
        "threshold_ms": first["threshold_ms"],
        "error_limit": first["error_limit"],
        "table": table,
        "knee": knee,
    }


def _windows_ladder(windows: model.Windows | None, start_s: float, end_s: float, ok: int) -> model.Ladder | None:
    """The latency ladder of the windows that start in [start_s, end_s) on the merged clock, when they hold the
    step's `ok` successful responses give or take WINDOWS_SLACK (at least one); None otherwise."""
    histogram = new_histogram()
    first, last = round(start_s), end_s if math.isinf(end_s) else round(end_s)
    for row in windows["rows"] if windows else []:
        if first <= row["start_s"] < last and "ok" in row:
            histogram.add(decode(row["ok"]))
    if not ok or abs(histogram.get_total_count() - ok) > max(1, WINDOWS_SLACK * ok):
        return None
    return latency_block(percentiles_ms(histogram))


def _ladder(block: model.Ladder | None) -> Mapping[str, float]:
    return cast(Mapping[str, float], block or {})


def merged_rate(reports: Sequence[Report], together: bool) -> model.Rate | None:
    """Open-loop runs' rate block: offered and sent rates summed when the runs sent together, else over their
    summed sending time; clients summed (together) or the most any run had; intended and not-sent summed."""
    blocks = [r["rate"] for r in reports if r.get("rate")]
    if not blocks:
        return None
    sending = [float(b["sending_s"]) for b in blocks]
    offered = [b.get("offered_per_s") for b in blocks]
    clients = [b.get("clients") for b in blocks]
    sent = sum(b["sent_per_s"] * s for b, s in zip(blocks, sending, strict=True))
    total_s = sum(sending)
    if together:
        offered_per_s = None if None in offered else sum(offered)
        sent_per_s = sum(b["sent_per_s"] for b in blocks)
        sending_s = max(sending)
        clients_n = None if None in clients else sum(clients)
    else:
        known = [(o, s) for o, s in zip(offered, sending, strict=True) if o is not None]
        offered_per_s = (
            sum(o * s for o, s in known) / total_s if known and len(known) == len(blocks) and total_s else None
        )
        sent_per_s = sent / total_s if total_s else 0.0
        sending_s = total_s
        clients_n = max((c for c in clients if c is not None), default=None)
    return {
        "offered_per_s": None if offered_per_s is None else round(offered_per_s, 3),
        "sent_per_s": round(sent_per_s, 3),
        "sending_s": round(sending_s, 3),
        "clients": clients_n,
        "intended": sum(b.get("intended", 0) for b in blocks),
        "not_sent": sum(b.get("not_sent", 0) for b in blocks),
    }


def merged_received(reports: Sequence[Report]) -> model.Received | None:
    """Bodies and bytes summed, their mean again, the largest body of any run."""
    blocks = [r["received"] for r in reports if r.get("received")]
    if not blocks:
        return None
    size, bodies = int(_summed(reports, "received", "bytes")), int(_summed(reports, "received", "bodies"))
    return {
        "bytes": size,
        "bodies": bodies,
        "mean_bytes": round(size / bodies, 1) if bodies else None,
        "max_bytes": max((int(b["max_bytes"]) for b in blocks if b.get("max_bytes") is not None), default=0),
    }


def merged_generator(reports: Sequence[Report], sources: Sequence[str]) -> model.Generator | None:
    """The busiest run's figures (each run had its own generator, maybe its own machine, so lag, drift and CPU
    do not add up), valid only when every run's was, each reason and note named by its run."""
    pairs = [(r["generator"], source) for r, source in zip(reports, sources, strict=True) if r.get("generator")]
    if not pairs:
        return None
    generators = [g for g, _ in pairs]

    def worst(key: str) -> Any:
        values = [g[key] for g in generators if g.get(key) is not None]
        return max(values) if values else None

    invalid = [source for g, source in pairs if not g.get("valid", True)]
    reasons = [f"{source}: {reason}" for g, source in pairs for reason in g.get("reasons", [])]
    reasons += [f"{source} could not keep up" for g, source in pairs if source in invalid and not g.get("reasons")]
    cpus = {g.get("machine_cpus") for g in generators}
    errors = [g["header_refresh_error"] for g in generators if g.get("header_refresh_error")]
    return {
        "loop_lag_p99_ms": worst("loop_lag_p99_ms"),
        "loop_lag_max_ms": worst("loop_lag_max_ms"),
        "drift_p99_ms": worst("drift_p99_ms"),
        "cpu_share": worst("cpu_share") or 0.0,
        "send_rate_share": worst("send_rate_share"),
        "valid": not invalid,
        "reasons": reasons,
        "notes": [f"{source}: {note}" for g, source in pairs for note in g.get("notes", [])],
        "remedy": next((g["remedy"] for g in generators if g.get("remedy")), None),
        "process_cpu": [share for g in generators for share in g.get("process_cpu", [])],
        "machine_busy": worst("machine_busy"),
        "machine_cpus": cpus.pop() if len(cpus) == 1 else None,
        "header_refreshes": sum(int(g.get("header_refreshes", 0)) for g in generators),
        "header_refresh_failures": sum(int(g.get("header_refresh_failures", 0)) for g in generators),
        "header_refresh_error": errors[-1] if errors else None,
        "workers": sum(int(g.get("workers", 1)) for g in generators),
    }
