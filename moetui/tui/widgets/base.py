"""The base of every live widget: a `snapshot` reactive that the live screen sets at its refresh rate."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widget import Widget

from moetui.engine.snapshot import EngineSnapshot


class SnapshotWidget(Widget):
    """Renders from `snapshot`; a new snapshot (compared by identity: eq=False) triggers a repaint."""

    snapshot: reactive[EngineSnapshot | None] = reactive(None, layout=True)
    """The engine's state to draw, or None before the first (its height follows the content)."""


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of `width` cells filled to `fraction`, in eighths."""
    fraction = max(0.0, min(1.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(width)


def ms(value: float | None) -> str:
    """Milliseconds, with a precision that suits their size."""
    if value is None:
        return "—"  # no figure: no unit either
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"
