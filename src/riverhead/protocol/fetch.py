"""Fetch: the hand-written hot-path response encoder, v4-v12.

Layout (v4-v11; v12 is flexible: compact arrays/strings/bytes and tagged fields)::

    throttle_time_ms int32 | error_code int16 (v7+) | session_id int32 (v7+)
    [responses: topic string,
       [partitions: partition_index int32, error_code int16, high_watermark int64,
                    last_stable_offset int64, log_start_offset int64 (v5+),
                    aborted_transactions nullable [producer_id int64, first_offset int64],
                    preferred_read_replica int32 (v11+),
                    records nullable bytes]]

The record bytes are not copied: :func:`encode_response` returns a list of parts, each
either ``bytes`` (protocol framing) or the caller's record chunk object (anything with a
``size`` attribute, e.g. a file slice sent with ``sendfile``). The parts concatenated, in
order, are the response body. Pure; thread-safe.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

from riverhead.protocol.varint import encode_uvarint

_I32 = struct.Struct(">i")
_TOP_V7 = struct.Struct(">ihi")
_PART = struct.Struct(">ihqq")
_I64 = struct.Struct(">q")
_DIVERGING = struct.Struct(">iq")


class Chunk(Protocol):
    @property
    def size(self) -> int: ...


@dataclass(slots=True)
class FetchPartition:
    partition_index: int
    error_code: int = 0
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    records: bytes | Chunk | None = b""  # empty, not null: librdkafka rejects null
    # (epoch, end offset) for a follower whose log diverged (v12+, tagged field 0).
    diverging_epoch: tuple[int, int] | None = None


def _len(n: int, flexible: bool) -> bytes:
    return encode_uvarint(n + 1) if flexible else _I32.pack(n)


def _string(value: str, flexible: bool) -> bytes:
    raw = value.encode()
    return (encode_uvarint(len(raw) + 1) if flexible else struct.pack(">h", len(raw))) + raw


def encode_response(
    version: int,
    topics: list[tuple[str, list[FetchPartition]]],
    *,
    throttle_time_ms: int = 0,
    error_code: int = 0,
) -> tuple[list[bytes | Chunk], int]:
    """Encode a Fetch response body; returns ``(parts, total_size)``. session_id is 0."""
    flexible = version >= 12
    parts: list[bytes | Chunk] = []
    head = [
        _TOP_V7.pack(throttle_time_ms, error_code, 0)
        if version >= 7
        else _I32.pack(throttle_time_ms)
    ]
    head.append(_len(len(topics), flexible))
    size = 0
    for name, partitions in topics:
        head.append(_string(name, flexible))
        head.append(_len(len(partitions), flexible))
        for p in partitions:
            head.append(
                _PART.pack(p.partition_index, p.error_code, p.high_watermark, p.last_stable_offset)
            )
            if version >= 5:
                head.append(_I64.pack(p.log_start_offset))
            head.append(b"\x00" if flexible else b"\xff\xff\xff\xff")  # aborted: null
            if version >= 11:
                head.append(b"\xff\xff\xff\xff")  # preferred_read_replica = -1
            records = p.records
            if records is None:
                head.append(b"\x00" if flexible else b"\xff\xff\xff\xff")
            else:
                n = len(records) if isinstance(records, bytes) else records.size
                head.append(_len(n, flexible))
                framing = b"".join(head)
                parts.append(framing)
                parts.append(records)
                size += len(framing) + n
                head = []
            if flexible:
                if p.diverging_epoch is None:
                    head.append(b"\x00")
                else:  # one tagged field: tag 0, 13 bytes (epoch, end offset, no tags)
                    head.append(b"\x01\x00\x0d" + _DIVERGING.pack(*p.diverging_epoch) + b"\x00")
        if flexible:
            head.append(b"\x00")
    if flexible:
        head.append(b"\x00")
    if head:
        tail = b"".join(head)
        parts.append(tail)
        size += len(tail)
    return parts, size
