"""A fault-injecting TCP proxy on loopback, for network-partition tests without privileges.

:class:`FaultProxy` listens on a free 127.0.0.1 port and forwards every connection to a
target. Two kinds of black hole (bytes stop flowing both ways, connections stay open, as
when packets are dropped; peers notice only by timeouts):

* ``partition()``: every connection, new ones included;
* ``block_clients(ids)``: only connections whose first Kafka request carries one of these
  client ids — how a broker's *outgoing* links are cut (Riverhead's inter-broker clients
  name themselves ``replica-<id>`` and ``broker-<id>``).

``heal()`` closes the black-holed connections (a healed network shows their TCP streams
broken) and lifts both; connections that kept flowing stay up. One thread per direction
per connection; stopped by :meth:`close`.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field

from tests.support.broker_process import free_port


def kafka_client_id(data: bytes) -> str | None:
    """The client id of the Kafka request at the start of ``data`` (None if not one)."""
    try:
        (length,) = struct.unpack_from(">h", data, 12)
        return data[14 : 14 + length].decode() if length >= 0 else None
    except (struct.error, UnicodeDecodeError):
        return None


@dataclass(eq=False)
class _Link:
    sockets: tuple[socket.socket, ...]
    client_id: str | None = None
    identified: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    def __init__(self, target_port: int, port: int = 0) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = port or free_port()
        self._partitioned = False
        self._blocked_clients: frozenset[str] = frozenset()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._links: set[_Link] = set()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(128)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def partition(self) -> None:
        self._partitioned = True

    def block_clients(self, client_ids: set[str]) -> None:
        self._blocked_clients = frozenset(client_ids)

    def heal(self) -> None:
        """Close the black-holed connections (only those) and lift both kinds of block."""
        with self._lock:
            links = [link for link in self._links if self._held(link) or self._closed.is_set()]
            self._links.difference_update(links)
        for link in links:
            for sock in link.sockets:
                with contextlib.suppress(OSError):
                    sock.close()
        self._partitioned = False
        self._blocked_clients = frozenset()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.heal()

    def _held(self, link: _Link) -> bool:
        return self._partitioned or (
            link.client_id is not None and link.client_id in self._blocked_clients
        )

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._partitioned:
                with self._lock:
                    self._links.add(_Link((client,)))
                continue  # accepted, never served: a black hole
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            link = _Link((client, upstream))
            with self._lock:
                self._links.add(link)
            threading.Thread(
                target=self._pump, args=(link, client, upstream, True), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(link, upstream, client, False), daemon=True
            ).start()

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket, outbound: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if outbound and not link.identified.is_set():
                    link.client_id = kafka_client_id(data)
                    link.identified.set()
                while self._held(link):  # black hole: hold the bytes
                    if self._closed.wait(0.1):
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
