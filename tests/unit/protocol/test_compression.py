"""Codecs: round trips, the exact framings Kafka clients write, and bad input."""

from __future__ import annotations

import contextlib
import gzip
import pickle
import struct
import types
from collections.abc import Iterator

import cramjam
import kafka.codec
import lz4.frame
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from riverhead.protocol.compression import (
    XERIAL_BLOCK_SIZE,
    XERIAL_MAGIC,
    Codec,
    CompressionError,
    codec_from_name,
    compress,
    decompress,
)

pytestmark = pytest.mark.unit

COMPRESSED = [Codec.GZIP, Codec.SNAPPY, Codec.LZ4, Codec.ZSTD]
TEXTY = b"the quick brown fox jumps over the lazy dog " * 2000  # ~88 KiB: several blocks


@pytest.fixture
def kafka_python_snappy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """kafka-python's snappy codec needs python-snappy; back it with cramjam's raw snappy.

    kafka-python's own xerial framing code then runs unchanged on top of it.
    """
    shim = types.SimpleNamespace(
        compress=lambda b: bytes(cramjam.snappy.compress_raw(b)),
        decompress=lambda b: bytes(cramjam.snappy.decompress_raw(b)),
    )
    monkeypatch.setattr(kafka.codec, "snappy", shim)
    yield


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(Codec)), st.binary(max_size=5000), st.booleans())
def test_round_trip(codec: Codec, data: bytes, as_view: bool) -> None:
    wire = compress(codec, memoryview(data) if as_view else data)
    assert decompress(codec, memoryview(wire) if as_view else wire) == data


@pytest.mark.parametrize("codec", list(Codec))
def test_round_trip_large(codec: Codec) -> None:
    assert decompress(codec, compress(codec, TEXTY)) == TEXTY


@pytest.mark.parametrize("codec", COMPRESSED)
def test_int_codec_ids_accepted(codec: Codec) -> None:
    assert decompress(int(codec), compress(int(codec), TEXTY)) == TEXTY


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("none", Codec.NONE),
        ("uncompressed", Codec.NONE),
        ("gzip", Codec.GZIP),
        ("Snappy", Codec.SNAPPY),
        (" lz4 ", Codec.LZ4),
        ("ZSTD", Codec.ZSTD),
    ],
)
def test_codec_from_name(name: str, codec: Codec) -> None:
    assert codec_from_name(name) is codec


@pytest.mark.parametrize("name", ["producer", "brotli", ""])
def test_codec_from_name_unknown(name: str) -> None:
    with pytest.raises(ValueError, match="unknown compression codec"):
        codec_from_name(name)


# --- gzip -------------------------------------------------------------------------------


def test_gzip_reads_stdlib_and_concatenated_members() -> None:
    assert decompress(Codec.GZIP, gzip.compress(TEXTY, mtime=12345)) == TEXTY
    two = gzip.compress(b"abc") + gzip.compress(b"def")
    assert decompress(Codec.GZIP, two) == b"abcdef"
    assert gzip.decompress(compress(Codec.GZIP, TEXTY)) == TEXTY


def test_gzip_level() -> None:
    assert len(compress(Codec.GZIP, TEXTY, level=1)) >= len(compress(Codec.GZIP, TEXTY, level=9))


# --- snappy -----------------------------------------------------------------------------


