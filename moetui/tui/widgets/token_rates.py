"""A streaming run's output tokens per second as a sparkline (the snapshot's per-second rows carry the
tokens of the streams that finished in each second), with the run's token counts, the "does it really
stream?" verdict so far and goodput."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Label, Sparkline

from moetui.engine.snapshot import EngineSnapshot
from moetui.engine.streaming import StreamSummary
from moetui.tui.widgets.rates import SECONDS_SHOWN

#: How the token counts were obtained (StreamSummary.token_source), in a few words.
TOKEN_SOURCES = {
    "usage": "as reported",
    "counted": "counted from chunks",
    "mixed": "partly counted",
    "none": "",
}


def stream_facts(summary: StreamSummary) -> str:
    """Tokens out and in (and where the counts came from), the verdict so far, goodput."""
    counts = summary.counts
    verdict, share = summary.verdict()
    source = TOKEN_SOURCES.get(summary.token_source, summary.token_source)
    streams = summary.streams
    input_tokens = "—" if streams and counts.get("no_input", 0) >= streams else f"{counts.get('input_tokens', 0):,}"
    parts = [
        f"{summary.output_tokens:,} out{f' ({source})' if source else ''}, {input_tokens} in",
        verdict if share is None else f"{verdict} ({share:.0%} buffered)",
    ]
    if summary.goodput_share is not None:
        parts.append(f"goodput {summary.goodput_share:.1%}")
    if counts.get("cut"):
        parts.append(f"{counts['cut']:,} cut")
    return " · ".join(parts)


class TokenRates(Vertical):
    DEFAULT_CSS = """
    TokenRates { height: auto; }
    TokenRates Sparkline { height: 1; }
    TokenRates Label { width: 1fr; }
    """

    snapshot: reactive[EngineSnapshot | None] = reactive(None)
    """The engine's state to draw (bound to the live screen's); None before the first."""

    def compose(self) -> ComposeResult:
        yield Label("out tokens/s", id="tokens-label")
        yield Sparkline([], id="tokens-line")
        yield Label("", id="tokens-facts")

    def watch_snapshot(self, snapshot: EngineSnapshot | None) -> None:
        """New figures into the sparkline and labels (updated in place: nothing is mounted)."""
        if snapshot is None or snapshot.streaming is None:
            return
        summary = snapshot.streaming
        rows = snapshot.per_second[-SECONDS_SHOWN:]
        self.query_one("#tokens-line", Sparkline).data = [float(row.output_tokens) for row in rows]
        now = rows[-1].output_tokens if rows else 0
        self.query_one("#tokens-label", Label).update(
            f"out tokens/s  now {now:,}  run {summary.output_tokens_per_s:,.1f}  ({summary.streams:,} streams)"
        )
        self.query_one("#tokens-facts", Label).update(stream_facts(summary))
