"""The one merge of reports: `moetui merge`, and a run over several nodes (moetui.nodes). Every block of a run's
report survives it (moetui.report.merge_blocks says how each merges), or the merged report's `notes` say
why it cannot.

A merge means something only for runs that overlapped in time (the nodes of one run: histograms added,
counts and throughput summed, rows on one wall clock) or, asked for with `sequential`, runs that followed
one another (percentiles pooled, throughput over their summed time, never summed). Anything else is refused.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, cast

from hdrh.histogram import HdrHistogram

from moetui import __version__
from moetui.config.schema import Thresholds
from moetui.engine.histogram import decode, encode, new_histogram, percentiles_ms
from moetui.errors import ConfigError
from moetui.report.json_report import latency_block, model_split
from moetui.report.judge import judge
from moetui.report.merge_blocks import (
    merged_burst,
    merged_generator,
    merged_rate,
    merged_received,
    merged_request_log,
    merged_seconds,
    merged_steps,
    merged_windows,
    started_s,
    wall_clock_offsets,
)
from moetui.report.model import REPORT_HISTOGRAMS, SCHEMA, Ladder, NodeRow, Report, Requests
from moetui.report.streaming import merge_streaming

__all__ = ["SEQUENTIAL", "TOGETHER", "check_timing", "merge_reports", "merged_seconds"]

#: The merged report's `merged_as`: runs that overlapped in time, or runs one after another.
TOGETHER = "overlapping"
SEQUENTIAL = "sequential"
_COUNTS = ("sent", "completed", "ok", "failed", "warmup", "late", "not_sent", "in_flight_at_end", "out_of_range")
#: Blocks each run measured over its own window, that no sum or maximum describes: each run's file keeps its own.
_OWN_WINDOW = {
    "server_metrics": "Azure Monitor's metrics cover each run's own window",
    "local_processes": "the local endpoint's processes were sampled over each run's own window",
}
#: Keys a report may carry that the merge does not carry over as they are, with why.
_NOT_CARRIED = {
    "thresholds": "judged again on the merged figures",
    "passed": "judged again on the merged figures",
    "valid": "judged again on the merged figures",
    "exit_status": "judged again on the merged figures",
    "node": "each node's block is in `nodes`",
    "merged_from": "in `merged_from`",
    "merged_modes": "in `merged_modes`",
    "merged_as": "in `merged_as`",
    "notes": "each run's notes are kept, named by their run",
    "start_spread_s": "in `start_spread_s`",
    "start_spread_bound_s": "the launcher's",
}


def check_timing(reports: Sequence[Mapping[str, Any]], sources: Sequence[str], *, sequential: bool) -> None:
    """Refuse a merge the runs' times do not allow: without `sequential` the runs must have overlapped in time
    (one moment when all were running, from started_at and wall_s); with it, none may overlap another.

    Raises:
        ConfigError: Naming each file with its start and end.
    """
    spans = sorted(
        (started_s(report), started_s(report) + float(report["wall_s"]), source)
        for report, source in zip(reports, sources, strict=True)
    )
    together = max(s[0] for s in spans) < min(s[1] for s in spans) or len({s[0] for s in spans}) == 1
    one_after_another = all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    runs = "; ".join(f"{source} from {_clock(start)} to {_clock(end)}" for start, end, source in spans)
    if sequential and not one_after_another:
        raise ConfigError(
            f"--sequential: the runs overlapped in time ({runs}): they loaded the endpoint together, so their "
            "throughput adds up; allowed: merge runs that overlapped without --sequential, and only runs that "
            "followed one another with it"
        )
    if not sequential and not together:
        how = "never all ran at once" if one_after_another else "neither all ran at once nor followed one another"
        raise ConfigError(
            f"the runs {how} ({runs}): summing their throughput would describe a load nobody sent; allowed: "
            "runs that overlapped in time (the nodes of one run), or --sequential for runs one after another "
            "(percentiles pooled, throughput not summed)"
            + ("" if one_after_another else "; merge the overlapping ones first")
        )


def _clock(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def merge_reports(
    reports: Sequence[Mapping[str, Any]],
    sources: Sequence[str],
    *,
    mixed: bool = False,
    sequential: bool = False,
    thresholds: Thresholds | None = None,
) -> Report:
    """One report from several runs (check_timing first): histograms added exactly, counts summed, rates summed
    for runs that overlapped and over the summed time for `sequential` ones, every block merged or noted.

    Args:
        reports: The reports, as moetui.report.codec.read_report returns them.
        sources: Where each came from (its file, or "node 1"), for the messages, notes and `merged_from`.
        mixed: Merge runs of different load modes too. An open run's corrected latencies and a closed run's
            measured ones are not like with like, so by default they are refused.
        sequential: The runs followed one another (see check_timing).
        thresholds: What the merged report is judged against (moetui.report.judge, the judge of one run):
            the launcher's configuration for a multi-node run; by default the runs' own, when they share one.

    Raises:
        ConfigError: The runs are of different modes and `mixed` is False, or their times do not allow the
            merge (check_timing); the message names each file.
    """
    _check_modes(reports, sources, mixed)
    check_timing(reports, sources, sequential=sequential)
    together = not sequential
    notes: list[str] = [
        f"{source}: {note}" for r, source in zip(reports, sources, strict=True) for note in r.get("notes", [])
    ]
    _note_own_windows(reports, notes)
    histograms = _added_histograms(reports)
    requests = _added_requests(reports)
    total = requests["ok"] + requests["failed"]
    meanings: dict[str, str] = {}
    for report in reports:
        meanings.update(report.get("meanings", {}))
    starts = [started_s(r) for r in reports]
    walls = [float(r["wall_s"]) for r in reports]
    measured = [float(r.get("measured_s", r["wall_s"])) for r in reports]
    offsets = wall_clock_offsets(reports) if together else _one_after_another(reports, starts, walls)
    windows = merged_windows(reports, offsets, notes, sources)
    request_log = merged_request_log(reports, starts if together else [float(o) for o in offsets])
    ok_per_s = (
        sum(r["throughput_rps"] for r in reports)
        if together
        else (requests["ok"] / sum(measured) if sum(measured) else 0.0)
    )
    merged: Report = {
        "schema": SCHEMA,
        "tool": {"name": "moetui", "version": __version__},
        "merged_from": list(sources),
        "merged_as": TOGETHER if together else SEQUENTIAL,
        "started_at": min(r["started_at"] for r in reports),
        "wall_s": round(max(s + w for s, w in zip(starts, walls, strict=True)) - min(starts), 3)
        if together
        else round(sum(walls), 3),
        "measured_s": round(max(measured) if together else sum(measured), 3),
        "interrupted": any(bool(r.get("interrupted")) for r in reports),
        "mode": reports[0]["mode"] if len({r["mode"] for r in reports}) == 1 else "mixed",
        "merged_modes": [r["mode"] for r in reports],
        "config": _same(reports, sources, "config", notes),
        "target": _same(reports, sources, "target", notes),
        "request_timeout_s": _same(reports, sources, "request_timeout_s", notes),
        "requests": requests,
        "meanings": meanings,
        "error_rate": round(requests["failed"] / total, 6) if total else 0.0,
        "throughput_rps": round(ok_per_s, 3),
        "received": merged_received(reports),
        "rate": merged_rate(reports, together),
        "latency_ms": _counted(histograms, "ok", _mean_ms(reports, requests["ok"])),
        "corrected_latency_ms": _counted(histograms, "ok_corrected"),
        "failed_latency_ms": _counted(histograms, "failed"),
        "model_latency_ms": _counted(histograms, "model"),
        "outside_model_latency_ms": _counted(histograms, "outside"),
        "model_split": model_split(
            requests["ok"], int(histograms["model"].get_total_count()) if "model" in histograms else 0
        ),
        "streaming": merge_streaming(reports, histograms, together=together),
        "burst": merged_burst(reports, request_log, together, notes),
        "steps": merged_steps(reports, together, notes, windows),
        "per_second": merged_seconds(reports, offsets),
        "request_log": request_log,
        "generator": merged_generator(reports, sources),
        "server_metrics": None,  # each run's own window (_OWN_WINDOW)
        "local_processes": None,
        # Placed here as in one run's report; the judge fills them in below.
        "thresholds": [],
        "passed": True,
        "valid": True,
        "exit_status": 0,
        "histograms": {name: encode(h) for name, h in histograms.items()},
        "windows": windows,
    }
    if all(r.get("node") for r in reports):
        merged["nodes"] = _nodes(reports, starts)
        merged["start_spread_s"] = round(max(starts) - min(starts), 6)
        if merged["generator"] is not None:
            merged["generator"]["nodes"] = len(reports)
    # The one judge (moetui.report.judge), as for one run: thresholds, passed, valid, exit_status.
    limits = thresholds if thresholds is not None else shared_thresholds(merged["config"], notes)
    judge(merged, limits).write_into(merged)
    _note_unknown(reports, merged, notes)
    merged["notes"] = notes
    return merged


def shared_thresholds(config: Mapping[str, Any] | None, notes: list[str]) -> Thresholds:
    """The [thresholds] of the runs' shared configuration (as their reports show it); moetui's defaults, with
    a note, when they share none. A limit that is not a number (a report edited by hand) is left out, noted."""
    if config is None or not isinstance(config.get("thresholds", {}), Mapping):
        notes.append("thresholds: the runs share no configuration; judged against moetui's defaults only")
        return Thresholds()
    names = {field.name for field in fields(Thresholds)}
    limits, dropped = {}, []
    for name, value in config.get("thresholds", {}).items():
        number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if name in names and number:
            limits[name] = value
        else:
            dropped.append(name)
    if dropped:
        unknown = ", ".join(map(str, dropped))
        notes.append(f"thresholds: {unknown} not judged (not a threshold moetui knows, or not a number)")
    return Thresholds(**limits)


def _added_histograms(reports: Sequence[Mapping[str, Any]]) -> dict[str, HdrHistogram]:
    """Each histogram of the reports added exactly (the empty ones left out)."""
    histograms = {}
    for name in REPORT_HISTOGRAMS:
        added = new_histogram()
        for report in reports:
            if name in report.get("histograms", {}):
                added.add(decode(report["histograms"][name]))
        if added.get_total_count():
            histograms[name] = added
    return histograms


def _mean_ms(reports: Sequence[Mapping[str, Any]], ok: int) -> float | None:
    """The mean latency of all successful responses, from each run's mean and count."""
    means = [(r["requests"]["ok"], (r.get("latency_ms") or {}).get("mean")) for r in reports]
    known = [(n, m) for n, m in means if m is not None]
    return sum(n * m for n, m in known) / ok if ok and known else None