def test_snappy_writes_xerial_framing_in_32k_blocks() -> None:
    wire = compress(Codec.SNAPPY, TEXTY)
    assert wire[:8] == XERIAL_MAGIC == b"\x82SNAPPY\x00"
    assert struct.unpack(">ii", wire[8:16]) == (1, 1)
    pos, blocks, out = 16, 0, b""
    while pos < len(wire):
        (size,) = struct.unpack_from(">i", wire, pos)
        out += bytes(cramjam.snappy.decompress_raw(wire[pos + 4 : pos + 4 + size]))
        pos += 4 + size
        blocks += 1
    assert out == TEXTY
    assert blocks == -(-len(TEXTY) // XERIAL_BLOCK_SIZE)


def test_snappy_reads_raw_unframed_as_librdkafka_sends() -> None:
    raw = bytes(cramjam.snappy.compress_raw(TEXTY))
    assert raw[:8] != XERIAL_MAGIC
    assert decompress(Codec.SNAPPY, raw) == TEXTY


@pytest.mark.usefixtures("kafka_python_snappy")
def test_snappy_interop_with_kafka_python_xerial() -> None:
    theirs = kafka.codec.snappy_encode(TEXTY)  # xerial, as kafka-python/aiokafka send
    assert theirs[:8] == XERIAL_MAGIC
    assert decompress(Codec.SNAPPY, theirs) == TEXTY
    assert kafka.codec.snappy_decode(compress(Codec.SNAPPY, TEXTY)) == TEXTY
    unframed = kafka.codec.snappy_encode(TEXTY, xerial_compatible=False)
    assert decompress(Codec.SNAPPY, unframed) == TEXTY


def test_snappy_empty_xerial_stream_is_empty() -> None:
    assert compress(Codec.SNAPPY, b"") == XERIAL_MAGIC + struct.pack(">ii", 1, 1)
    assert decompress(Codec.SNAPPY, compress(Codec.SNAPPY, b"")) == b""


def test_snappy_rejects_impossible_declared_size() -> None:
    # A raw block claiming 2**32-1 bytes from 5: refused before allocating.
    with pytest.raises(CompressionError, match="more than snappy can expand"):
        decompress(Codec.SNAPPY, b"\xff\xff\xff\xff\x0f")


@pytest.mark.parametrize(
    ("wire", "match"),
    [
        (XERIAL_MAGIC + b"\x00\x00", "xerial header truncated"),
        (XERIAL_MAGIC + b"\0\0\0\1\0\0\0\1\0\0", "block length at byte 16 truncated"),
        (XERIAL_MAGIC + b"\0\0\0\1\0\0\0\1\0\0\0\x09abc", "declares 9 bytes, 3 remain"),
        (XERIAL_MAGIC + b"\0\0\0\1\0\0\0\1\xff\xff\xff\xff", "declares -1 bytes"),
    ],
)
def test_snappy_bad_xerial(wire: bytes, match: str) -> None:
    with pytest.raises(CompressionError, match=match) as info:
        decompress(Codec.SNAPPY, wire)
    assert info.value.codec == "snappy"


# --- lz4 --------------------------------------------------------------------------------


def test_lz4_writes_independent_blocks_without_content_size() -> None:
    wire = compress(Codec.LZ4, TEXTY)
    assert wire[:4] == b"\x04\x22\x4d\x18"
    flg, bd = wire[4], wire[5]
    assert flg >> 6 == 1  # version 01
    assert flg & 0x20  # block independence: Java cannot read linked blocks
    assert not flg & 0x08  # no content size
    assert not flg & 0x04  # no content checksum
    assert (bd >> 4) & 0x7 == 4  # 64 KiB max block size
    info = lz4.frame.get_frame_info(wire)
    assert info["block_linked"] is False


@pytest.mark.parametrize("content_checksum", [False, True])
@pytest.mark.parametrize("store_size", [False, True])
@pytest.mark.parametrize("block_linked", [False, True])
def test_lz4_reads_every_frame_variant(
    content_checksum: bool, store_size: bool, block_linked: bool
) -> None:
    wire = lz4.frame.compress(
        TEXTY,
        content_checksum=content_checksum,
        store_size=store_size,
        block_linked=block_linked,
        block_checksum=True,
    )
    assert decompress(Codec.LZ4, wire) == TEXTY


def test_lz4_interop_with_kafka_python() -> None:
    assert decompress(Codec.LZ4, kafka.codec.lz4_encode(TEXTY)) == TEXTY
    assert kafka.codec.lz4_decode(compress(Codec.LZ4, TEXTY)) == TEXTY


def test_lz4_concatenated_frames() -> None:
    wire = compress(Codec.LZ4, b"abc") + compress(Codec.LZ4, b"def")
    assert decompress(Codec.LZ4, wire) == b"abcdef"


# --- zstd -------------------------------------------------------------------------------


def test_zstd_reads_frames_without_content_size() -> None:
    # Java's zstd-jni stream writer omits the content size from the frame header.
    no_size = zstandard.ZstdCompressor(write_content_size=False).compress(TEXTY)
    assert zstandard.get_frame_parameters(no_size).content_size == zstandard.CONTENTSIZE_UNKNOWN
    assert decompress(Codec.ZSTD, no_size) == TEXTY
    cobj = zstandard.ZstdCompressor().compressobj()
    streamed = cobj.compress(TEXTY) + cobj.flush()
    assert decompress(Codec.ZSTD, streamed) == TEXTY


def test_zstd_interop_with_kafka_python_and_concatenation() -> None:
    assert decompress(Codec.ZSTD, kafka.codec.zstd_encode(TEXTY)) == TEXTY
    assert kafka.codec.zstd_decode(compress(Codec.ZSTD, TEXTY)) == TEXTY
    two = compress(Codec.ZSTD, b"abc") + compress(Codec.ZSTD, b"def")
    assert decompress(Codec.ZSTD, two) == b"abcdef"


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("codec", COMPRESSED)
@pytest.mark.parametrize("damage", ["empty", "truncated", "trailing", "garbage"])
def test_bad_input_raises_compression_error_naming_codec(codec: Codec, damage: str) -> None:
    good = compress(codec, TEXTY)
    wire = {
        "empty": b"",
        "truncated": good[: len(good) // 2],
        "trailing": good + b"\x01\x02\x03junk",
        "garbage": b"this is not compressed data at all, not even a little",
    }[damage]
    with pytest.raises(CompressionError) as info:
        decompress(codec, wire)
    assert info.value.codec == codec.name.lower()
    assert codec.name.lower() in str(info.value)


@pytest.mark.parametrize("codec_id", [5, 6, 7, -1])
def test_unknown_codec_id(codec_id: int) -> None:
    with pytest.raises(CompressionError, match=f"unknown compression codec id {codec_id}"):
        decompress(codec_id, b"x")
    with pytest.raises(CompressionError):
        compress(codec_id, b"x")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(COMPRESSED), st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_other_errors(codec: Codec, junk: bytes) -> None:
    with contextlib.suppress(CompressionError):
        decompress(codec, junk)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(COMPRESSED),
    st.binary(min_size=1, max_size=400),
    st.data(),
)
def test_mutated_streams_never_escape_as_other_errors(
    codec: Codec, payload: bytes, data: st.DataObject
) -> None:
    wire = bytearray(compress(codec, payload))
    index = data.draw(st.integers(min_value=0, max_value=len(wire) - 1))
    wire[index] ^= data.draw(st.integers(min_value=1, max_value=255))
    with contextlib.suppress(CompressionError):
        decompress(codec, bytes(wire))


def test_compression_error_pickles() -> None:
    err = pickle.loads(pickle.dumps(CompressionError("lz4: frame truncated", "lz4")))
    assert (str(err), err.codec) == ("lz4: frame truncated", "lz4")
    assert isinstance(err, ValueError)
