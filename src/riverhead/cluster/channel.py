"""A blocking Kafka-protocol client connection for broker-to-broker requests.

Used by follower fetchers (Fetch v12 with a replica id) and by leaders sending
AlterPartition to the controller. Requests are kio dataclasses; responses come back
decoded by kio. One request in flight; one :class:`Channel` per thread. Any socket error
closes the channel and raises :class:`ChannelError`; the caller reconnects.
"""

from __future__ import annotations

import io
import socket
import struct
from typing import TYPE_CHECKING, Any

from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer

from riverhead.protocol.apis import is_flexible

if TYPE_CHECKING:
    from riverhead.security.client import ClientSecurity

_SIZE = struct.Struct(">i")
_HEADER = struct.Struct(">hhih")


class ChannelError(OSError):
    pass


class Channel:
    # TLS/SASL for broker-to-broker channels, set once by the broker process from its
    # inter-broker listener (riverhead.security.client); None: PLAINTEXT.
    default_security: ClientSecurity | None = None

    def __init__(self, host: str, port: int, client_id: str, timeout: float) -> None:
        self.address = (host, port)
        self.security = Channel.default_security
        self.client_id = client_id.encode()
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._correlation = 0

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def _connect(self) -> socket.socket:
        if self._sock is None:
            try:
                sock = socket.create_connection(self.address, timeout=self.timeout)
            except OSError as exc:
                raise ChannelError(f"cannot connect to {self.address}: {exc}") from exc
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            security = self.security
            if security is not None:
                try:
                    sock = security.wrap(sock, self.address[0])
                except (OSError, ValueError) as exc:
                    sock.close()
                    raise ChannelError(f"TLS to {self.address} failed: {exc}") from exc
            self._sock = sock
            if security is not None:
                try:
                    security.authenticate(self)
                except OSError as exc:
                    self.close()
                    raise ChannelError(f"authentication to {self.address}: {exc}") from exc
        return self._sock

    def request(self, api_key: int, version: int, body: Any, timeout: float | None = None) -> Any:
        """Send ``body`` (a kio request object of this key and version); return the
        decoded response."""
        sock = self._connect()
        self._correlation = (self._correlation + 1) & 0x7FFFFFFF
        head = _HEADER.pack(api_key, version, self._correlation, len(self.client_id))
        head += self.client_id
        flexible = is_flexible(api_key, version)
        if flexible:
            head += b"\x00"
        out = io.BytesIO()
        entity_writer(load_request_schema(api_key, version))(out, body)
        payload = head + out.getvalue()
        try:
            sock.settimeout(timeout or self.timeout)
            sock.sendall(_SIZE.pack(len(payload)) + payload)
            size = _SIZE.unpack(self._read(sock, 4))[0]
            frame = self._read(sock, size)
        except OSError as exc:
            self.close()
            raise ChannelError(f"request to {self.address} failed: {exc}") from exc
        (correlation,) = struct.unpack_from(">i", frame)
        if correlation != self._correlation:
            self.close()
            raise ChannelError(f"correlation id {correlation} != {self._correlation}")
        pos = 5 if flexible and api_key != 18 else 4
        obj, _ = entity_reader(load_response_schema(api_key, version))(memoryview(frame), pos)
        return obj

    @staticmethod
    def _read(sock: socket.socket, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by the peer")
            buf += chunk
        return bytes(buf)
