"""The bases of the widgets: `Themed`, whose looks (ok, warn, bad, muted, bar) come from the theme through
component classes ($text-success, $text-warning, $text-error, $text-muted, $primary), never from colour
names, so ctrl+t's light theme is right everywhere (textual's Sparkline does the same); and
`SnapshotWidget`, a themed widget with a `snapshot` reactive bound to the live screen's."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from textual.reactive import reactive
from textual.widget import Widget

from moetui.engine.snapshot import EngineSnapshot

#: The looks a themed widget draws with; each is a component class `look--KIND`.
LOOKS = ("ok", "warn", "bad", "muted", "bar")
#: Bold, added to a look where the figure must stand out (an invalid measurement, beyond the 429 ceiling).
BOLD = Style(bold=True)


class Themed(Widget):
    """A widget drawing rich renderables whose colours are theme colours: `look(kind)`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"look--{kind}" for kind in LOOKS}
    DEFAULT_CSS = """
    Themed > .look--ok { color: $text-success; }
    Themed > .look--warn { color: $text-warning; }
    Themed > .look--bad { color: $text-error; }
    Themed > .look--muted { color: $text-muted; }
    Themed > .look--bar { color: $primary; }
    """

    def look(self, kind: str) -> Style:
        """The theme's style of `kind` (one of LOOKS), for rich Text and Table."""
        return self.get_component_rich_style(f"look--{kind}")


class SnapshotWidget(Themed):
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
