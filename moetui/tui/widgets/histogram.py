"""The latency distribution of successful responses: equal-width buckets from the fastest to the slowest
(moetui.report.distribution, the same buckets as the text summary), each a bar scaled to the fullest."""

from __future__ import annotations

from rich.text import Text

from moetui.report.distribution import latency_buckets
from moetui.tui.widgets.base import bar, ms
from moetui.tui.widgets.report_base import ReportPart


class LatencyHistogram(ReportPart):
    DEFAULT_CSS = """
    LatencyHistogram { text-wrap: nowrap; text-overflow: clip; }
    """

    def render(self) -> Text:
        buckets = latency_buckets(self.report)
        if not buckets:
            return Text("no successful responses", style=self.look("muted"))
        top = max(b.responses for b in buckets) or 1
        count_width = max(len(f"{b.responses:,}") for b in buckets)
        width = max(5, self.content_size.width - 11 - count_width)
        text = Text(no_wrap=True, overflow="crop")
        for index, bucket in enumerate(buckets):
            text.append(f"≤{ms(bucket.upper_ms):>8} ", style=self.look("muted"))
            text.append(f"{bucket.responses:>{count_width},} ")
            text.append(bar(bucket.responses / top, width).rstrip(), style=self.look("bar"))
            if index < len(buckets) - 1:
                text.append("\n")
        return text
