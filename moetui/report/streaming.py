"""The report's `streaming` block (time to first token, inter-token and per-token ladders, token counts
and where they came from, goodput, the "does it really stream?" verdict) and its summary lines; merging
the blocks of several reports. Histograms travel in the report's `histograms` like every latency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from moetui.engine.failures import STREAM_CUT
from moetui.engine.histogram import percentiles_ms
from moetui.engine.streaming import (
    BUFFERED_TTFT_SHARE,
    COUNTERS,
    StreamPlan,
    StreamSummary,
    summarize,
)
from moetui.report.model import Goodput, Ladder, Report, Streaming

_KEYS = {50.0: "p50", 90.0: "p90", 95.0: "p95", 99.0: "p99", 99.9: "p99_9", 100.0: "max"}


def _block(ladder: Mapping[float, float]) -> Ladder | None:
    block = {key: round(ladder[p], 3) for p, key in _KEYS.items() if p in ladder}
    return cast(Ladder, block) if block else None


def streaming_block(summary: StreamSummary | None, api: str) -> Streaming | None:
    """The report's `streaming` block, or None for a run that read whole answers."""
    if summary is None:
        return None
    counts = summary.counts
    verdict, buffered_share = summary.verdict()
    ttft_p50, e2e_p50 = summary.ttft_ms.get(50.0), summary.e2e_ms.get(50.0)
    streams = summary.streams
    return {
        "api": api,
        "verdict": verdict,
        "evidence": {
            # Streams of 2 tokens or more whose first token came after 90 % of their end-to-end time.
            "buffered_share": None if buffered_share is None else round(buffered_share, 6),
            "buffered_if_ttft_over_e2e_above": BUFFERED_TTFT_SHARE,
            "ttft_p50_over_e2e_p50": round(ttft_p50 / e2e_p50, 4) if ttft_p50 and e2e_p50 else None,
            "itl_p50_ms": summary.itl_ms.get(50.0),
            "multi_token_streams": counts.get("multi", 0),
        },
        "streams": streams,
        "cut": counts.get("cut", 0),
        "tokens": {
            "output": summary.output_tokens,
            "output_source": summary.token_source,
            "output_counted_streams": counts.get("counted", 0),
            "input": counts.get("input_tokens", 0) if streams > counts.get("no_input", 0) else None,
            "input_unreported_streams": counts.get("no_input", 0),
            "output_per_s": round(summary.output_tokens_per_s, 3),
            "mean_output_per_request": round(summary.output_tokens / streams, 3) if streams else None,
        },
        "per_request_output_tokens_per_s": _block(summary.tokens_rate_per_s),
        "ttft_ms": _block(summary.ttft_ms),
        "ttft_corrected_ms": _block(summary.ttft_corrected_ms),
        "itl_ms": _block(summary.itl_ms),
        "tpot_ms": _block(summary.tpot_ms),
        "e2e_ms": _block(summary.e2e_ms),
        "e2e_corrected_ms": _block(summary.e2e_corrected_ms),
        "goodput": _goodput(summary),
        "counts": {name: counts.get(name, 0) for name in COUNTERS},
    }


def _goodput(summary: StreamSummary) -> Goodput | None:
    share = summary.goodput_share
    if summary.slo_ttft_ms is None and summary.slo_tpot_ms is None:
        return None
    return {
        "slo": {"ttft_ms": summary.slo_ttft_ms, "tpot_ms": summary.slo_tpot_ms},
        "good": summary.counts.get("good", 0),
        "of": summary.completed,
        "share": None if share is None else round(share, 6),
        "per_s": None if summary.goodput_per_s is None else round(summary.goodput_per_s, 3),
    }


