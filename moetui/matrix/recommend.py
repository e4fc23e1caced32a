"""The answer of a matrix: each cell's figures over its rounds (goodput or the fixed load's throughput,
p50/p99, errors, cost per hour and per 1,000 inferences), the recommendation (the cheapest cell that meets
the SLO, its runner-up and the margin), the text table and a cost-latency chart with the Pareto front.
No textual, rich or azure."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from moetui.local_endpoint.usage import LOW_CPU_SHARE
from moetui.matrix.prices import cost_per_1000
from moetui.matrix.skus import ENDPOINT_MAX_RPS

#: A cell whose error rate is over this gets no cost per 1,000 inferences (most of what it cost bought errors).
MOSTLY_FAILED = 0.5
#: run()'s share of the median request above which a cell with idle servers is said to wait, not compute.
WAITING_IN_MODEL = 0.5


def cell_summary(cell: dict[str, Any], search: str) -> dict[str, Any]:
    """Fill in a cell's figures from its measurements (one per round), in place; returns it."""
    rows = cell["measurements"]
    rates = [m["rate_rps"] for m in rows]
    rate = statistics.median(rates) if rates else 0.0
    cell["rate_rps"] = round(rate, 3)
    cell["rate_is"] = "goodput" if search == "goodput" else "throughput"
    cell["spread"] = (
        {"min": min(rates), "max": max(rates), "relative": round((max(rates) - min(rates)) / rate, 3) if rate else None}
        if len(rates) > 1
        else None
    )
    cell["meets_slo"] = bool(rows) and all(m["meets_slo"] for m in rows)
    cell["p50_ms"] = _median([m.get("p50_ms") for m in rows])
    cell["p99_ms"] = _median([m.get("p99_ms") for m in rows])
    cell["error_rate"] = _median([m.get("error_rate") for m in rows])
    mostly_failed = (cell["error_rate"] or 0) > MOSTLY_FAILED
    # A price per 1,000 inferences beside 99.8 % errors would read as the cost of a working deployment.
    cell["cost_per_1000"] = None if mostly_failed else _round(cost_per_1000(cell.get("cost_per_hour"), rate))
    shares = [(m.get("utilisation") or {}).get("server_cpu_share") for m in rows]  # None: no server metrics
    share = _median(shares)
    cell["server_cpu_share"] = share
    cell["note"] = _note(cell, share, _median([_in_model_share(m.get("report")) for m in rows]))
    failed = next((m["failed"] for m in rows if m.get("failed")), None)
    if failed:
        cell["note"] = f"its deployment failed, nothing measured: {failed.splitlines()[0]}"
    elif any(m.get("at_endpoint_limit") for m in rows):
        cell["rate_is"] = "at the endpoint limit"
        cell["note"] = (
            f"at the endpoint limit: it met the SLO at {ENDPOINT_MAX_RPS} req/s, what a managed online endpoint "
            "takes across its deployments; its own goodput is higher and was not measured"
        )
    return cell


def _note(cell: Mapping[str, Any], cpu_share: float | None, in_model: float | None) -> str | None:
    """What the cell's figures do not say by themselves: no cost for a cell that mostly failed; low server CPU
    as an instance type bigger than needed, unless run() took most of each request while the CPU idled (the
    scorer waits, as the sleep scorer does, rather than computes: the CPU then says nothing of the size)."""
    if (cell["error_rate"] or 0) > MOSTLY_FAILED:
        return f"no cost per 1,000 inferences: {cell['error_rate']:.1%} of its requests failed"
    if cpu_share is None or cpu_share >= LOW_CPU_SHARE or not cell["meets_slo"]:
        return None
    if in_model is not None and in_model >= WAITING_IN_MODEL:
        return (
            f"servers at {cpu_share:.0%} CPU while run() took {in_model:.0%} of each request: the scorer waits "
            "(a sleep, I/O) rather than computes, so the CPU does not tell which instance type a real model needs"
        )
    return f"servers at {cpu_share:.0%} CPU at the {cell['rate_is']}: the instance type is bigger than the load needs"


def _in_model_share(report: Mapping[str, Any] | None) -> float | None:
    """The median request's share of its time inside run() (x-ms-run-fn-exec-ms), when the server said."""
    model = (report or {}).get("model_latency_ms") or {}
    latency = (report or {}).get("latency_ms") or {}
    if not model.get("p50") or not latency.get("p50"):
        return None
    return min(1.0, float(model["p50"]) / float(latency["p50"]))