def _added_requests(reports: Sequence[Mapping[str, Any]]) -> Requests:
    """The `requests` block: every count summed, statuses and errors by name."""
    requests: dict[str, Any] = {key: sum(r["requests"].get(key, 0) for r in reports) for key in _COUNTS}
    for key in ("by_status", "by_error"):
        counts: dict[str, int] = {}
        for report in reports:
            for name, count in report["requests"].get(key, {}).items():
                counts[name] = counts.get(name, 0) + count
        requests[key] = dict(sorted(counts.items()))
    return cast(Requests, requests)


def _check_modes(reports: Sequence[Mapping[str, Any]], sources: Sequence[str], mixed: bool) -> None:
    modes = {str(report.get("mode")) for report in reports}
    if len(modes) > 1 and not mixed:
        runs = ", ".join(f"{source} ({report.get('mode')})" for source, report in zip(sources, reports, strict=True))
        raise ConfigError(
            f"the reports are of different load modes: {runs}. An open run's latencies are corrected for "
            "coordinated omission and a closed run's are not, so their percentiles do not add up; allowed: "
            "reports of one mode, or --mixed to merge them anyway (each latency row then names the requests "
            "it covers)."
        )


def _counted(histograms: Mapping[str, HdrHistogram], name: str, mean_ms: float | None = None) -> Ladder | None:
    """The latency block of one of the merged histograms, with its count; None when it is empty."""
    histogram = histograms.get(name)
    if histogram is None or not histogram.get_total_count():
        return None
    return latency_block(percentiles_ms(histogram), mean_ms, int(histogram.get_total_count()))


