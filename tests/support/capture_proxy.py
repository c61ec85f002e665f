"""A recording TCP proxy: forwards Kafka connections to a broker and records every request.

Clients only keep talking through the proxy if the broker advertises the proxy's address
(``advertised.listeners=PLAINTEXT://127.0.0.1:<proxy port>``); otherwise they follow the
Metadata response straight to the broker after bootstrap.

Each client→broker byte stream is split into frames (int32 size prefix); every request is
recorded as a :class:`Captured` with its api key, version and correlation id, in arrival
order. Responses are forwarded untouched and not recorded. A label set with
:meth:`CaptureProxy.label` (e.g. the client library's name) is stamped on the requests of
connections accepted while it is set.

Threads: one acceptor, two pumps per connection; :attr:`CaptureProxy.captured` is guarded
by a lock (read it through :meth:`CaptureProxy.frames`).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass

_SIZE = struct.Struct(">i")
_HEAD = struct.Struct(">hhi")


@dataclass(frozen=True)
class Captured:
    label: str
    api_key: int
    api_version: int
    correlation_id: int
    payload: bytes  # the request without its size prefix: header + body


class CaptureProxy:
    def __init__(self, upstream: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.upstream = upstream
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(128)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._captured: list[Captured] = []
        self._label = ""
        self._socks: list[socket.socket] = []
        self._running = True
        self._thread = threading.Thread(
            target=self._accept_loop, name="capture-accept", daemon=True
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> CaptureProxy:
        self._thread.start()
        return self

    def label(self, label: str) -> None:
        """Stamp requests of connections accepted from now on with ``label``."""
        self._label = label

    def frames(self) -> list[Captured]:
        with self._lock:
            return list(self._captured)

    def close(self) -> None:
        self._running = False
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> CaptureProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals -------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while self._running:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._socks += [client, server]
            label = self._label
            threading.Thread(
                target=self._requests, args=(client, server, label), daemon=True
            ).start()
            threading.Thread(target=self._responses, args=(server, client), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket, label: str) -> None:
        buf = bytearray()
        try:
            while True:
                chunk = client.recv(1 << 16)
                if not chunk:
                    break
                server.sendall(chunk)
                buf += chunk
                while len(buf) >= 4:
                    (size,) = _SIZE.unpack_from(buf, 0)
                    if size < 0 or len(buf) < 4 + size:
                        break
                    payload = bytes(buf[4 : 4 + size])
                    del buf[: 4 + size]
                    if len(payload) >= 8:
                        key, version, cid = _HEAD.unpack_from(payload, 0)
                        with self._lock:
                            self._captured.append(Captured(label, key, version, cid, payload))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_WR)

    @staticmethod
    def _responses(server: socket.socket, client: socket.socket) -> None:
        try:
            while True:
                chunk = server.recv(1 << 16)
                if not chunk:
                    break
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)
