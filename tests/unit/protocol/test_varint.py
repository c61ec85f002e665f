"""Zig-zag and unsigned varints: golden bytes, round trips, and every way input can be bad."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka.record import util as kafka_util

from riverhead.protocol.varint import (
    MAX_VARINT_BYTES,
    Buffer,
    decode_uvarint,
    decode_varint,
    encode_uvarint,
    encode_varint,
    size_of_uvarint,
    size_of_varint,
)

pytestmark = pytest.mark.unit

Decoder = Callable[[Buffer, int], tuple[int, int]]

INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
UINT64 = st.integers(min_value=0, max_value=(1 << 64) - 1)


@pytest.mark.parametrize(
    ("n", "wire"),
    [
        (0, "00"),
        (-1, "01"),
        (1, "02"),
        (-2, "03"),
        (63, "7e"),
        (-64, "7f"),
        (64, "8001"),
        (150, "ac02"),
        ((1 << 31) - 1, "feffffff0f"),
        (-(1 << 31), "ffffffff0f"),
        ((1 << 63) - 1, "feffffffffffffffff01"),
        (-(1 << 63), "ffffffffffffffffff01"),
    ],
)
def test_signed_golden(n: int, wire: str) -> None:
    assert encode_varint(n).hex() == wire
    assert decode_varint(bytes.fromhex(wire)) == (n, len(wire) // 2)


@pytest.mark.parametrize(
    ("n", "wire"), [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02")]
)
def test_unsigned_golden(n: int, wire: str) -> None:
    assert encode_uvarint(n).hex() == wire
    assert decode_uvarint(bytes.fromhex(wire)) == (n, len(wire) // 2)


@given(INT64, st.binary(max_size=4), st.binary(max_size=4))
def test_signed_round_trip_in_context(n: int, prefix: bytes, suffix: bytes) -> None:
    wire = encode_varint(n)
    assert len(wire) == size_of_varint(n) <= MAX_VARINT_BYTES
    buf = prefix + wire + suffix
    assert decode_varint(buf, len(prefix)) == (n, len(prefix) + len(wire))
    assert decode_varint(memoryview(bytearray(buf)), len(prefix)) == (n, len(prefix) + len(wire))


@given(UINT64)
def test_unsigned_round_trip(n: int) -> None:
    wire = encode_uvarint(n)
    assert len(wire) == size_of_uvarint(n)
    assert decode_uvarint(wire + b"\xff") == (n, len(wire))


@given(INT64)
def test_matches_kafka_python(n: int) -> None:
    out = bytearray()
    kafka_util.encode_varint(n, out.append)
    assert bytes(out) == encode_varint(n)
    assert kafka_util.decode_varint(bytes(out), 0) == decode_varint(bytes(out), 0)


@pytest.mark.parametrize("n", [1 << 63, -(1 << 63) - 1])
def test_encode_signed_out_of_range(n: int) -> None:
    with pytest.raises(ValueError, match="out of int64 range"):
        encode_varint(n)


@pytest.mark.parametrize("n", [-1, 1 << 64])
def test_encode_unsigned_out_of_range(n: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_uvarint(n)


@pytest.mark.parametrize("decode", [decode_varint, decode_uvarint])
def test_truncated_names_position(decode: Decoder) -> None:
    with pytest.raises(ValueError, match="truncated varint at byte 2"):
        decode(b"\x00\x00\x80\x80", 2)
    with pytest.raises(ValueError, match="truncated varint at byte 1"):
        decode(b"\x00", 1)
    with pytest.raises(ValueError, match="truncated varint at byte 0"):
        decode(b"", 0)


@pytest.mark.parametrize("decode", [decode_varint, decode_uvarint])
def test_overlong_rejected(decode: Decoder) -> None:
    with pytest.raises(ValueError, match="at byte 1 is longer than 10 bytes"):
        decode(b"\x00" + b"\x80" * 10 + b"\x00", 1)


def test_ten_byte_value_over_64_bits_rejected() -> None:
    with pytest.raises(ValueError, match="overflows 64 bits"):
        decode_uvarint(b"\xff" * 9 + b"\x7f")
    # The largest legal 10-byte number still decodes.
    assert decode_uvarint(b"\xff" * 9 + b"\x01") == ((1 << 64) - 1, 10)


@given(st.binary(max_size=16), st.integers(min_value=0, max_value=16))
def test_decode_never_raises_anything_but_value_error(buf: bytes, pos: int) -> None:
    for decode in (decode_varint, decode_uvarint):
        try:
            value, new_pos = decode(buf, pos)
        except ValueError:
            continue
        assert pos < new_pos <= min(len(buf), pos + MAX_VARINT_BYTES)
        assert -(1 << 63) <= value < (1 << 64)
