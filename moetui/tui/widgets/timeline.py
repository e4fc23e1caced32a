"""Request spans in lanes over the last seconds: overlapping spans (served at once) stack in lanes side
by side in time; queued ones follow each other, as in the 3-request concurrency test."""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive

from moetui.engine.snapshot import EngineSnapshot
from moetui.tui.widgets.base import SnapshotWidget

#: Lanes drawn at most by default (the live screen draws as many as its panel holds); more overlapping
#: requests than this are summed up in the last line.
MAX_LANES = 4
#: Seconds shown, except for a burst, which is shown whole.
WINDOW_S = 10.0
#: (glyph, look of moetui.tui.widgets.base.LOOKS, legend) of a span: answered ok, still in flight (served or
#: queued: the client cannot tell), failed. The glyph tells them apart without colour.
SPAN_LOOKS = {
    "ok": ("━", "ok", "ok"),
    "flight": ("┅", "bar", "in flight"),
    "failed": ("╳", "bad", "failed"),  # noqa: RUF001 (a cross drawn on purpose)
}
#: Drawn where a streamed request's first token came (RequestRecord.first_token_s), over its span.
FIRST_TOKEN = ("▸", "first token")

#: (start s, end s, kind of SPAN_LOOKS, first token s or None) of one request.
Span = tuple[float, float, str, float | None]


class Timeline(SnapshotWidget):
    DEFAULT_CSS = """
    Timeline { height: 1fr; text-wrap: nowrap; text-overflow: clip; min-height: 3; }
    """

    snapshot: reactive[EngineSnapshot | None] = reactive(None)
    """Sized by the layout (a lane a row, the axis and an overflow line under them): no layout pass."""

    def render(self) -> Text:
        snapshot = self.snapshot
        if snapshot is None or not (snapshot.recent or snapshot.oldest_in_flight):
            return Text("no requests yet", style=self.look("muted"))
        now = snapshot.taken_at_s
        spans: list[Span] = [
            (
                r.sent_at_s,
                r.sent_at_s + r.elapsed_s,
                "ok" if r.status == 200 else "failed",
                None if r.first_token_s is None else r.sent_at_s + r.first_token_s,
            )
            for r in snapshot.recent
        ]
        spans += [(now - age, now, "flight", None) for _, age in snapshot.oldest_in_flight]
        if snapshot.mode != "burst":
            spans = [span for span in spans if span[1] >= now - WINDOW_S] or spans[-1:]
        styles = {kind: self.look(look) for kind, (_, look, _) in SPAN_LOOKS.items()}
        size = self.content_size
        lanes = max(1, size.height - 2)
        return draw_lanes(spans, now, max(10, size.width), styles, self.look("muted"), lanes)


def draw_lanes(
    spans: list[Span],
    now: float,
    width: int,
    styles: Mapping[str, Style],
    muted: Style,
    max_lanes: int = MAX_LANES,
) -> Text:
    """Spans in up to `max_lanes` lanes over `width` cells up to `now`, a FIRST_TOKEN mark where a streamed
    request's first token came, the time axis and a legend; `styles` colours each kind and `muted` the axis
    (the widget's theme styles)."""
    start = min(span[0] for span in spans)
    end_all = max(now, *(span[1] for span in spans))
    window = max(end_all - start, 1e-3)
    lanes: list[list[Span]] = []
    overflow = 0
    marked = False
    for span in sorted(spans, key=lambda span: span[:3]):
        for lane in lanes:
            if lane[-1][1] <= span[0]:
                lane.append(span)
                break
        else:
            if len(lanes) < max_lanes:
                lanes.append([span])
            else:
                overflow += 1
    text = Text(no_wrap=True, overflow="crop")
    for lane in lanes:
        cells = [" "] * width
        cell_styles: list[Style | None] = [None] * width
        for begin, end, kind, first_token in lane:
            first = min(width - 1, max(0, int((begin - start) / window * (width - 1))))
            last = min(width - 1, max(first, int((end - start) / window * (width - 1))))
            glyph = SPAN_LOOKS[kind][0]
            for i in range(first, last + 1):
                cells[i] = glyph
                cell_styles[i] = styles[kind]
            if first_token is not None:
                at = min(last, max(first, int((first_token - start) / window * (width - 1))))
                cells[at] = FIRST_TOKEN[0]
                marked = True
        for cell, style in zip(cells, cell_styles, strict=True):
            text.append(cell, style=style)
        text.append("\n")
    left, right = f"{start:.1f} s", f"{end_all:.1f} s"
    kinds = {span[2] for lane in lanes for span in lane}
    legend = "  ".join(f"{g} {name}" for kind, (g, _, name) in SPAN_LOOKS.items() if kind in kinds)
    if marked:
        legend += "  {} {}".format(*FIRST_TOKEN)
    if len(left) + len(legend) + len(right) + 4 <= width:
        middle = legend.center(width - len(left) - len(right))
    else:
        middle = " " * max(1, width - len(left) - len(right))
    text.append(left + middle + right, style=muted)
    if overflow:
        text.append(f"\n+{overflow} more overlapping", style=muted)
    return text
