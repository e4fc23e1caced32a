"""The link between a run and one of its generator processes: a socket pair carrying pickled messages, each
framed by its length, read and written by the event loop's stream reader and writer.

Why framing of our own: uvloop switches a socket it watches to non-blocking, so a message over the socket's
buffer arrives in pieces. multiprocessing's Connection.recv() expects a whole message and raised
BlockingIOError midway; the worker's later deltas were lost in silence (4 connections, 2 workers,
recent_requests 1,000: 3,802 requests reported of the server's 8,924, exit 0). A stream reader keeps the
pieces until the message is whole, and a stream writer keeps what the socket cannot take yet.

Imports nothing above the engine.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct

#: A message's length, ahead of it.
HEADER = struct.Struct("!I")
#: The largest message either end sends or accepts. A delta carries at most [output] recent_requests
#: (100,000) requests: 6.1 MB pickled with every field set, plus its histograms (compressed, a few KB each).
MAX_MESSAGE_BYTES = 64 * 2**20
#: Bytes the reader holds before it stops reading the socket (asyncio's default, 64 KiB, pauses and
#: resumes it every 128 KiB of a multi-megabyte delta).
READ_LIMIT = 2**20


class LinkBroken(Exception):
    """What arrives can no longer be read: cut mid-message, a length over the bound, a failed socket."""


class Undecodable(Exception):
    """One message could not be unpickled; the next one can still be read."""


class TooLarge(ValueError):
    """A message over MAX_MESSAGE_BYTES: it is never sent."""


def pack(message: object) -> bytes:
    """`message` pickled, behind its length.

    Raises:
        TooLarge: Pickled, it is over MAX_MESSAGE_BYTES.
    """
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    if len(payload) > MAX_MESSAGE_BYTES:
        raise TooLarge(f"{len(payload):,} bytes, over the {MAX_MESSAGE_BYTES:,}-byte bound")
    return HEADER.pack(len(payload)) + payload


def send_blocking(sock: socket.socket, message: object) -> None:
    """Send `message` on a blocking socket, before any event loop reads or writes it (a worker's "ready")."""
    sock.sendall(pack(message))


class Link:
    """One end of the link, on a running event loop. Open it with `Link.open`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, sock: socket.socket) -> Link:
        """The link over `sock` (one end of a socket pair), which it now owns."""
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=READ_LIMIT)
        return cls(reader, writer)

    def send(self, message: object) -> None:
        """Queue `message`; the loop writes it as the socket takes it. After the other end is gone, nothing.

        Raises:
            TooLarge: Pickled, it is over MAX_MESSAGE_BYTES (nothing is sent).
        """
        self._writer.write(pack(message))

    async def receive(self) -> object | None:
        """The next message, whole; None when the other end closed between two messages.

        Raises:
            LinkBroken: Cut mid-message, a length over MAX_MESSAGE_BYTES, or the socket failed.
            Undecodable: This message could not be unpickled (the next one can be read).
        """
        try:
            header = await self._reader.readexactly(HEADER.size)
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return None
            raise LinkBroken("cut inside a message's length") from None
        except OSError as exc:
            raise LinkBroken(f"the socket failed ({exc})") from None
        (size,) = HEADER.unpack(header)
        if size > MAX_MESSAGE_BYTES:
            raise LinkBroken(f"a message of {size:,} bytes announced, over the {MAX_MESSAGE_BYTES:,}-byte bound")
        try:
            payload = await self._reader.readexactly(size)
        except asyncio.IncompleteReadError as exc:
            raise LinkBroken(f"cut after {len(exc.partial):,} of a message's {size:,} bytes") from None
        except OSError as exc:
            raise LinkBroken(f"the socket failed inside a message ({exc})") from None
        try:
            message: object = pickle.loads(payload)
        except Exception as exc:  # whatever unpickling raises: the message is unreadable, the framing intact
            raise Undecodable(f"{type(exc).__name__}: {exc}") from None
        return message

    async def close(self, flush_s: float = 0.0) -> None:
        """Close this end after up to `flush_s` for the queued messages to leave; what is left then is dropped."""
        self._writer.close()
        if flush_s > 0:
            try:
                await asyncio.wait_for(self._writer.wait_closed(), flush_s)
                return
            except (TimeoutError, OSError):
                pass
        self._writer.transport.abort()
