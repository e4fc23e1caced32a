"""Requests in flight against the deployment's capacity, and the ages of the oldest of them as the snapshot
measured them (not aged further on screen: at a high rate a request lives shorter than a refresh)."""

from __future__ import annotations

from rich.text import Text

from moetui.tui.widgets.base import BOLD, SnapshotWidget, bar

#: How many of the oldest in-flight requests are listed.
OLDEST_SHOWN = 3


class InFlight(SnapshotWidget):
    DEFAULT_CSS = """
    InFlight { height: auto; text-wrap: nowrap; text-overflow: clip; }
    """

    def render(self) -> Text:
        snapshot = self.snapshot
        text = Text(no_wrap=True, overflow="crop")
        if snapshot is None:
            return Text("waiting for the first requests ...", style=self.look("muted"))
        capacity = snapshot.capacity
        if capacity:
            ceiling = 2 * capacity
            if snapshot.in_flight > ceiling:
                style = self.look("bad") + BOLD
            else:
                style = self.look("warn" if snapshot.in_flight > capacity else "ok")
            legend = f" capacity {capacity}, 429 above {ceiling}"
            room = self.content_size.width - 16
            # a narrow panel (80 columns: 38) puts the legend under the bar rather than cropping it
            below = room - len(legend) < 10
            width = max(5, room if below else room - len(legend))
            text.append(f"{snapshot.in_flight:>5} in flight ", style=style)
            text.append(bar(snapshot.in_flight / ceiling, width), style=style)
            text.append(("\n     " + legend.strip() if below else legend) + "\n", style=self.look("muted"))
        else:
            text.append(f"{snapshot.in_flight:>5} in flight (capacity unknown)\n")
        line = "      oldest"
        for request_id, age in snapshot.oldest_in_flight[:OLDEST_SHOWN]:
            item = f"  #{request_id} {age:.2f} s"
            if len(line) + len(item) > self.content_size.width:
                break  # as many as fit whole
            line += item
        if snapshot.oldest_in_flight:
            text.append(line[:12], style=self.look("muted"))
            text.append(line[12:])
        text.rstrip()
        return text
