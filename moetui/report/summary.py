"""The text summary of a report, as the headless runner prints it at the end of a run."""

from __future__ import annotations

from moetui.engine.histogram import REPORT_PERCENTILES, report_key
from moetui.engine.saturation import cpu_text
from moetui.redact import printable, shown_url
from moetui.report.distribution import format_histogram, latency_buckets, latency_text
from moetui.report.model import (
    STREAM_EXEC_NOTE,
    Generator,
    Ladder,
    LocalProcesses,
    Report,
    ServerMetrics,
    ladder_values,
    latency_ladders,
    model_time_label,
)
from moetui.report.serving import serving_lines
from moetui.report.stages import stages_lines
from moetui.report.statuses import key_refused
from moetui.report.streaming import streaming_lines
from moetui.report.verdict import abandoned_words, thresholds_judged

_LADDER = (*(report_key(p) for p in REPORT_PERCENTILES), "mean")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def exact_max_ms(report: Report) -> float | None:
    """A burst's slowest successful request as the recorder timed it (it keeps every request of a burst),
    where the histogram's max is the top of its bucket; None for other runs or an incomplete log."""
    if report.get("mode") != "burst":
        return None
    ok = [r["elapsed_s"] for r in report.get("request_log") or [] if r.get("status") == 200]
    block = report.get("latency_ms")
    if not ok or not block or block.get("count") != len(ok):
        return None
    return max(ok) * 1000


def _ms_with_unit(value: float | None) -> str:
    """A figure in ms, or a dash without a unit when there is none (e.g. no sends to drift)."""
    return "—" if value is None else f"{value:,.2f} ms"


def _count(n: int, one: str, many: str | None = None) -> str:
    """'1 process', '2 processes'."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def generator_cpu(generator: Generator) -> str:
    """The generator's CPU, each process plainly, and the machine's when known: 'CPU 52% + 51% of a core
    (2 processes); machine 98% busy (2 CPUs)'. Reports from before per-process figures give the sum."""
    shares = generator.get("process_cpu")
    if shares:
        text = f"CPU {cpu_text(shares)} ({_count(len(shares), 'process', 'processes')})"
    else:
        workers = generator.get("workers", 1)
        text = f"CPU {generator.get('cpu_share', 0):.0%} in all, {_count(workers, 'process', 'processes')}"
    if generator.get("machine_busy") is not None:
        text += f"; machine {generator['machine_busy']:.0%} busy ({generator.get('machine_cpus')} CPUs)"
    return text


def capped_values(block: Ladder, exact_max: float | None) -> dict[str, float]:
    """A ladder's figures, none above `exact_max` (exact_max_ms): no request took longer, so a percentile's
    bucket top above it is no one's time. The mean is exact already."""
    values = ladder_values(block)
    if exact_max is None:
        return values
    return {key: min(value, exact_max) if key != "mean" else value for key, value in values.items()}


def _ladder(label: str, block: Ladder | None, exact_max: float | None = None) -> str:
    """One row of percentiles, its label naming how many requests it covers (a merged report's corrected
    row may cover only its open runs' requests); reports written before `count` keep the short label.
    `exact_max`: the slowest request's own time (exact_max_ms), which caps the figures read from buckets."""
    if not block:
        return f"  {label:<12} -"
    count = block.get("count")
    if count is not None:
        label = f"{label:<9} ({count:,} requests)"
    width = 28 if count is not None else 12
    values = capped_values(block, exact_max)
    return f"  {label:<{width}} " + "  ".join(
        f"{key.replace('_', '.')} {latency_text(values[key])}" for key in _LADDER if key in values
    )


def _model_split(report: Report) -> list[str]:
    """Client latency split into time inside the scorer's run() and time outside it, when the server said."""
    ladders = latency_ladders(report)
    model, outside = ladders["model_latency_ms"], ladders["outside_model_latency_ms"]
    if not model:
        return []
    lines = [_ladder(model_time_label(report, short=True), model)]
    if report.get("streaming"):
        lines.append(f"  {'':<12} {STREAM_EXEC_NOTE}")
    if outside:
        lines.append(_ladder("outside", outside))
        lines.append(f"  {'':<12} outside the model: network, gateway, queue")
    split = report.get("model_split")
    if split and split.get("share") is not None:
        lines.append(
            f"  {'':<12} x-ms-run-fn-exec-ms on {split['with_exec_time']:,} of {split['ok']:,} ok responses "
            f"({split['share']:.0%})"
        )
    return lines


