"""Splitting a streamed answer into lines with a cap on each one, the same for every client's lane.

aiohttp's own `readline` raises LineTooLong past 512 KiB (its read buffer's high water mark) and httpx's
`aiter_lines` has no cap at all: one line of a broken or hostile server could fill memory. Here a lane
feeds the raw chunks as they arrive and gets back whole lines; a line still unfinished past the cap is
over-long, and the reader stops there, having held at most the cap plus one network chunk.
"""

from __future__ import annotations

from typing import Final

#: The longest line (an SSE event, or a whole JSON answer) an answer may hold: 8 MiB. A chat delta is a
#: few tokens (tens of bytes); the largest realistic single event is a non-streamed completion or a chunk
#: carrying a whole base64 image (a 1536x1024 PNG, ~3 MB, is ~4 MB in base64), so 8 MiB passes them with
#: room to spare, 16 times aiohttp's 512 KiB, while bounding what one lane holds (lanes x 8 MiB at worst,
#: only while every lane is inside such a line at once).
MAX_LINE_BYTES: Final = 8 * 1024 * 1024


class CappedLines:
    """Whole lines out of a body's chunks, each line at most `cap` bytes.

    Args:
        cap: The longest line kept; past it `too_long` is set and nothing more is returned.
        whole: The body is one document (a JSON answer): no splitting, the cap is on the whole body.
    """

    __slots__ = ("_held", "_parts", "cap", "too_long", "whole")

    def __init__(self, cap: int = MAX_LINE_BYTES, *, whole: bool = False) -> None:
        self.cap = cap
        self.whole = whole
        self.too_long = False
        # The unfinished line's chunks, joined only once the line ends: growing one buffer chunk by chunk
        # cost 23 ms per 8 MiB (copies and fresh pages), keeping the chunks costs nothing.
        self._parts: list[bytes] = []
        self._held = 0

    @property
    def held(self) -> int:
        """Bytes held for the line not yet finished (at most `cap`)."""
        return self._held

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines `chunk` completes (without their b"\\n"); [] once a line has been too long."""
        if self.too_long:
            return []
        end = -1 if self.whole else chunk.rfind(b"\n")
        if end < 0:
            if self._held + len(chunk) > self.cap:
                self._overflow()
            else:
                self._parts.append(chunk)
                self._held += len(chunk)
            return []
        if self._parts:
            self._parts.append(chunk[:end])
            lines = b"".join(self._parts).split(b"\n")
            self._parts.clear()
        else:  # the usual case, a chunk of whole events
            lines = chunk[:end].split(b"\n")
        rest = chunk[end + 1 :]
        if len(rest) > self.cap or any(len(line) > self.cap for line in lines):
            self._overflow()
            return []
        if rest:
            self._parts.append(rest)
        self._held = len(rest)
        return lines

    def end(self) -> bytes:
        """What is left at the end of the body: its last line if it had no b"\\n" (the whole body when
        `whole`), else b""."""
        rest = b"".join(self._parts)
        self._parts.clear()
        self._held = 0
        return rest

    def _overflow(self) -> None:
        self.too_long = True
        self._parts.clear()  # dropped at once: the over-long line is never held whole
        self._held = 0