def recommend(cells: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The cheapest cell per 1,000 inferences among those meeting the SLO, the runner-up and the margin;
    without any price, the highest rate per instance (and it says so)."""
    meeting = [c for c in cells if c["meets_slo"] and c["rate_rps"] > 0]
    if not meeting:
        return {"cell": None, "why": "no cell meets the SLO"}
    priced = [c for c in meeting if c.get("cost_per_1000") is not None]
    if priced:
        ranked = sorted(priced, key=lambda c: (c["cost_per_1000"], -c["rate_rps"]))
        basis, value = "cost per 1,000 inferences", "cost_per_1000"
    else:
        ranked = sorted(meeting, key=lambda c: -c["rate_rps"] / max(1, c.get("instance_count") or 1))
        basis, value = "rate per instance (no prices)", "rate_rps"
    best = ranked[0]
    runner = ranked[1] if len(ranked) > 1 else None
    margin = None
    if runner is not None and best[value]:
        margin = round(abs(runner[value] - best[value]) / best[value], 4)
    unpriced = [c["name"] for c in meeting if c.get("cost_per_1000") is None] if priced else []
    return {
        "cell": best["name"],
        "basis": basis,
        "value": best[value],
        "runner_up": runner["name"] if runner else None,
        "runner_up_value": runner[value] if runner else None,
        "margin": margin,
        "unpriced_cells_left_out": unpriced,
    }


def format_table(cells: Sequence[Mapping[str, Any]], search: str) -> str:
    rate_head = "goodput/s" if search == "goodput" else "ok/s"
    head = ["cell", "settings", rate_head, "p50 ms", "p99 ms", "errors", "$/h", "$/1k inf", "SLO"]
    rows = [head]
    for c in cells:
        spread = f" ±{c['spread']['relative'] / 2:.0%}" if c.get("spread") and c["spread"]["relative"] else ""
        rows.append(
            [
                c["name"],
                c["describe"],
                f"{c['rate_rps']:.2f}{spread}",
                _fmt(c.get("p50_ms")),
                _fmt(c.get("p99_ms")),
                f"{c['error_rate']:.2%}" if c.get("error_rate") is not None else "-",
                f"{c['cost_per_hour']:.3f}" if c.get("cost_per_hour") is not None else "no price",
                f"{c['cost_per_1000']:.4f}" if c.get("cost_per_1000") is not None else "-",
                "met" if c["meets_slo"] else "missed",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_recommendation(rec: Mapping[str, Any]) -> str:
    if rec.get("cell") is None:
        return f"Recommendation: none: {rec.get('why')}."
    money = rec["basis"].startswith("cost")
    shown = f"{rec['value']:.4f} per 1,000 inferences" if money else f"{rec['value']:.2f} req/s per instance"
    line = f"Recommendation: {rec['cell']} ({shown}, by {rec['basis']})"
    if rec.get("runner_up"):
        line += f"; runner-up {rec['runner_up']}, {rec['margin']:.0%} {'dearer' if money else 'lower'}"
    if rec.get("unpriced_cells_left_out"):
        line += f"; without a price, left out: {', '.join(rec['unpriced_cells_left_out'])}"
    return line + "."


def pareto(cells: Sequence[Mapping[str, Any]]) -> set[str]:
    """Cells no other cell beats on both cost per 1,000 and p99 (lower is better on both)."""
    points = [
        (c["name"], c["cost_per_1000"], c["p99_ms"])
        for c in cells
        if c.get("cost_per_1000") is not None and c.get("p99_ms") is not None
    ]
    front = set()
    for name, cost, p99 in points:
        if not any((o_cost <= cost and o_p99 <= p99) and (o_cost < cost or o_p99 < p99) for _, o_cost, o_p99 in points):
            front.add(name)
    return front


def format_chart(cells: Sequence[Mapping[str, Any]], width: int = 50, height: int = 10) -> str:
    """Cost per 1,000 inferences (across) against p99 ms (up); `*` marks the Pareto front, `o` the rest."""
    points = [
        (c["name"], c["cost_per_1000"], c["p99_ms"])
        for c in cells
        if c.get("cost_per_1000") is not None and c.get("p99_ms") is not None
    ]
    if not points:
        return "(no chart: it needs prices and latencies)"
    front = pareto(cells)
    xs, ys = [p[1] for p in points], [p[2] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    grid = [[" "] * width for _ in range(height)]
    labels = []
    for index, (name, x, y) in enumerate(points):
        col = int((x - x0) / (x1 - x0) * (width - 1)) if x1 > x0 else width // 2
        row = height - 1 - (int((y - y0) / (y1 - y0) * (height - 1)) if y1 > y0 else height // 2)
        mark = chr(ord("A") + index % 26)
        grid[row][col] = mark
        labels.append(f"{mark} {'*' if name in front else 'o'} {name}")
    lines = [f"p99 ms {y1:>8.1f} |" + "".join(grid[0])]
    lines += ["                |" + "".join(r) for r in grid[1:-1]]
    lines += [f"       {y0:>8.1f} |" + "".join(grid[-1])]
    lines += ["                +" + "-" * width]
    lines += [f"                 {x0:<.4f}{'cost per 1,000 inferences'.center(width - 16)}{x1:.4f}"]
    lines += ["  " + "   ".join(labels) + "   (* Pareto front: no cell cheaper and faster)"]
    return "\n".join(lines)


def _median(values: Sequence[Any]) -> float | None:
    numbers = [v for v in values if v is not None]
    return round(statistics.median(numbers), 3) if numbers else None


def _round(value: float | None) -> float | None:
    return round(value, 6) if value is not None else None


def _fmt(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "-"