#: Short labels of Azure Monitor's metric names (moetui.azure.metrics), with their units.
_SERVER_LABELS = {
    "CpuUtilizationPercentage": "CPU %",
    "CpuMemoryUtilizationPercentage": "memory %",
    "GpuUtilizationPercentage": "GPU %",
    "GpuMemoryUtilizationPercentage": "GPU memory %",
    "GpuEnergyJoules": "GPU energy J",
    "RequestLatency_P50": "latency p50 ms",
    "RequestLatency_P90": "latency p90 ms",
    "RequestLatency_P95": "latency p95 ms",
    "RequestLatency_P99": "latency p99 ms",
    "RequestsPerMinute": "requests/min",
}


def local_processes_lines(block: LocalProcesses | None) -> list[str]:
    """The local endpoint's processes during the run: CPU (cores, mean and peak) and peak memory of the
    gateway and each inference server, and the servers' share of their CPUs (moetui.local_endpoint.usage)."""
    if not block:
        return []
    if block.get("error"):
        return [f"local endpoint processes: {block['error']}"]
    lines = [f"local endpoint processes (/proc, every {block.get('sample_s', 0.5):g} s)"]
    for role, usage in block.get("processes", {}).items():
        mean, peak = usage.get("cpu_cores_mean"), usage.get("cpu_cores_peak")
        memory = usage.get("rss_mb_peak", 0)
        lines.append(f"  {role:<10} CPU {_cores(mean)} mean, {_cores(peak)} peak; memory {memory:,.1f} MB peak")
    share = block.get("server_cpu_share")
    if share is not None:
        cpus = block.get("cpus_per_instance")
        lines.append(f"  inference servers used {share:.0%} of their {cpus} CPU{'s' if cpus != 1 else ''}")
    return lines


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} cores"


def server_metrics_lines(block: ServerMetrics | None) -> list[str]:
    """The server side's own metrics (Azure Monitor), each as its average and highest minute."""
    if not block:
        return []
    lines = [f"server metrics ({block.get('source', 'server')}, one-minute grain, {block.get('timespan', '')})"]
    for name, metric in block.get("metrics", {}).items():
        label = _SERVER_LABELS.get(name, name)
        lines.append(
            f"  {metric.get('scope', ''):<10} {label:<16} avg {_ms(metric.get('average'))}  "
            f"max {_ms(metric.get('maximum'))}  ({len(metric.get('points', []))} min)"
        )
    for other, metrics in block.get("other_deployments", {}).items():
        for name, metric in metrics.items():
            label = _SERVER_LABELS.get(name, name)
            lines.append(
                f"  other deployment {other}: {label} avg {_ms(metric.get('average'))}  "
                f"max {_ms(metric.get('maximum'))}"
            )
    capacity = block.get("capacity")
    if capacity and capacity.get("changes"):
        steps = ", ".join(f"{c['time'][11:16]} {c['instances']}" for c in capacity["changes"])
        lines.append(f"  instances    {capacity['minimum']} to {capacity['maximum']} over the window ({steps})")
    for source in block.get("sources", []):
        where = source.get("resource", "").rsplit("/providers/", 1)[-1]
        sieve = f", filter {source['filter']}" if source.get("filter") else ""
        lines.append(f"  from {source.get('scope', '')} {where}{sieve}: {', '.join(source.get('metrics', []))}")
    if not block.get("metrics") and not block.get("errors"):
        lines.append("  no data in the window yet (Azure Monitor ingests metrics a few minutes late)")
    lines.extend(f"  unavailable: {error}" for error in block.get("errors", []))
    return lines