def merge_streaming(
    reports: Sequence[Mapping[str, Any]], histograms: Mapping[str, Any], *, together: bool = True
) -> Streaming | None:
    """One `streaming` block from several reports': counters summed, ladders from the merged histograms,
    rates summed for runs side by side (they load the endpoint together), else over their summed measured
    time (`together` False: runs one after another); None when no report streamed."""
    streamed = [report for report in reports if report.get("streaming")]
    blocks = [report["streaming"] for report in streamed]
    if not blocks:
        return None
    counts = {name: sum(block.get("counts", {}).get(name, 0) for block in blocks) for name in COUNTERS}
    slos = [block["goodput"]["slo"] for block in blocks if block.get("goodput")]
    slo = slos[0] if slos and all(s == slos[0] for s in slos) else None
    completed = sum(report["requests"].get("completed", 0) for report in reports)
    plan = StreamPlan(slo_ttft_ms=slo["ttft_ms"], slo_tpot_ms=slo["tpot_ms"]) if slo else None

    def ladder(name: str) -> dict[float, float]:
        histogram = histograms.get(name)
        return percentiles_ms(histogram) if histogram is not None else {}

    summary = summarize(ladder, counts, 0.0, completed, plan)
    apis = {block.get("api") for block in blocks}
    block = streaming_block(summary, apis.pop() if len(apis) == 1 else "mixed")
    assert block is not None
    seconds = [float(r.get("measured_s", r["wall_s"])) for r in streamed]

    def rate(values: Sequence[tuple[float, float]]) -> float:
        """Rates side by side add up; one after another, they are the count over the summed time."""
        if together:
            return round(sum(value for value, _ in values), 3)
        total_s = sum(s for _, s in values)
        return round(sum(value * s for value, s in values) / total_s, 3) if total_s else 0.0

    block["tokens"]["output_per_s"] = rate(
        [(b["tokens"]["output_per_s"], s) for b, s in zip(blocks, seconds, strict=True)]
    )
    if block["goodput"] is not None:
        rates = [
            (b["goodput"]["per_s"], s)
            for b, s in zip(blocks, seconds, strict=True)
            if b.get("goodput") and b["goodput"]["per_s"] is not None
        ]
        block["goodput"]["per_s"] = rate(rates)
    return block


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _ladder_line(label: str, block: Ladder | None) -> str | None:
    if not block:
        return None
    values = "  ".join(f"{key} {_ms(block[key])}" for key in ("p50", "p90", "p99", "max"))
    return f"{label:<18} {values} ms"


def streaming_lines(report: Report) -> list[str]:
    """The summary's lines for a streaming run ([] otherwise)."""
    block = report.get("streaming")
    if not block:
        return []
    tokens = block["tokens"]
    evidence = block["evidence"]
    lines = ["Streaming:"]
    ratio = evidence.get("ttft_p50_over_e2e_p50")
    share = evidence.get("buffered_share")
    why = (
        f"median TTFT/e2e {ratio:.2f}, {share:.0%} of {evidence['multi_token_streams']:,} multi-token streams "
        f"had their first token after {BUFFERED_TTFT_SHARE:.0%} of their time, "
        f"median gap {_ms(evidence['itl_p50_ms'])} ms"
        if ratio is not None and share is not None
        else "no stream of 2 tokens or more"
    )
    lines.append(f"  verdict            {block['verdict']} ({why})")
    for label, ladder in (
        ("TTFT", block.get("ttft_ms")),
        ("TTFT corrected", block.get("ttft_corrected_ms")),
        ("inter-token", block.get("itl_ms")),
        ("time per token", block.get("tpot_ms")),
        ("end to end", block.get("e2e_ms")),
    ):
        line = _ladder_line(label, ladder)
        if line:
            lines.append("  " + line)
    source = {"usage": "as the server reported", "counted": "counted from the chunks (no usage reported)"}.get(
        tokens["output_source"], f"{tokens['output_source']}: {tokens['output_counted_streams']:,} streams counted"
    )
    input_tokens = "not reported" if tokens["input"] is None else f"{tokens['input']:,}"
    lines.append(
        f"  tokens             {tokens['output']:,} out ({source}), {input_tokens} in, "
        f"{tokens['output_per_s']:,.1f} out/s over {block['streams']:,} streams"
    )
    per_request = block.get("per_request_output_tokens_per_s")
    if per_request:
        lines.append(f"  per request        p50 {per_request['p50']:,.1f} out tokens/s")
    if block["cut"]:
        lines.append(f"  broken             {block['cut']:,} streams cut after their first token ({STREAM_CUT})")
    goodput = block.get("goodput")
    if goodput:
        slo = ", ".join(f"{k.removesuffix('_ms').upper()} <= {v:g} ms" for k, v in goodput["slo"].items() if v)
        share_text = "-" if goodput["share"] is None else f"{goodput['share']:.1%}"
        per_s = "-" if goodput["per_s"] is None else f"{goodput['per_s']:,.2f}"  # None: no stream completed
        lines.append(
            f"  goodput            {share_text} ({goodput['good']:,} of {goodput['of']:,} within {slo}), {per_s} req/s"
        )
    return lines
