"""Record batch v2 headers: parse, validate, and the in-place rewrites the broker does.

On-disk and on-the-wire layout (big-endian; 61-byte header, then the records)::

    offset  field                 type    notes
    0       baseOffset            int64   set by the broker on append (clients send 0)
    8       batchLength           int32   bytes after this field (total size - 12)
    12      partitionLeaderEpoch  int32   set by the broker; NOT covered by the CRC
    16      magic                 int8    = 2
    17      crc                   uint32  CRC-32C over bytes 21..end
    21      attributes            int16   bits 0-2 codec, 3 timestamp type, 4 transactional,
                                          5 control, 6 hasDeleteHorizonMs
    23      lastOffsetDelta       int32
    27      baseTimestamp         int64
    35      maxTimestamp          int64
    43      producerId            int64   -1: not idempotent
    51      producerEpoch         int16
    53      baseSequence          int32
    57      recordsCount          int32
    61      records...                    compressed as one block when codec != 0

Example: a batch of 3 records appended at offset 100 has baseOffset=100,
lastOffsetDelta=2, so its last offset is 102 and the next batch starts at 103.

Everything here is pure (no I/O) and thread-safe.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import crc32c

HEADER_SIZE = 61
LOG_OVERHEAD = 12  # baseOffset + batchLength: bytes not counted in batchLength
MAGIC = 2

_HEADER = struct.Struct(">qiibIhiqqqhii")
_BASE_OFFSET = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_INT16 = struct.Struct(">h")
_INT64 = struct.Struct(">q")

ATTR_COMPRESSION_MASK = 0x07
ATTR_TIMESTAMP_TYPE = 0x08
ATTR_TRANSACTIONAL = 0x10
ATTR_CONTROL = 0x20
ATTR_DELETE_HORIZON = 0x40


class CorruptBatchError(ValueError):
    """The bytes at a position are not a valid v2 record batch (Kafka: CORRUPT_MESSAGE)."""


@dataclass(slots=True)
class BatchHeader:
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        """Total bytes of the batch, header included."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> int:
        return self.attributes & ATTR_COMPRESSION_MASK

    @property
    def log_append_time(self) -> bool:
        return bool(self.attributes & ATTR_TIMESTAMP_TYPE)

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & ATTR_TRANSACTIONAL)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & ATTR_CONTROL)

    @property
    def last_sequence(self) -> int:
        if self.base_sequence < 0:
            return -1
        return (self.base_sequence + self.last_offset_delta) & 0x7FFFFFFF


def read_header(buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """Parse the 61-byte header at ``pos``.

    Raises :class:`CorruptBatchError` if fewer than 61 bytes remain, the magic is not 2, or
    the declared length is shorter than a header. Does not check the CRC (see
    :func:`crc_ok`) nor that the whole batch is present (compare ``size`` with the buffer).
    """
    if len(buf) - pos < HEADER_SIZE:
        raise CorruptBatchError(
            f"record batch header at byte {pos} needs {HEADER_SIZE} bytes, "
            f"{max(0, len(buf) - pos)} remain"
        )
    header = BatchHeader(*_HEADER.unpack_from(buf, pos))
    if header.magic != MAGIC:
        raise CorruptBatchError(
            f"record batch at byte {pos} has magic {header.magic}, expected {MAGIC} "
            "(message format v0/v1 is not supported)"
        )
    if header.batch_length < HEADER_SIZE - LOG_OVERHEAD:
        raise CorruptBatchError(
            f"record batch at byte {pos} declares length {header.batch_length}, "
            f"less than the header's {HEADER_SIZE - LOG_OVERHEAD}"
        )
    return header


def compute_crc(buf: bytes | bytearray | memoryview, pos: int, size: int) -> int:
    """CRC-32C of a batch's attributes..end (bytes 21..size of the batch at ``pos``)."""
    view = memoryview(buf)[pos + 21 : pos + size]
    try:
        return int(crc32c.crc32c(view))
    finally:
        view.release()


def crc_ok(buf: bytes | bytearray | memoryview, pos: int, header: BatchHeader) -> bool:
    return compute_crc(buf, pos, header.size) == header.crc


def iter_batches(
    buf: bytes | bytearray | memoryview, pos: int = 0, end: int | None = None
) -> Iterator[tuple[int, BatchHeader]]:
    """Yield ``(position, header)`` of each complete batch in ``buf[pos:end]``.

    Stops silently at a partial trailing batch (as Fetch responses may carry one); raises
    :class:`CorruptBatchError` on a header that cannot be a batch.
    """
    end = len(buf) if end is None else end
    while end - pos >= HEADER_SIZE:
        header = read_header(buf, pos)
        if pos + header.size > end:
            return
        yield pos, header
        pos += header.size


def valid_prefix(buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int, int, str]:
    """Length of the longest run of whole, CRC-valid batches from ``pos``, for recovery.

    Returns ``(valid_end, batches, reason)``: the byte position where valid data ends,
    how many batches were valid, and why scanning stopped ("" at a clean end).
    Offsets must increase strictly from batch to batch.
    """
    count = 0
    last_offset = -1
    end = len(buf)
    while pos < end:
        if end - pos < HEADER_SIZE:
            return pos, count, f"partial batch header ({end - pos} bytes) at byte {pos}"
        try:
            header = read_header(buf, pos)
        except CorruptBatchError as exc:
            return pos, count, str(exc)
        if pos + header.size > end:
            return (
                pos,
                count,
                (f"batch at byte {pos} declares {header.size} bytes, only {end - pos} remain"),
            )
        if not crc_ok(buf, pos, header):
            return pos, count, f"CRC mismatch in batch at byte {pos} (offset {header.base_offset})"
        if header.base_offset <= last_offset or header.last_offset_delta < 0:
            return pos, count, f"offset {header.base_offset} at byte {pos} does not increase"
        last_offset = header.last_offset
        pos += header.size
        count += 1
    return pos, count, ""


def set_base_offset(buf: bytearray | memoryview, pos: int, base_offset: int) -> None:
    """Assign offsets to the batch at ``pos``; outside the CRC, so no recomputation."""
    _BASE_OFFSET.pack_into(buf, pos, base_offset)


def set_leader_epoch(buf: bytearray | memoryview, pos: int, epoch: int) -> None:
    _INT32.pack_into(buf, pos + 12, epoch)


def set_log_append_time(buf: bytearray | memoryview, pos: int, size: int, now_ms: int) -> None:
    """Stamp LogAppendTime: set attribute bit 3 and maxTimestamp, then recompute the CRC."""
    (attributes,) = _INT16.unpack_from(buf, pos + 21)
    _INT16.pack_into(buf, pos + 21, attributes | ATTR_TIMESTAMP_TYPE)
    _INT64.pack_into(buf, pos + 35, now_ms)
    _UINT32.pack_into(buf, pos + 17, compute_crc(buf, pos, size))
