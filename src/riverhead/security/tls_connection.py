"""A client connection over TLS, driven by the non-blocking request engine.

The socket is an ``ssl.SSLSocket`` wrapped with ``do_handshake_on_connect=False``; the
engine calls :meth:`TlsConnection.handshake` on every readiness event until it returns
``None``, re-arming the socket for reading or writing as OpenSSL asks, so a slow or
silent client's handshake never blocks a pool thread (other connections are served
meanwhile). Handshake failures (a client certificate from another CA, plaintext sent to a
TLS port, garbage) raise ``ssl.SSLError``; the engine logs them and closes the connection.

Reading drains OpenSSL's decrypted buffer (``pending()``) as well as the socket: epoll
cannot see bytes OpenSSL has already taken from the kernel. Writing goes through
``SSLSocket.send`` — no ``sendmsg`` and no ``sendfile``: record chunks are read from the
segment file with ``pread`` and encrypted in user space, which is what TLS costs (Kafka
loses zero-copy under TLS too). A send that would block is retried with the same leading
bytes, as OpenSSL requires.

Thread-safety: as :class:`~riverhead.broker.connection.Connection` (single owner).
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable

from riverhead.broker.connection import Connection

log = logging.getLogger("riverhead.security.tls")

WANT_READ = "read"
WANT_WRITE = "write"
CHUNK = 256 * 1024  # at most this much plaintext per send (16 TLS records)


class TlsConnection(Connection):
    __slots__ = ("on_handshake",)

    def __init__(
        self,
        sock: ssl.SSLSocket,
        addr: str,
        max_request_bytes: int,
        on_handshake: Callable[[TlsConnection], None] | None = None,
    ) -> None:
        super().__init__(sock, addr, max_request_bytes)
        self.handshaking = True
        self.on_handshake = on_handshake

    @property
    def tls(self) -> ssl.SSLSocket:
        assert isinstance(self.sock, ssl.SSLSocket)
        return self.sock

    def handshake(self) -> str | None:
        """Advance the handshake: ``None`` once done, else what to wait for."""
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            return WANT_READ
        except ssl.SSLWantWriteError:
            return WANT_WRITE
        self.handshaking = False
        if self.on_handshake is not None:
            self.on_handshake(self)
        return None

    def peer_certificate(self) -> bytes | None:
        return self.tls.getpeercert(binary_form=True)

    # ---- input --------------------------------------------------------------------
    def fill(self) -> int:
        total = 0
        while True:
            self._ensure_room()
            try:
                n = self.tls.recv_into(memoryview(self.buf)[self.end :])
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                return total
            except ssl.SSLZeroReturnError:  # the peer's close_notify
                self.eof = True
                return total
            if n == 0:
                self.eof = True
                return total
            self.end += n
            total += n
            if not self.tls.pending():
                return total

    # ---- output -------------------------------------------------------------------
    def flush(self) -> bool:
        out = self.out
        while out:
            part = out[0]
            if isinstance(part, bytes):
                data: bytes | memoryview = memoryview(part)[self._sent :]
                if len(out) > 1 and len(data) < CHUNK:
                    pieces: list[bytes | memoryview] = [data]
                    size = len(data)
                    for more in list(out)[1:64]:
                        if not isinstance(more, bytes) or size + len(more) > CHUNK:
                            break
                        pieces.append(more)
                        size += len(more)
                    if len(pieces) > 1:
                        data = b"".join(pieces)
            else:
                want = min(part.size - self._sent, CHUNK)
                data = os.pread(part.fd, want, part.position + self._sent)
                if len(data) < want:
                    raise ConnectionError("file shorter than the chunk being sent")
            if not data:
                self._consume(0)
                continue
            try:
                n = self.tls.send(data)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                return False
            self._consume(n)
        return True
