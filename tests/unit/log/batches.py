"""Build valid uncompressed v2 record batches for log tests (no dependency on
riverhead.protocol.records).

Layout follows riverhead.protocol.batch: a 61-byte header then records, each record::

    varint length, int8 attributes, varlong timestampDelta, varint offsetDelta,
    varint keyLength (-1 = null), key, varint valueLength, value, varint headerCount

Varints are zig-zag encoded; the CRC-32C covers bytes 21..end.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import crc32c

_HEADER = struct.Struct(">qiibIhiqqqhii")


def zigzag_varint(value: int) -> bytes:
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_record(
    offset_delta: int, timestamp_delta: int, key: bytes | None, value: bytes
) -> bytes:
    body = bytearray(b"\x00")
    body += zigzag_varint(timestamp_delta)
    body += zigzag_varint(offset_delta)
    if key is None:
        body += zigzag_varint(-1)
    else:
        body += zigzag_varint(len(key)) + key
    body += zigzag_varint(len(value)) + value
    body += zigzag_varint(0)
    return zigzag_varint(len(body)) + bytes(body)


def build_batch(
    values: Sequence[bytes],
    *,
    base_offset: int = 0,
    timestamps: Sequence[int] | None = None,
    base_timestamp: int = 1_000,
    keys: Sequence[bytes | None] | None = None,
    attributes: int = 0,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    leader_epoch: int = -1,
) -> bytearray:
    """One batch holding ``values`` (at least one); timestamps default to base+i."""
    assert values, "a batch needs at least one record"
    if timestamps is None:
        timestamps = [base_timestamp + i for i in range(len(values))]
    first_ts = timestamps[0]
    records = b"".join(
        encode_record(i, ts - first_ts, None if keys is None else keys[i], value)
        for i, (value, ts) in enumerate(zip(values, timestamps, strict=True))
    )
    size = 61 + len(records)
    buf = bytearray(size)
    _HEADER.pack_into(
        buf,
        0,
        base_offset,
        size - 12,
        leader_epoch,
        2,
        0,
        attributes,
        len(values) - 1,
        first_ts,
        max(timestamps),
        producer_id,
        producer_epoch,
        base_sequence,
        len(values),
    )
    buf[61:] = records
    struct.pack_into(">I", buf, 17, crc32c.crc32c(bytes(buf[21:])))
    return buf


def batch_of_size(records: int, value_size: int, **kwargs: object) -> bytearray:
    """A batch of ``records`` records with values of ``value_size`` bytes."""
    values = [bytes([65 + i % 26]) * value_size for i in range(records)]
    return build_batch(values, **kwargs)  # type: ignore[arg-type]
