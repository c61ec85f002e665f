"""One client connection: its input buffer, its queue of output parts, its ownership.

Ownership, not locks, keeps a connection consistent: at any moment exactly one party may
touch it — the engine thread that took its one-shot readiness event, or the delayed
operation it is parked on. The socket is re-armed in epoll only when the owner is done,
so no two threads ever read, parse or write the same connection at once, and responses
leave in request order (Kafka's per-connection ordering guarantee).

Input: a preallocated ``bytearray`` filled with ``recv_into``; frames are parsed in
place as ``memoryview`` slices. The buffer is never resized in place (views may still be
alive); when it must grow or compact, a new one replaces it.

Output: a queue of parts, each ``bytes`` (framing, small bodies) or a record chunk with
``fd``/``position``/``size`` sent by ``os.sendfile`` without passing through Python.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import struct
from collections import deque
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from riverhead.security.session import Session

INITIAL_BUFFER = 64 * 1024
SHRINK_ABOVE = 1 << 20
_SIZE = struct.Struct(">i")


class FileChunk(Protocol):
    @property
    def fd(self) -> int: ...
    @property
    def position(self) -> int: ...
    @property
    def size(self) -> int: ...


class FrameTooLarge(ValueError):
    pass


class Connection:
    __slots__ = (
        "_sent",
        "addr",
        "buf",
        "closed",
        "end",
        "eof",
        "fd",
        "handshaking",
        "listener",
        "max_request_bytes",
        "out",
        "session",
        "sock",
        "start",
    )

    def __init__(self, sock: socket.socket, addr: str, max_request_bytes: int) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.addr = addr
        self.max_request_bytes = max_request_bytes
        self.buf = bytearray(INITIAL_BUFFER)
        self.start = 0
        self.end = 0
        self.eof = False
        self.closed = False
        self.out: deque[bytes | FileChunk] = deque()
        self._sent = 0  # bytes of out[0] already sent
        # Security (riverhead.security): the listener's name, a TLS handshake still in
        # progress, and the authenticated session (None: PLAINTEXT without an authorizer).
        self.listener = ""
        self.handshaking = False
        self.session: Session | None = None

    # ---- input --------------------------------------------------------------------
    def fill(self) -> int:
        """Read what the socket has; returns bytes read (0 at EOF or when none ready).

        The buffer grows with the bytes that actually arrive (at most doubling), never to
        a frame's declared size up front: a peer announcing 100 MB and sending nothing
        costs nothing.
        """
        self._ensure_room()
        try:
            n = self.sock.recv_into(memoryview(self.buf)[self.end :])
        except (BlockingIOError, InterruptedError):
            return 0
        if n == 0:
            self.eof = True
        self.end += n
        return n

    def _ensure_room(self) -> None:
        """Make free space at the end of the buffer (reset, compact or double it)."""
        if self.start == self.end:
            self.start = self.end = 0
            if len(self.buf) > SHRINK_ABOVE:  # a big request is done: give the memory back
                self.buf = bytearray(INITIAL_BUFFER)
        if self.end == len(self.buf):
            pending = self.end - self.start
            if self.start > 0 and pending < len(self.buf) // 2:
                self._make_room(len(self.buf))  # compact: room without growing
            else:
                self._make_room(2 * len(self.buf))

    def handshake(self) -> str | None:
        """Advance a transport handshake; None when there is none (plain TCP) or it is
        done, else ``"read"``/``"write"`` to wait for (see riverhead.security.tls)."""
        return None

    def next_frame(self) -> memoryview | None:
        """The next complete request body (size prefix removed), or None.

        Raises :class:`FrameTooLarge` for a size beyond ``socket.request.max.bytes`` or
        negative; the caller closes the connection (Kafka does the same).
        """
        avail = self.end - self.start
        if avail < 4:
            return None
        (size,) = _SIZE.unpack_from(self.buf, self.start)
        if size < 0 or size > self.max_request_bytes:
            raise FrameTooLarge(
                f"request of {size} bytes from {self.addr} exceeds socket.request.max.bytes "
                f"({self.max_request_bytes})"
            )
        if avail < 4 + size:
            return None
        frame = memoryview(self.buf)[self.start + 4 : self.start + 4 + size]
        self.start += 4 + size
        return frame

    def _make_room(self, capacity: int) -> None:
        """Move the pending bytes to the front of a new buffer of ``capacity`` bytes."""
        new = bytearray(max(INITIAL_BUFFER, capacity, self.end - self.start))
        pending = self.end - self.start
        new[:pending] = self.buf[self.start : self.end]
        self.buf = new
        self.start = 0
        self.end = pending

    # ---- output -------------------------------------------------------------------
    def queue(self, parts: list[bytes | FileChunk]) -> None:
        self.out.extend(parts)

    def flush(self) -> bool:
        """Send queued output; True when all of it is sent, False if the socket is full."""
        out = self.out
        while out:
            part = out[0]
            try:
                if isinstance(part, bytes):
                    bufs: list[bytes | memoryview] = [memoryview(part)[self._sent :]]
                    for more in itertools.islice(out, 1, 64):
                        if not isinstance(more, bytes):
                            break
                        bufs.append(more)
                    self._consume(self.sock.sendmsg(bufs))
                else:
                    n = os.sendfile(
                        self.fd, part.fd, part.position + self._sent, part.size - self._sent
                    )
                    if n == 0 and part.size > self._sent:
                        raise ConnectionError("file shorter than the chunk being sent")
                    self._consume(n)
            except (BlockingIOError, InterruptedError):
                return False
        return True

    def _consume(self, n: int) -> None:
        out = self.out
        while n > 0 and out:
            part = out[0]
            size = len(part) if isinstance(part, bytes) else part.size
            left = size - self._sent
            if n >= left:
                n -= left
                out.popleft()
                self._sent = 0
            else:
                self._sent += n
                n = 0
        while out and (len(out[0]) if isinstance(out[0], bytes) else out[0].size) == 0:
            out.popleft()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.out.clear()
            with contextlib.suppress(OSError):
                self.sock.close()
