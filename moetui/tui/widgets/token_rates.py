"""A streaming run's token facts in a line: the run's token counts, the "does it really stream?" verdict so
far and goodput (under the live screen's output tokens per second: rate_chart.TokenChart)."""

from __future__ import annotations

from moetui.engine.streaming import StreamSummary

#: How the token counts were obtained (StreamSummary.token_source), in a few words.
TOKEN_SOURCES = {
    "usage": "as reported",
    "counted": "counted from chunks",
    "mixed": "partly counted",
    "none": "",
}


def stream_facts(summary: StreamSummary) -> str:
    """The verdict so far, tokens out and in (and where the counts came from), goodput."""
    counts = summary.counts
    verdict, share = summary.verdict()
    source = TOKEN_SOURCES.get(summary.token_source, summary.token_source)
    streams = summary.streams
    input_tokens = "—" if streams and counts.get("no_input", 0) >= streams else f"{counts.get('input_tokens', 0):,}"
    parts = [  # the verdict first: a short panel keeps the first line
        verdict if share is None else f"{verdict} ({share:.0%} buffered)",
        f"{summary.output_tokens:,} out{f' ({source})' if source else ''}, {input_tokens} in",
    ]
    if summary.goodput_share is not None:
        parts.append(f"goodput {summary.goodput_share:.1%}")
    if counts.get("cut"):
        parts.append(f"{counts['cut']:,} cut")
    return " · ".join(parts)