def _one_after_another(
    reports: Sequence[Mapping[str, Any]], starts: Sequence[float], walls: Sequence[float]
) -> list[int]:
    """Sequential runs' offsets on one clock with no gap: each starts where the previous one ended (whole
    seconds, on the grid of the longest latency window so that windows stay whole)."""
    grid = math.lcm(*(max(1, int(r["windows"]["seconds"])) for r in reports if r.get("windows")), 1)
    offsets = [0] * len(reports)
    at = 0
    for index in sorted(range(len(reports)), key=lambda i: starts[i]):
        offsets[index] = at
        at = math.ceil((at + walls[index]) / grid) * grid
    return offsets


def _same(reports: Sequence[Mapping[str, Any]], sources: Sequence[str], key: str, notes: list[str]) -> Any:
    """A block the runs share (their configuration, target, timeout): kept when every run has the same."""
    values = [r.get(key) for r in reports]
    if all(value == values[0] for value in values):
        return values[0]
    notes.append(f"{key}: differs between {', '.join(sources)}; not kept (each run's own report has it)")
    return None


def _note_own_windows(reports: Sequence[Mapping[str, Any]], notes: list[str]) -> None:
    """The blocks each run measured over its own window are not merged: said when a run had one."""
    for key, why in _OWN_WINDOW.items():
        if any(r.get(key) for r in reports):
            notes.append(f"{key}: {why}, so they are not added up (each run's own report has them)")


def _nodes(reports: Sequence[Mapping[str, Any]], starts: Sequence[float]) -> list[NodeRow]:
    """The nodes of one run (each report's `node` block): who each was, when it started, what it did."""
    return [
        cast(
            NodeRow,
            {
                **r["node"],
                "started_at": r["started_at"],
                "start_offset_s": round(start - min(starts), 6),
                "ok": r["requests"]["ok"],
                "failed": r["requests"]["failed"],
                "throughput_rps": r["throughput_rps"],
                "valid": bool(r.get("valid", True)),
                "reasons": list((r.get("generator") or {}).get("reasons", [])),
                "interrupted": bool(r.get("interrupted")),
            },
        )
        for r, start in zip(reports, starts, strict=True)
    ]


def _note_unknown(reports: Sequence[Mapping[str, Any]], merged: Mapping[str, Any], notes: list[str]) -> None:
    """A block some run has that the merge neither made nor knows why not: said, never dropped in silence."""
    unknown = sorted({key for r in reports for key in r if key not in merged and key not in _NOT_CARRIED})
    notes.extend(f"{key}: not merged (the merge has no rule for it; each run's own report has it)" for key in unknown)
