"""Column charts over the run's seconds, as tall as the panel the layout gives them (oha's live view draws
its charts the same way): one column per second, each a stack of segments (p50 under p99; ok under
errors), the top in eighths of a cell, marks above it (a max, a corrected p99), a y axis and the seconds.

Zero draws nothing: an all-zero series is empty, not a full-height bar (textual's Sparkline scales a
one-point or flat series to its own height), and a value above zero is at least one eighth high."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from math import ceil
from operator import itemgetter

from rich.style import Style
from rich.text import Text

#: Eighths of a cell, bottom up.
EIGHTHS = " ▁▂▃▄▅▆▇█"
#: Cells of the y axis: a label of 8 and its tick.
AXIS = 9
#: Widest column of a second, while there are few seconds to show.
WIDEST = 3


@dataclass(frozen=True)
class Column:
    """One second: `stack` of (value, style) segments bottom up, each drawn from the previous one's top;
    `marks` of (value, glyph, style) drawn above the stack."""

    second: int
    stack: tuple[tuple[float, Style], ...]
    marks: tuple[tuple[float, str, Style], ...] = field(default=())


def chart(
    columns: Sequence[Column],
    width: int,
    height: int,
    label: Callable[[float], str],
    muted: Style,
    top: float | None = None,
    legend: Text | None = None,
    top_wins: bool = True,
) -> Text:
    """`columns` drawn over `width` x `height` cells: `height - 1` rows of plot and a time axis with the
    `legend` in its middle when it fits; `label` writes the y axis' values. `top` is the value of the
    highest row (default: the tallest stack); marks above it show as ↑ in the top row. Columns stand at
    their second (a second without a row is a gap), the latest at the right of what fits. A stack's top
    cell, when part of a cell, is its highest segment's (`top_wins`: one error over a thousand successes
    is seen) or the one holding most of it."""
    rows = max(1, height - 1)
    plot = max(1, width - AXIS)
    first_second = columns[0].second if columns else 0
    seconds = columns[-1].second - first_second + 1 if columns else 0
    step = max(1, min(WIDEST, plot // max(1, seconds)))
    start = max(first_second, first_second + seconds - plot // step)
    shown = [c for c in columns if c.second >= start]
    if top is None:
        top = max((sum(value for value, _ in c.stack) for c in shown), default=0.0)
    cells: list[list[tuple[str, Style | None]]] = [[(" ", None)] * plot for _ in range(rows)]
    if top > 0:
        for column in shown:
            glyphs = _column(column, top, rows, top_wins)
            at = (column.second - start) * step
            for x in range(at, at + step):
                for y, cell in enumerate(glyphs):
                    cells[y][x] = cell
    text = Text(no_wrap=True, overflow="crop")
    labelled = {0: top, rows // 2: top / 2} if top > 0 else {}
    for y in range(rows - 1, -1, -1):
        row_from_top = rows - 1 - y
        text.append(f"{label(labelled[row_from_top]) if row_from_top in labelled else '':>8}┤", style=muted)
        for style, run in groupby(cells[y], key=itemgetter(1)):  # a span per run of one style: cheaper to draw
            text.append("".join(glyph for glyph, _ in run), style=style)
        text.append("\n")
    first = f"{start} s" if shown else ""
    last = f"{shown[-1].second + 1} s" if shown else ""
    # the seconds under the columns drawn; the legend right of them, or between the labels, or left out
    span = max((shown[-1].second + 1 - start) * step, len(first) + 1 + len(last)) if shown else 0
    gap = span - len(first) - len(last)
    prefix = " " * (AXIS - 1) + "└" + first
    if legend is not None and gap >= len(legend) + 2:
        before = (gap - len(legend)) // 2
        text.append(prefix + " " * before, style=muted)
        text.append_text(legend)
        text.append(" " * (gap - before - len(legend)) + last, style=muted)
        return text
    text.append(prefix + " " * gap + last, style=muted)
    if legend is not None and plot - span >= len(legend) + 2:
        text.append(" " * (plot - span - len(legend)))
        text.append_text(legend)
    return text


def _column(column: Column, top: float, rows: int, top_wins: bool) -> list[tuple[str, Style | None]]:
    """The cells of one column bottom up: the stack's segments, then its marks."""
    scale = rows / top
    cells: list[tuple[str, Style | None]] = [(" ", None)] * rows
    bottoms: list[tuple[float, Style]] = []  # where each segment starts, in rows, and its style
    reach = 0.0
    for value, style in column.stack:
        if value > 0:
            bottoms.append((reach * scale, style))
            reach += value
    if bottoms:
        height = min(float(rows), reach * scale)
        for y in range(min(rows, ceil(height))):
            cells[y] = _cell(y, height, bottoms, top_wins)
    for value, glyph, style in column.marks:
        y = int(value * scale)
        if y >= rows:
            cells[rows - 1] = ("↑", style)
        elif cells[y][0] == " ":
            cells[y] = (glyph, style)
    return cells


def _cell(y: int, height: float, bottoms: list[tuple[float, Style]], top_wins: bool) -> tuple[str, Style]:
    """Row `y` of a stack `height` rows high made of segments starting at `bottoms`. A cell where one
    segment gives way to the next is drawn in eighths, the lower in front and the upper behind; the
    stack's top cell, when not full, is the highest segment's when `top_wins`, else the one holding most
    of it; a stack above zero is at least an eighth high."""
    inside = [(bottom, style) for bottom, style in bottoms if bottom < y + 1]
    below = [style for bottom, style in inside if bottom <= y]
    lower = below[-1] if below else inside[0][1]
    upper = inside[-1]
    filled = max(1, min(8, round((height - y) * 8)))
    if filled < 8:  # the top of the stack, part of a cell
        middle = (y + height) / 2
        return EIGHTHS[filled], upper[1] if top_wins or upper[0] <= middle else lower
    if upper[0] <= y or upper[1] == lower:  # one segment fills the cell
        return EIGHTHS[8], lower
    # a change of segment inside the cell, shown to the eighth; at least an eighth of each
    part = max(1, min(7, round((upper[0] - y) * 8)))
    return EIGHTHS[part], Style(color=lower.color, bgcolor=upper[1].color)
