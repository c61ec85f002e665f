"""Produce: the hand-written hot-path codec (request decode, response encode), v0-v9.

Request layout (v3-v8; v0-v2 lack ``transactional_id``; v9 is flexible — compact strings,
arrays and bytes with uvarint length+1, and a tagged-field buffer closing every struct)::

    transactional_id nullable string | acks int16 | timeout_ms int32
    [topic_data: name string, [partition_data: index int32, records nullable bytes]]

``records`` are returned as zero-copy ``memoryview`` slices of the request buffer.

Response layout::

    [responses: name, [index int32, error_code int16, base_offset int64,
                       log_append_time_ms int64 (v2+), log_start_offset int64 (v5+),
                       record_errors [batch_index int32, message nullable string] (v8+),
                       error_message nullable string (v8+)]]
    throttle_time_ms int32 (v1+)

Pure; thread-safe.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from riverhead.protocol.frames import skip_tagged_fields
from riverhead.protocol.varint import decode_uvarint, encode_uvarint

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_ACKS_TIMEOUT = struct.Struct(">hi")
_PART_V0 = struct.Struct(">ihq")
_I64 = struct.Struct(">q")


class ProduceDecodeError(ValueError):
    """The Produce request body is malformed."""


@dataclass(slots=True)
class PartitionData:
    index: int
    records: memoryview | None


@dataclass(slots=True)
class TopicData:
    name: str
    partitions: list[PartitionData] = field(default_factory=list)


@dataclass(slots=True)
class ProduceRequest:
    transactional_id: str | None
    acks: int
    timeout_ms: int
    topics: list[TopicData]


@dataclass(slots=True)
class PartitionResult:
    index: int
    error_code: int = 0
    base_offset: int = -1
    log_append_time_ms: int = -1
    log_start_offset: int = -1
    error_message: str | None = None
    record_errors: list[tuple[int, str | None]] = field(default_factory=list)


class _Reader:
    __slots__ = ("buf", "flexible", "pos")

    def __init__(self, buf: memoryview, pos: int, flexible: bool) -> None:
        self.buf = buf
        self.pos = pos
        self.flexible = flexible

    def need(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.buf):
            raise ProduceDecodeError(f"need {n} bytes at {self.pos}, request has {len(self.buf)}")

    def int16(self) -> int:
        self.need(2)
        (value,) = _I16.unpack_from(self.buf, self.pos)
        self.pos += 2
        return int(value)

    def int32(self) -> int:
        self.need(4)
        (value,) = _I32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(value)

    def uvarint(self) -> int:
        try:
            value, self.pos = decode_uvarint(self.buf, self.pos)
        except ValueError as exc:
            raise ProduceDecodeError(str(exc)) from None
        return value

    def length(self) -> int:
        """Length of a (nullable) string/bytes/array; -1 for null."""
        if self.flexible:
            return self.uvarint() - 1
        return self.int16()

    def array_length(self) -> int:
        n = self.uvarint() - 1 if self.flexible else self.int32()
        if n > len(self.buf):  # each element takes at least one byte
            raise ProduceDecodeError(f"array length {n} exceeds the request size")
        return n

    def string(self) -> str | None:
        n = self.length()
        if n < 0:
            return None
        self.need(n)
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise ProduceDecodeError("string is not valid UTF-8") from None

    def bytes_(self) -> memoryview | None:
        n = self.uvarint() - 1 if self.flexible else self.int32()
        if n < 0:
            return None
        self.need(n)
        view = self.buf[self.pos : self.pos + n]
        self.pos += n
        return view

    def tags(self) -> None:
        if self.flexible:
            try:
                self.pos = skip_tagged_fields(self.buf, self.pos)
            except ValueError as exc:
                raise ProduceDecodeError(str(exc)) from None


def decode_request(buf: memoryview, pos: int, version: int) -> ProduceRequest:
    """Decode a Produce request body starting at ``pos`` (after the request header)."""
    r = _Reader(buf, pos, version >= 9)
    transactional_id = r.string() if version >= 3 else None
    r.need(6)
    acks, timeout_ms = _ACKS_TIMEOUT.unpack_from(buf, r.pos)
    r.pos += 6
    topics: list[TopicData] = []
    for _ in range(max(r.array_length(), 0)):
        name = r.string()
        if name is None:
            raise ProduceDecodeError("topic name is null")
        topic = TopicData(name)
        for _ in range(max(r.array_length(), 0)):
            index = r.int32()
            topic.partitions.append(PartitionData(index, r.bytes_()))
            r.tags()
        r.tags()
        topics.append(topic)
    r.tags()
    return ProduceRequest(transactional_id, acks, timeout_ms, topics)


def _string(value: str | None, flexible: bool) -> bytes:
    if value is None:
        return b"\x00" if flexible else b"\xff\xff"
    raw = value.encode()
    return (encode_uvarint(len(raw) + 1) if flexible else _I16.pack(len(raw))) + raw


def _array_len(n: int, flexible: bool) -> bytes:
    return encode_uvarint(n + 1) if flexible else _I32.pack(n)


def encode_response(
    version: int, results: list[tuple[str, list[PartitionResult]]], throttle_time_ms: int = 0
) -> bytes:
    """Encode a Produce response body for ``version`` (0-9)."""
    flexible = version >= 9
    out = [_array_len(len(results), flexible)]
    for name, partitions in results:
        out.append(_string(name, flexible))
        out.append(_array_len(len(partitions), flexible))
        for p in partitions:
            out.append(_PART_V0.pack(p.index, p.error_code, p.base_offset))
            if version >= 2:
                out.append(_I64.pack(p.log_append_time_ms))
            if version >= 5:
                out.append(_I64.pack(p.log_start_offset))
            if version >= 8:
                out.append(_array_len(len(p.record_errors), flexible))
                for batch_index, message in p.record_errors:
                    out.append(_I32.pack(batch_index))
                    out.append(_string(message, flexible))
                    if flexible:
                        out.append(b"\x00")
                out.append(_string(p.error_message, flexible))
            if flexible:
                out.append(b"\x00")
        if flexible:
            out.append(b"\x00")
    if version >= 1:
        out.append(_I32.pack(throttle_time_ms))
    if flexible:
        out.append(b"\x00")
    return b"".join(out)
