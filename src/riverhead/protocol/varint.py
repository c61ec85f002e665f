"""Variable-length integers of the Kafka protocol: zig-zag varints and unsigned varints.

Both use the protobuf base-128 layout: 7 payload bits per byte, least significant group
first, the high bit (0x80) set on every byte except the last::

    300 -> 0b10_0101100 -> ac 02

*Signed* varints (record format v2: lengths, offset/timestamp deltas, header counts) are
zig-zag mapped first so that small negative numbers stay short::

    0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3, ...   i.e. (n << 1) ^ (n >> 63)

    encode_varint(-1) == b"\\x01"      encode_varint(150) == b"\\xac\\x02"

Kafka's ``varint`` (int32, at most 5 bytes) and ``varlong`` (int64, at most 10 bytes)
differ only in range; an int32 encodes identically either way, so one pair of functions
covers both and accepts the full int64 range.

*Unsigned* varints (flexible protocol versions, KIP-482: compact lengths, tagged-field
counts, tags and sizes) skip the zig-zag step. They accept 0 .. 2**64-1 here; the 32-bit
limit of Kafka's fields is left to the caller, which must range-check lengths anyway.

Decoders take ``(buf, pos)`` and return ``(value, new_pos)``. They raise ``ValueError``
naming the byte position when the input ends mid-number, when a number runs past 10
bytes, or when its value does not fit in 64 bits. Everything here is pure and thread-safe.
"""

from __future__ import annotations

from typing import TypeAlias

MAX_VARINT_BYTES = 10

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1

Buffer: TypeAlias = bytes | bytearray | memoryview
"""Byte sequences the decoders accept (a ``memoryview`` must have format ``"B"``)."""


def encode_uvarint(n: int) -> bytes:
    """Unsigned varint of ``0 <= n < 2**64``; raises ``ValueError`` outside that range."""
    if n < 0 or n > _UINT64_MAX:
        raise ValueError(f"unsigned varint out of range: {n}")
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def decode_uvarint(buf: Buffer, pos: int = 0) -> tuple[int, int]:
    """Read an unsigned varint at ``buf[pos]``; return ``(value, position after it)``.

    Raises ``ValueError`` if the buffer ends first, the number is longer than 10 bytes,
    or its value exceeds 64 bits.
    """
    end = len(buf)
    if pos >= end or pos < 0:
        raise ValueError(f"truncated varint at byte {pos}: no bytes remain")
    b = buf[pos]
    if b < 0x80:  # the common one-byte case
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    i = pos + 1
    limit = pos + MAX_VARINT_BYTES
    while True:
        if i >= end:
            raise ValueError(
                f"truncated varint at byte {pos}: input ends after {i - pos} byte(s) "
                "with the continuation bit still set"
            )
        if i >= limit:
            raise ValueError(f"varint at byte {pos} is longer than {MAX_VARINT_BYTES} bytes")
        b = buf[i]
        result |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            break
        shift += 7
    if result > _UINT64_MAX:
        raise ValueError(f"varint at byte {pos} overflows 64 bits")
    return result, i


def encode_varint(n: int) -> bytes:
    """Zig-zag varint (Kafka varint/varlong) of an int64; raises ``ValueError`` outside it."""
    if n < _INT64_MIN or n > _INT64_MAX:
        raise ValueError(f"varint out of int64 range: {n}")
    return encode_uvarint((n << 1) ^ (n >> 63))


def decode_varint(buf: Buffer, pos: int = 0) -> tuple[int, int]:
    """Read a zig-zag varint at ``buf[pos]``; return ``(value, position after it)``.

    Raises ``ValueError`` like :func:`decode_uvarint`.
    """
    raw, pos = decode_uvarint(buf, pos)
    return (raw >> 1) ^ -(raw & 1), pos


def size_of_varint(n: int) -> int:
    """Bytes :func:`encode_varint` produces for ``n`` (without building them)."""
    raw = (n << 1) ^ (n >> 63)
    return max(1, (raw.bit_length() + 6) // 7)


def size_of_uvarint(n: int) -> int:
    """Bytes :func:`encode_uvarint` produces for ``n``."""
    return max(1, (n.bit_length() + 6) // 7)