def _rate(report: Report) -> list[str]:
    """Open mode: offered against achieved rate, and the sends the target could not take."""
    rate, not_sent = report.get("rate"), report["requests"].get("not_sent", 0)
    lines = []
    if rate:
        offered = "-" if rate.get("offered_per_s") is None else f"{rate['offered_per_s']:,.1f}/s"
        sent = f"sent {rate['sent_per_s']:,.1f}/s over {rate['sending_s']:.1f} s"
        lines.append(f"  rate         offered {offered}, {sent}")
    if not_sent:
        intended = report["requests"].get("sent", 0) + not_sent
        line = f"  not sent     {not_sent:,} of {intended:,} intended"
        if rate and rate.get("offered_per_s") and rate.get("clients"):
            line += f": the target could not take {rate['offered_per_s']:,.4g}/s at {rate['clients']:,} clients"
        lines.append(line)
    return lines


def _bytes(count: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= size:
            return f"{count / size:,.1f} {unit}"
    return f"{count:,.0f} B"


def stopped_by_budget(report: Report) -> int | None:
    """The request budget (load.requests) that ended a closed or open run before its duration, if one did."""
    budget = (report.get("config") or {}).get("load", {}).get("requests")
    if report.get("mode") in ("closed", "open") and budget and report["requests"].get("sent", 0) >= budget:
        return int(budget)
    return None


def format_summary(report: Report) -> str:
    """A plain-text table of a report: requests, throughput, percentiles, statuses, verdict, health, thresholds.
    Printable: a report's strings (notes, errors, names) lose any terminal escape sequence (redact.printable)."""
    return printable(_summary_text(report))


def _summary_text(report: Report) -> str:
    requests = report["requests"]
    meanings = report.get("meanings", {})
    lines = []
    target = report.get("target", {})
    title = f"moetui {report.get('mode', '')} run"
    if target:
        method = ((report.get("config") or {}).get("load") or {}).get("method", "")
        title += f" against {method + ' ' if method else ''}{shown_url(str(target.get('url')))}"
    if report.get("merged_from"):
        title = f"moetui merged report of {len(report['merged_from'])} runs"
        if report.get("mode") == "mixed":
            title += f" of mixed load modes ({', '.join(report.get('merged_modes', []))})"
        if report.get("merged_as") == "sequential":
            title += ", one after another (percentiles pooled, throughput over their summed time, not summed)"
    lines.append(title + (" (interrupted: partial result)" if report.get("interrupted") else ""))
    lines.extend(f"  note: {note}" for note in report.get("notes", []))
    lines.append(
        f"  requests     {requests['completed']:,} measured ({requests['ok']:,} ok, {requests['failed']:,} failed), "
        f"{requests.get('warmup', 0):,} warm-up, {requests.get('late', 0):,} late, "
        f"{requests.get('in_flight_at_end', 0):,} unanswered at the end"
    )
    abandoned = abandoned_words(report)
    if abandoned:
        lines.append(f"  stopped      {abandoned}")
    budget = stopped_by_budget(report)
    if budget:
        lines.append(f"  stopped by its request budget of {budget:,} (load.requests), before its duration")
    lines.append(
        f"  throughput   {report['throughput_rps']:,.1f} ok/s over {report.get('measured_s', report['wall_s']):.1f} s, "
        f"errors {report['error_rate']:.2%}"
    )
    lines.extend(_rate(report))
    received = report.get("received")
    if received and received.get("bodies"):
        lines.append(
            f"  received     {_bytes(received['bytes'])} in {received['bodies']:,} bodies "
            f"(mean {_bytes(received['mean_bytes'] or 0)}, max {_bytes(received['max_bytes'])} per response)"
        )
    lines.append("latency (successful responses)")
    lines.append(_ladder("measured", report.get("latency_ms"), exact_max_ms(report)))
    if report.get("corrected_latency_ms"):
        lines.append(_ladder("corrected", report["corrected_latency_ms"]))
    lines.extend(_model_split(report))
    if report.get("failed_latency_ms"):
        lines.append(_ladder("failed", report["failed_latency_ms"]))
    distribution = format_histogram(latency_buckets(report))
    if distribution:
        lines.append("latency histogram (successful responses: bucket upper bound [count])")
        lines.extend(distribution)
    lines.extend(streaming_lines(report))
    outcomes = [f"{code} x{count:,} ({meanings.get(code, '')})" for code, count in requests["by_status"].items()]
    outcomes += [f"{kind} x{count:,} ({meanings.get(kind, '')})" for kind, count in requests["by_error"].items()]
    if outcomes:
        lines.append("responses")
        lines.extend(f"  {outcome}" for outcome in outcomes)
    refused = key_refused(requests["ok"], requests["by_status"])
    if refused:
        lines.append(f"  {refused}")
    lines.extend(serving_lines(report.get("serving")))
    lines.extend(stages_lines(report.get("stages")))
    burst = report.get("burst")
    if burst:
        lines.append(
            f"burst: served at once {burst['served_at_once']:.2f} of {requests['sent']} "
            f"(expected {burst['expected']}) -> "
            f"{burst['verdict']}{'' if burst['as_expected'] else ', NOT as the settings allow'}"
        )
        for record in report.get("request_log", []):
            status = record["status"] if record["status"] is not None else record["error"]
            lines.append(
                f"  request {record['id']}: sent at t={record['sent_at_s']:.4f} s, "
                f"{status} after {record['elapsed_s']:.4f} s"
            )
    steps = report.get("steps")
    if steps:
        lines.append(
            f"sweep over {steps['over']}: p{steps['percentile']:g} under {steps['threshold_ms']:g} ms, "
            f"errors under {steps['error_limit']:.1%}"
        )
        for row in steps["table"]:
            block = row["latency_ms"]
            lines.append(
                f"  {row['level']:>8g}  {row['rps']:>9,.1f} ok/s  "
                f"p50 {latency_text(block and block['p50'])}  p99 {latency_text(block and block['p99'])}  "
                f"errors {row['error_rate']:.2%}"
            )
        knee = steps["knee"]
        unmerged = any(row["ok"] and row["latency_ms"] is None for row in steps["table"])  # merge_blocks.merged_steps
        if knee is not None:
            lines.append(f"  knee: {knee:g}")
        elif unmerged:
            lines.append("  knee: not found again (the merge could not keep a level's latency; see the notes)")
        else:
            lines.append("  knee: none of the levels met the limit")
    generator = report.get("generator")
    if generator:
        state = "ok" if generator["valid"] else "INVALID MEASUREMENT"
        lines.append(
            f"generator: {state}; loop lag p99 {_ms_with_unit(generator['loop_lag_p99_ms'])}, send drift p99 "
            f"{_ms_with_unit(generator['drift_p99_ms'])}, {generator_cpu(generator)}"
        )
        lines.extend(f"  {reason}" for reason in generator["reasons"])
        if generator.get("remedy"):
            lines.append(f"  {generator['remedy']}")
        lines.extend(f"  note: {note}" for note in generator.get("notes", []))
        if generator.get("header_refreshes"):
            lines.append(f"  token refreshed {generator['header_refreshes']} time(s) during the run")
        if generator.get("header_refresh_failures"):
            lines.append(
                f"  token refresh failed {generator['header_refresh_failures']} time(s), last: "
                f"{generator.get('header_refresh_error')}"
            )
    lines.extend(server_metrics_lines(report.get("server_metrics")))
    lines.extend(local_processes_lines(report.get("local_processes")))
    checks = report.get("thresholds", [])
    if checks:
        judged = thresholds_judged(report)
        lines.append("thresholds" if judged else "thresholds (not judged: the run was stopped)")
        for check in checks:
            value = "-" if check["value"] is None else f"{check['value']:,.4g}"
            word = ("pass" if check["passed"] else "FAIL") if judged else "-   "
            lines.append(
                f"  {word}  {check['name']}: {value} "
                f"({'at least' if check.get('at_least') else 'at most'} {check['limit']:,.4g})"
                + (" (default)" if check.get("default") else "")
            )
    return "\n".join(lines)
