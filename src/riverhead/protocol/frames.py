"""Kafka frames: the size prefix, request headers and response headers.

Every message on the wire is ``int32 size`` followed by ``size`` bytes. A request starts
with a header::

    v1 (non-flexible APIs): api_key int16, api_version int16, correlation_id int32,
                            client_id nullable string (int16 length, -1 = null)
    v2 (flexible versions): v1 followed by tagged fields (uvarint count, then per tag
                            uvarint tag, uvarint size, bytes)

(client_id keeps the legacy int16 length even in v2.) A response starts with
``correlation_id int32`` (header v0), followed in header v1 by an empty tagged-field
buffer (one ``0x00`` byte). ApiVersions responses always use header v0 so that a client
can parse the answer whatever version it asked for (KIP-511).

Pure functions over bytes; thread-safe.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from riverhead.protocol.apis import ApiKey, is_flexible
from riverhead.protocol.varint import decode_uvarint

SIZE = struct.Struct(">i")
_HEADER_FIXED = struct.Struct(">hhih")


class FrameError(ValueError):
    """A frame cannot be parsed; the connection that sent it should be closed."""


@dataclass(frozen=True, slots=True)
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    size: int  # bytes the header takes; the body starts there

    @property
    def flexible(self) -> bool:
        return is_flexible(self.api_key, self.api_version)


def parse_request_header(buf: bytes | bytearray | memoryview) -> RequestHeader:
    """Parse the header at the start of a request body (the size prefix already removed).

    Raises :class:`FrameError` when the bytes are too short or malformed.
    """
    if len(buf) < 10:
        raise FrameError(f"request header needs at least 10 bytes, got {len(buf)}")
    api_key, api_version, correlation_id, client_len = _HEADER_FIXED.unpack_from(buf, 0)
    pos = 10
    client_id: str | None = None
    if client_len >= 0:
        if pos + client_len > len(buf):
            raise FrameError(f"client_id length {client_len} runs past the request end")
        try:
            client_id = bytes(buf[pos : pos + client_len]).decode()
        except UnicodeDecodeError:
            raise FrameError("client_id is not valid UTF-8") from None
        pos += client_len
    elif client_len != -1:
        raise FrameError(f"client_id length {client_len} is negative")
    # ApiVersions' header is always v1-shaped on the request side only for v0..2; v3+ uses
    # header v2 like any flexible request.
    if is_flexible(api_key, api_version):
        pos = skip_tagged_fields(buf, pos)
    return RequestHeader(api_key, api_version, correlation_id, client_id, pos)


def skip_tagged_fields(buf: bytes | bytearray | memoryview, pos: int) -> int:
    """Skip a tagged-field buffer at ``pos``; returns the position after it."""
    try:
        count, pos = decode_uvarint(buf, pos)
        for _ in range(count):
            _tag, pos = decode_uvarint(buf, pos)
            size, pos = decode_uvarint(buf, pos)
            pos += size
    except ValueError as exc:
        raise FrameError(f"bad tagged fields: {exc}") from None
    if pos > len(buf):
        raise FrameError("tagged field runs past the request end")
    return pos


def response_header(correlation_id: int, api_key: int, api_version: int) -> bytes:
    """Response header bytes (v0, or v1 for flexible versions except ApiVersions)."""
    if api_key != ApiKey.API_VERSIONS and is_flexible(api_key, api_version):
        return SIZE.pack(correlation_id) + b"\x00"
    return SIZE.pack(correlation_id)
