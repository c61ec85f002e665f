"""The four record-batch codecs, in the wire formats real Kafka clients read and write.

A v2 batch stores its codec in attribute bits 0-2 and compresses everything after the
61-byte header (all records) as *one* block. The block formats:

``GZIP`` (1)
    An RFC 1952 gzip stream, as ``java.util.zip.GZIPOutputStream`` writes it. Decoding
    accepts concatenated members. Default level 6 (Java's ``Deflater.DEFAULT_COMPRESSION``).
``SNAPPY`` (2)
    Java Kafka writes snappy-java's *xerial* framing, which we also write::

        82 53 4e 41 50 50 59 00   magic "\\x82SNAPPY\\0"
        00 00 00 01 00 00 00 01   version 1, min compatible version 1 (int32 BE)
        then per block of <= 32 KiB input: int32 BE compressed size, raw snappy block

    librdkafka (confluent-kafka, kcat) *sends* one raw snappy block without framing;
    kafka-python and aiokafka send xerial framing. Every client reads both, telling them
    apart by the 8-byte magic, and so does :func:`decompress`. This is *not* the official
    snappy "framing format" (``sNaPpY`` stream identifier), which no Kafka client uses.
``LZ4`` (3)
    The standard LZ4 frame format (magic ``04 22 4d 18``) with a correct header checksum
    (KIP-57; Kafka 0.8/0.9's broken checksum is not supported). We write what Java's
    ``Lz4BlockOutputStream`` writes: independent 64 KiB blocks, no content size, no
    checksums. Java cannot read linked blocks, so never write them.
``ZSTD`` (4)
    A standard zstd frame (KIP-110; Produce v7+). Java's zstd-jni stream writer omits the
    content size, so decoding never relies on it. Decoding accepts concatenated frames.

:func:`compress`/:func:`decompress` are pure and thread-safe. Bad input raises
:class:`CompressionError` (a ``ValueError``) naming the codec, never a library exception.
Snappy blocks whose declared size exceeds what snappy can expand to are rejected before
allocation; the other codecs have no output cap (Kafka has none either).
"""

from __future__ import annotations

import struct
import zlib
from enum import IntEnum

import cramjam
import lz4.frame
import zstandard

from riverhead.protocol.varint import Buffer

__all__ = ["Codec", "CompressionError", "codec_from_name", "compress", "decompress"]


class Codec(IntEnum):
    """Compression codec ids of record batch attribute bits 0-2 (5-7 are undefined)."""

    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4


class CompressionError(ValueError):
    """Compressed data could not be decoded (Kafka: CORRUPT_MESSAGE).

    ``codec`` is the lower-case codec name ("gzip", "snappy", "lz4", "zstd") or
    "unknown" for an undefined codec id.
    """

    def __init__(self, message: str, codec: str = "unknown") -> None:
        super().__init__(message, codec)
        self.codec = codec
        self.message = message

    def __str__(self) -> str:
        return self.message


_NAMES: dict[str, Codec] = {
    "none": Codec.NONE,
    "uncompressed": Codec.NONE,
    "gzip": Codec.GZIP,
    "snappy": Codec.SNAPPY,
    "lz4": Codec.LZ4,
    "zstd": Codec.ZSTD,
}


def codec_from_name(name: str) -> Codec:
    """Codec for a client/topic ``compression.type`` value, case-insensitive.

    Accepts "none", "uncompressed", "gzip", "snappy", "lz4" and "zstd". Topic configs
    may also say "producer" (keep the producer's codec); that is a policy, not a codec,
    so it raises ``ValueError`` like any other unknown name.
    """
    try:
        return _NAMES[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown compression codec {name!r}; expected one of {', '.join(_NAMES)}"
        ) from None


def _codec(codec: Codec | int) -> Codec:
    try:
        return Codec(codec)
    except ValueError:
        raise CompressionError(f"unknown compression codec id {codec}") from None


# ---------------------------------------------------------------------------------------
# snappy (xerial framing around raw snappy blocks)

XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_XERIAL_HEADER_SIZE = len(_XERIAL_HEADER)  # 16
XERIAL_BLOCK_SIZE = 32 * 1024  # snappy-java's SnappyOutputStream default, used by Kafka
_INT32 = struct.Struct(">i")
# A raw snappy element expands at most ~21x (a 3-byte copy of 64 bytes); the declared
# size of a block beyond this bound is a lie, so refuse it before allocating.
_SNAPPY_MAX_RATIO = 32


def _snappy_raw_decompress(block: Buffer, where: str) -> bytes:
    try:
        declared = int(cramjam.snappy.decompress_raw_len(block))
    except cramjam.DecompressionError as exc:
        raise CompressionError(f"snappy: bad block {where}: {exc}", "snappy") from None
    if declared > _SNAPPY_MAX_RATIO * len(block) + 64:
        raise CompressionError(
            f"snappy: block {where} declares {declared} bytes from {len(block)} compressed, "
            "more than snappy can expand to",
            "snappy",
        )
    try:
        return bytes(cramjam.snappy.decompress_raw(block))
    except cramjam.DecompressionError as exc:
        raise CompressionError(f"snappy: bad block {where}: {exc}", "snappy") from None


