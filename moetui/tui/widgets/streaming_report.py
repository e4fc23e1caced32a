"""The report's streaming block (moetui.report.streaming): the "does it really stream?" verdict with its
evidence, the TTFT, inter-token, per-token and end-to-end ladders side by side, tokens in and out with
where their counts came from, goodput against the SLO, and streams cut short. Drawn from the report dict
alone, as every report part."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from moetui.engine.failures import STREAM_CUT
from moetui.report.model import Streaming, ladder_values
from moetui.tui.widgets.base import ms
from moetui.tui.widgets.report_base import LADDER, ReportPart

#: Where the token counts came from (the block's tokens.output_source), in words.
SOURCES = {
    "usage": "usage: as the server reported them",
    "counted": "counted from the chunks: no usage reported",
    "mixed": "mixed: some counted from the chunks",
    "none": "no stream",
}


class StreamingReport(ReportPart):
    DEFAULT_CSS = """
    StreamingReport { text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def render(self) -> Group | Text:
        block = self.report.get("streaming")
        if not block:
            return Text("answers read whole: no streaming figures", style=self.look("muted"))
        return Group(self._verdict(block), Text(""), self._ladders(block), Text(""), self._tokens(block))

    def _verdict(self, block: Streaming) -> Text:
        verdict = block["verdict"]
        evidence = block["evidence"]
        look = {"streamed": "ok", "buffered": "bad"}.get(verdict, "warn")
        text = Text()
        text.append(verdict, style=self.look(look))
        ratio, share = evidence.get("ttft_p50_over_e2e_p50"), evidence.get("buffered_share")
        if ratio is not None and share is not None:
            threshold = evidence.get("buffered_if_ttft_over_e2e_above", 0.9)
            text.append(
                f"  median TTFT/e2e {ratio:.2f} · {share:.0%} of {evidence['multi_token_streams']:,} multi-token "
                f"streams got their first token after {threshold:.0%} of their time · median gap "
                f"{ms(evidence.get('itl_p50_ms'))}",
                style=self.look("muted"),
            )
        else:
            text.append("  no stream of 2 tokens or more", style=self.look("muted"))
        return text

    def _ladders(self, block: Streaming) -> Table:
        # (heading, ladder) in column order; a column shows when the run measured it.
        ladders = (
            ("TTFT", block.get("ttft_ms")),
            ("TTFT corr.", block.get("ttft_corrected_ms")),
            ("ITL", block.get("itl_ms")),
            ("TPOT", block.get("tpot_ms")),
            ("end to end", block.get("e2e_ms")),
        )
        columns = [(heading, ladder_values(ladder)) for heading, ladder in ladders if ladder]
        table = Table(box=None, padding=(0, 1), show_edge=False, expand=False)
        table.add_column("", style="bold", width=5)
        for heading, _ in columns:
            table.add_column(heading, justify="right", width=10)
        for key, label in LADDER.items():
            if not any(key in values for _, values in columns):
                continue
            style = self.look("warn") if key in ("p99", "p99_9", "max") else None
            row = [ms(values.get(key)) for _, values in columns]
            table.add_row(label, *row, style=style)
        return table

    def _tokens(self, block: Streaming) -> Text:
        tokens = block["tokens"]
        muted = self.look("muted")
        text = Text()
        text.append("tokens   ", style="bold")
        text.append(f"{tokens['output']:,} out")
        text.append(f" ({SOURCES.get(tokens['output_source'], tokens['output_source'])})", style=muted)
        text.append(" · " + ("input not reported" if tokens["input"] is None else f"{tokens['input']:,} in"))
        text.append(f" · {tokens['output_per_s']:,.1f} out/s over {block['streams']:,} streams")
        per_request = block.get("per_request_output_tokens_per_s")
        if per_request and per_request.get("p50") is not None:
            text.append(f" · p50 {per_request['p50']:,.1f} out/s per request", style=muted)
        goodput = block.get("goodput")
        if goodput:
            slo = ", ".join(
                f"{key.removesuffix('_ms').upper()} ≤ {value:g} ms" for key, value in goodput["slo"].items() if value
            )
            share = "—" if goodput["share"] is None else f"{goodput['share']:.1%}"
            text.append("\ngoodput  ", style="bold")
            text.append(share, style=self.look("ok" if (goodput["share"] or 0) >= 0.9 else "warn"))
            text.append(f" ({goodput['good']:,} of {goodput['of']:,} within {slo})")
            if goodput.get("per_s") is not None:
                text.append(f" · {goodput['per_s']:,.2f} req/s")
        if block.get("cut"):
            text.append("\ncut      ", style="bold")
            text.append(
                f"{block['cut']:,} streams broke after their first token ({STREAM_CUT})", style=self.look("bad")
            )
        return text
