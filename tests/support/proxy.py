"""A fault-injecting TCP proxy on loopback, for network-partition tests without privileges.

:class:`FaultProxy` listens on a free 127.0.0.1 port and forwards every connection to a
target. ``partition()`` turns it into a black hole: bytes stop flowing both ways and new
connections are accepted but never served, as when packets are dropped (no RST, so the
peers notice only by timeouts). ``heal()`` drops the black-holed connections (as a healed
network would show broken TCP streams) and resumes forwarding new ones. One thread per
direction per connection; stopped by :meth:`close`.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.support.broker_process import free_port


class FaultProxy:
    def __init__(self, target_port: int, port: int = 0) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = port or free_port()
        self._blocked = threading.Event()
        self._open = threading.Event()
        self._open.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(128)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def partition(self) -> None:
        self._open.clear()
        self._blocked.set()

    def heal(self) -> None:
        with self._lock:
            stale = list(self._sockets)
            self._sockets.clear()
        for sock in stale:
            with contextlib.suppress(OSError):
                sock.close()
        self._blocked.clear()
        self._open.set()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.heal()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.add(client)
            if self._blocked.is_set():
                continue  # accepted, never served: a black hole
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.add(upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while not self._open.wait(0.1):  # black hole: hold the bytes
                    if self._closed.is_set():
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
