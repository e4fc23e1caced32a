"""A body in pieces on its way through the gateway, read in order as they come, with back-pressure on the
transport they come from: past `high_water` unread bytes it stops being read, and resumes under half of
that. The scorer's streamed answer (upstream.UpstreamStream) and a client's request body sent on as it
arrives (http_server.RequestBody) are both one."""

from __future__ import annotations

import asyncio
from collections import deque


class PieceQueue:
    """Pieces put by a protocol, read by a coroutine; b"" once finished, `error` raised once failed.

    Args:
        transport: Where the pieces come from (paused and resumed for back-pressure).
        high_water: Unread bytes past which the transport stops being read.
        error: The exception `read()` raises for a body cut short.
    """

    def __init__(self, transport: asyncio.Transport, high_water: int, error: type[Exception]) -> None:
        self._transport = transport
        self._high_water = high_water
        self._error_type = error
        self._pieces: deque[bytes] = deque()
        self._queued_bytes = 0
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.complete = False
        """The whole body has been put."""
        self.error: str | None = None
        """Why the body was cut short (None: it was not)."""

    def put(self, piece: bytes) -> None:
        self._pieces.append(piece)
        self._queued_bytes += len(piece)
        if self._queued_bytes > self._high_water and not self._paused:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def finish(self) -> None:
        """The whole body has been put."""
        self.complete = True
        self._wake()

    def fail(self, message: str) -> None:
        """The body was cut short (ignored once it is complete)."""
        if not self.complete and self.error is None:
            self.error = message
        self._wake()

    async def read(self) -> bytes:
        """The next piece; b"" once the body is whole.

        Raises:
            Exception: Of the `error` type, once the body was cut short and its pieces read.
        """
        while not self._pieces:
            if self.complete:
                return b""
            if self.error is not None:
                raise self._error_type(self.error)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        piece = self._pieces.popleft()
        self._queued_bytes -= len(piece)
        if self._paused and self._queued_bytes <= self._high_water // 2:
            self._resume()
        return piece

    def drop(self) -> None:
        """Forget the unread pieces, and read the transport again if it was paused."""
        self._pieces.clear()
        self._queued_bytes = 0
        if self._paused:
            self._resume()

    def _resume(self) -> None:
        self._paused = False
        if not self._transport.is_closing():
            self._transport.resume_reading()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