def _snappy_compress(data: Buffer) -> bytes:
    out = bytearray(_XERIAL_HEADER)
    view = memoryview(data)
    for start in range(0, len(view), XERIAL_BLOCK_SIZE):
        block = bytes(cramjam.snappy.compress_raw(view[start : start + XERIAL_BLOCK_SIZE]))
        out += _INT32.pack(len(block))
        out += block
    return bytes(out)


def _snappy_decompress(data: Buffer) -> bytes:
    view = memoryview(data)
    if view[:8] != XERIAL_MAGIC:
        return _snappy_raw_decompress(view, "(raw, unframed)")
    if len(view) < _XERIAL_HEADER_SIZE:
        raise CompressionError(
            f"snappy: xerial header truncated at {len(view)} of 16 bytes", "snappy"
        )
    out = bytearray()
    pos = _XERIAL_HEADER_SIZE
    end = len(view)
    while pos < end:
        if end - pos < 4:
            raise CompressionError(f"snappy: xerial block length at byte {pos} truncated", "snappy")
        (size,) = _INT32.unpack_from(view, pos)
        pos += 4
        if size < 0 or size > end - pos:
            raise CompressionError(
                f"snappy: xerial block at byte {pos - 4} declares {size} bytes, {end - pos} remain",
                "snappy",
            )
        out += _snappy_raw_decompress(view[pos : pos + size], f"at byte {pos}")
        pos += size
    return bytes(out)


# ---------------------------------------------------------------------------------------
# gzip, lz4, zstd: each loops over concatenated members/frames and insists the last one
# is complete (a truncated stream otherwise decodes "successfully" to a prefix).


def _gzip_decompress(data: Buffer) -> bytes:
    parts: list[bytes] = []
    rest: Buffer = data
    try:
        while True:
            d = zlib.decompressobj(wbits=31)
            parts.append(d.decompress(rest))
            if not d.eof:
                raise CompressionError("gzip: stream truncated", "gzip")
            rest = d.unused_data
            if not rest:
                return b"".join(parts)
    except zlib.error as exc:
        raise CompressionError(f"gzip: {exc}", "gzip") from None


def _lz4_decompress(data: Buffer) -> bytes:
    parts: list[bytes] = []
    rest: Buffer | None = data
    try:
        while rest:
            d = lz4.frame.LZ4FrameDecompressor()
            parts.append(d.decompress(rest))
            if not d.eof:
                raise CompressionError("lz4: frame truncated", "lz4")
            rest = d.unused_data
    except RuntimeError as exc:
        raise CompressionError(f"lz4: {exc}", "lz4") from None
    if not parts:
        raise CompressionError("lz4: no frame (empty input)", "lz4")
    return b"".join(parts)


def _zstd_decompress(data: Buffer) -> bytes:
    parts: list[bytes] = []
    rest: Buffer = data
    dctx = zstandard.ZstdDecompressor()
    try:
        while rest:
            d = dctx.decompressobj()
            parts.append(d.decompress(rest))
            if not d.eof:
                raise CompressionError("zstd: frame truncated", "zstd")
            rest = d.unused_data
    except zstandard.ZstdError as exc:
        raise CompressionError(f"zstd: {exc}", "zstd") from None
    if not parts:
        raise CompressionError("zstd: no frame (empty input)", "zstd")
    return b"".join(parts)


def compress(codec: Codec | int, data: Buffer, *, level: int | None = None) -> bytes:
    """Compress ``data`` as one block in ``codec``'s Kafka wire format.

    ``level`` is the codec's own level (gzip 1-9, default 6; lz4 frame level, default 0
    = fast; zstd 1-22, default 3); snappy has none. ``Codec.NONE`` returns a copy.
    """
    c = _codec(codec)
    if c is Codec.NONE:
        return bytes(data)
    if c is Codec.GZIP:
        z = zlib.compressobj(6 if level is None else level, zlib.DEFLATED, 31)
        return z.compress(data) + z.flush()
    if c is Codec.SNAPPY:
        return _snappy_compress(data)
    if c is Codec.LZ4:
        return bytes(
            lz4.frame.compress(
                data,
                compression_level=0 if level is None else level,
                block_size=lz4.frame.BLOCKSIZE_MAX64KB,
                block_linked=False,
                content_checksum=False,
                store_size=False,
            )
        )
    return bytes(zstandard.ZstdCompressor(level=3 if level is None else level).compress(data))


def decompress(codec: Codec | int, data: Buffer) -> bytes:
    """Inverse of :func:`compress`, also reading what other Kafka clients write.

    Raises :class:`CompressionError` for an undefined codec id or undecodable, truncated
    or trailing-garbage input.
    """
    c = _codec(codec)
    if c is Codec.NONE:
        return bytes(data)
    if c is Codec.GZIP:
        return _gzip_decompress(data)
    if c is Codec.SNAPPY:
        return _snappy_decompress(data)
    if c is Codec.LZ4:
        return _lz4_decompress(data)
    return _zstd_decompress(data)
