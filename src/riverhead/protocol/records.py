"""Records inside a v2 record batch: build batches, decode them, check produced ones.

The 61-byte batch header is :mod:`riverhead.protocol.batch`'s; this module owns what
follows it. After the header come ``recordsCount`` records, compressed together as one
block when the codec bits are non-zero (see :mod:`riverhead.protocol.compression`). Each
record (varint = zig-zag, :mod:`riverhead.protocol.varint`)::

    length          varint   bytes of the record after this field
    attributes      int8     unused, 0
    timestampDelta  varlong  timestamp - batch baseTimestamp
    offsetDelta     varint   offset - batch baseOffset
    keyLength       varint   -1 = null key
    key             bytes
    valueLength     varint   -1 = null value
    value           bytes
    headerCount     varint
    headers         headerKeyLength varint, headerKey utf-8,
                    headerValueLength varint (-1 = null), headerValue bytes

Example: key b"k", value b"v", no headers, first in its batch::

    10 00 00 00 02 6b 02 76 00
    (length 8, attrs 0, tsDelta 0, offDelta 0, keyLen 1, "k", valueLen 1, "v", 0 headers)

Invariants of a batch a *producer* may send (:func:`validate_records`): at least one
record, offset deltas exactly 0..n-1, ``lastOffsetDelta == n - 1``, every record's
declared length equals the bytes its fields take, nothing after the last record. Batches
rewritten by log compaction keep their header but lose records, so *decoding*
(:func:`decode_batch`) allows gaps in offset deltas and does not require the count to
match ``lastOffsetDelta``.

Timestamps: with CreateTime a record's timestamp is ``baseTimestamp + timestampDelta``;
in a LogAppendTime batch (attribute bit 3) every record's timestamp is the batch's
``maxTimestamp``, whatever the deltas say (Kafka's ``DefaultRecordBatch`` semantics).

Header keys are decoded as UTF-8 with ``surrogateescape``, so header keys that are not
UTF-8 (librdkafka allows any bytes) decode to ``str`` and re-encode to the same bytes.

Everything here is pure (no I/O) and thread-safe. Malformed input raises
:class:`CorruptRecordError` or :class:`~riverhead.protocol.compression.CompressionError`
(both ``ValueError``; both mean CORRUPT_MESSAGE), never ``IndexError``/``struct.error``.
"""

from __future__ import annotations

import itertools
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from riverhead.protocol.batch import (
    _HEADER,
    ATTR_CONTROL,
    ATTR_TIMESTAMP_TYPE,
    ATTR_TRANSACTIONAL,
    HEADER_SIZE,
    LOG_OVERHEAD,
    MAGIC,
    BatchHeader,
    CorruptBatchError,
    compute_crc,
    iter_batches,
    read_header,
)
from riverhead.protocol.compression import Codec, compress, decompress
from riverhead.protocol.varint import Buffer, decode_varint, encode_varint

__all__ = [
    "CorruptRecordError",
    "Header",
    "Record",
    "decode_batch",
    "decode_batches",
    "encode_batch",
    "validate_records",
]

Header: TypeAlias = tuple[str, bytes | None]
"""A record header: (key, value); the value may be null (None)."""

_CRC = struct.Struct(">I")
_CRC_OFFSET = 17
_NULL = encode_varint(-1)
# length + attributes + tsDelta + offDelta + keyLen + valueLen + headerCount
_MIN_RECORD_SIZE = 7


class CorruptRecordError(CorruptBatchError):
    """A batch's records are malformed (Kafka: CORRUPT_MESSAGE).

    Subclasses :class:`~riverhead.protocol.batch.CorruptBatchError` (a ``ValueError``)
    so that one ``except CorruptBatchError`` covers header and record problems.
    """


@dataclass(slots=True)
class Record:
    """One decoded record, with absolute offset and timestamp (ms since the epoch).

    ``key``/``value`` None mean null (distinct from b""); header values likewise.
    """

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[Header] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# encoding


def _put_bytes(out: bytearray, data: bytes | None) -> None:
    if data is None:
        out += _NULL
    else:
        out += encode_varint(len(data))
        out += data


def encode_batch(
    records: Sequence[Record] | Sequence[tuple[bytes | None, bytes | None]],
    *,
    base_offset: int = 0,
    compression: Codec = Codec.NONE,
    log_append_time: bool = False,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    partition_leader_epoch: int = -1,
    transactional: bool = False,
    control: bool = False,
    base_timestamp: int | None = None,
    offset_deltas: Sequence[int] | None = None,
    last_offset_delta: int | None = None,
) -> bytes:
    """Build one complete v2 batch (header, records, valid CRC-32C), as a producer would.

    ``records`` are :class:`Record` objects or ``(key, value)`` tuples; tuples get the
    current wall-clock time as timestamp and no headers. ``Record.offset`` is ignored:
    the i-th record gets offset delta i, i.e. offset ``base_offset + i``.

    ``baseTimestamp`` is ``base_timestamp`` if given, else the first record's timestamp;
    ``maxTimestamp`` is the largest record timestamp. ``log_append_time`` only sets
    attribute bit 3 (decoders then report ``maxTimestamp`` for every record), so pass
    records stamped with the append time. ``transactional``/``control`` set their
    attribute bits; the caller supplies valid producer fields and control-record bytes.

    ``offset_deltas`` (log compaction rewriting a batch that lost records) gives each
    record's offset delta explicitly instead of 0..n-1: they must strictly increase from
    >= 0, and ``last_offset_delta`` (default: the last delta) may be larger, so the batch
    keeps the original ``lastOffsetDelta`` and with it the producer's sequence range.

    Raises ``ValueError`` for an empty ``records`` or a field outside its wire range.
    """
    if not records:
        raise ValueError("a record batch needs at least one record")
    if offset_deltas is None:
        deltas: Sequence[int] = range(len(records))
    else:
        deltas = offset_deltas
        if len(deltas) != len(records):
            raise ValueError(f"{len(deltas)} offset deltas for {len(records)} records")
        if deltas[0] < 0 or any(b <= a for a, b in itertools.pairwise(deltas)):
            raise ValueError(f"offset deltas must strictly increase from >= 0: {list(deltas)}")
    last_delta = deltas[-1] if last_offset_delta is None else last_offset_delta
    if last_delta < deltas[-1]:
        raise ValueError(f"last offset delta {last_delta} is below the records' {deltas[-1]}")
    now_ms: int | None = None
    rows: list[tuple[int, bytes | None, bytes | None, list[Header]]] = []
    for r in records:
        if isinstance(r, Record):
            rows.append((r.timestamp, r.key, r.value, r.headers))
        else:
            if now_ms is None:
                now_ms = int(time.time() * 1000)
            key, value = r
            rows.append((now_ms, key, value, []))
    base_ts = rows[0][0] if base_timestamp is None else base_timestamp
    max_ts = max(row[0] for row in rows)

    body = bytearray()
    rec = bytearray()
    for delta, (ts, key, value, headers) in zip(deltas, rows, strict=True):
        rec.clear()
        rec.append(0)  # record attributes: unused
        rec += encode_varint(ts - base_ts)
        rec += encode_varint(delta)
        _put_bytes(rec, key)
        _put_bytes(rec, value)
        rec += encode_varint(len(headers))
        for hkey, hvalue in headers:
            _put_bytes(rec, hkey.encode("utf-8", "surrogateescape"))
            _put_bytes(rec, hvalue)
        body += encode_varint(len(rec))
        body += rec

    codec = Codec(compression)
    attributes = int(codec)
    if log_append_time:
        attributes |= ATTR_TIMESTAMP_TYPE
    if transactional:
        attributes |= ATTR_TRANSACTIONAL
    if control:
        attributes |= ATTR_CONTROL

    out = bytearray(HEADER_SIZE)
    out += body if codec is Codec.NONE else compress(codec, body)
    try:
        _HEADER.pack_into(
            out,
            0,
            base_offset,
            len(out) - LOG_OVERHEAD,
            partition_leader_epoch,
            MAGIC,
            0,  # crc, below: it covers the attributes written here
            attributes,
            last_delta,
            base_ts,
            max_ts,
            producer_id,
            producer_epoch,
            base_sequence,
            len(rows),
        )
    except struct.error as exc:
        raise ValueError(f"record batch header field out of range: {exc}") from None
    _CRC.pack_into(out, _CRC_OFFSET, compute_crc(out, 0, len(out)))
    return bytes(out)


# ---------------------------------------------------------------------------------------
# decoding


def _full_header(buf: Buffer, pos: int) -> BatchHeader:
    """The header at ``pos``, requiring the whole batch to be in ``buf``."""
    try:
        header = read_header(buf, pos)
    except CorruptBatchError as exc:
        raise CorruptRecordError(str(exc)) from None
    if pos + header.size > len(buf):
        raise CorruptRecordError(
            f"record batch at byte {pos} declares {header.size} bytes, only {len(buf) - pos} remain"
        )
    return header


def _records_section(buf: Buffer, pos: int, header: BatchHeader) -> memoryview:
    """The (decompressed) bytes after the header of the batch at ``pos``."""
    raw = memoryview(buf)[pos + HEADER_SIZE : pos + header.size]
    if header.compression == Codec.NONE:
        return raw
    return memoryview(decompress(header.compression, raw))


def _parse_records(
    data: memoryview, header: BatchHeader, batch_pos: int, *, build: bool, strict: bool
) -> list[Record]:
    """Parse ``header.records_count`` records filling ``data`` exactly.

    ``build``: return :class:`Record` objects (else only check, returning []).
    ``strict``: offset deltas must be 0..n-1 (producer batches).
    """
    count = header.records_count
    end = len(data)
    where = f"batch at byte {batch_pos} (offset {header.base_offset})"
    if count < 0:
        raise CorruptRecordError(f"{where} has negative record count {count}")
    if count > end // _MIN_RECORD_SIZE:
        raise CorruptRecordError(
            f"{where} declares {count} records, but its {end} bytes of records hold at "
            f"most {end // _MIN_RECORD_SIZE}"
        )
    base_offset = header.base_offset
    base_ts = header.base_timestamp
    append_ts = header.max_timestamp if header.log_append_time else None
    dv = decode_varint
    out: list[Record] = []
    p = 0
    i = 0
    try:
        for i in range(count):
            start = p
            length, p = dv(data, p)
            rec_end = p + length
            if length < _MIN_RECORD_SIZE - 1 or rec_end > end:
                raise CorruptRecordError(
                    f"record {i} at byte {start} of {where}: declared length {length} "
                    f"is invalid ({end - p} bytes remain)"
                )
            p += 1  # attributes: unused
            ts_delta, p = dv(data, p)
            off_delta, p = dv(data, p)
            if strict and off_delta != i:
                raise CorruptRecordError(
                    f"record {i} of {where} has offset delta {off_delta}, expected {i}"
                )
            klen, p = dv(data, p)
            key: bytes | None = None
            if klen >= 0:
                if p + klen > rec_end:
                    raise CorruptRecordError(
                        f"record {i} of {where}: key of {klen} bytes overruns the record"
                    )
                if build:
                    key = data[p : p + klen].tobytes()
                p += klen
            elif klen != -1:
                raise CorruptRecordError(f"record {i} of {where}: key length {klen}")
            vlen, p = dv(data, p)
            value: bytes | None = None
            if vlen >= 0:
                if p + vlen > rec_end:
                    raise CorruptRecordError(
                        f"record {i} of {where}: value of {vlen} bytes overruns the record"
                    )
                if build:
                    value = data[p : p + vlen].tobytes()
                p += vlen
            elif vlen != -1:
                raise CorruptRecordError(f"record {i} of {where}: value length {vlen}")
            hcount, p = dv(data, p)
            if hcount < 0 or 2 * hcount > rec_end - p:
                raise CorruptRecordError(
                    f"record {i} of {where}: header count {hcount} does not fit the record"
                )
            headers: list[Header] = []
            for _ in range(hcount):
                hklen, p = dv(data, p)
                if hklen < 0 or p + hklen > rec_end:
                    raise CorruptRecordError(
                        f"record {i} of {where}: header key length {hklen} is invalid"
                    )
                hkey_start = p
                p += hklen
                hvlen, p = dv(data, p)
                hvalue: bytes | None = None
                if hvlen >= 0:
                    if p + hvlen > rec_end:
                        raise CorruptRecordError(
                            f"record {i} of {where}: header value of {hvlen} bytes "
                            "overruns the record"
                        )
                    if build:
                        hvalue = data[p : p + hvlen].tobytes()
                    p += hvlen
                elif hvlen != -1:
                    raise CorruptRecordError(f"record {i} of {where}: header value length {hvlen}")
                if build:
                    hkey = data[hkey_start : hkey_start + hklen].tobytes()
                    headers.append((hkey.decode("utf-8", "surrogateescape"), hvalue))
            if p != rec_end:
                raise CorruptRecordError(
                    f"record {i} at byte {start} of {where} declares {length} bytes "
                    f"but its fields take {p - (rec_end - length)}"
                )
            if build:
                ts = base_ts + ts_delta if append_ts is None else append_ts
                out.append(Record(base_offset + off_delta, ts, key, value, headers))
    except CorruptRecordError:
        raise
    except ValueError as exc:  # from decode_varint: truncated/overlong number
        raise CorruptRecordError(f"record {i} of {where}: {exc}") from None
    if p != end:
        raise CorruptRecordError(f"{where} has {end - p} bytes after its {count} declared records")
    return out


def decode_batch(
    buf: Buffer, pos: int = 0, *, verify_crc: bool = True
) -> tuple[BatchHeader, list[Record]]:
    """Decode the complete batch at ``buf[pos]``: its header and (decompressed) records.

    Records carry absolute offsets and timestamps (see the module docstring for
    LogAppendTime). With ``verify_crc`` (default) a CRC mismatch is an error, as in
    Kafka consumers' ``check.crcs``. Raises :class:`CorruptRecordError` for a bad header,
    missing bytes, CRC mismatch or malformed records, and ``CompressionError`` for an
    undecodable compressed block.
    """
    header = _full_header(buf, pos)
    if verify_crc:
        actual = compute_crc(buf, pos, header.size)
        if actual != header.crc:
            raise CorruptRecordError(
                f"record batch at byte {pos} (offset {header.base_offset}) has CRC "
                f"{header.crc:#010x}, computed {actual:#010x}"
            )
    if header.records_count == 0:
        # Compaction may leave an empty batch to keep producer state; like Kafka's
        # DefaultRecordBatch, don't look at (or decompress) a records section then.
        return header, []
    data = _records_section(buf, pos, header)
    return header, _parse_records(data, header, pos, build=True, strict=False)


def decode_batches(
    buf: Buffer, *, include_control: bool = False, verify_crc: bool = True
) -> list[Record]:
    """Records of every complete batch in ``buf`` (e.g. a Fetch response's records).

    A partial trailing batch is ignored, as clients do. Control batches (transaction
    markers) are skipped unless ``include_control``, as consumers skip them. Raises like
    :func:`decode_batch`.
    """
    out: list[Record] = []
    try:
        batches = list(iter_batches(buf))
    except CorruptBatchError as exc:
        raise CorruptRecordError(str(exc)) from None
    for pos, header in batches:
        if header.is_control and not include_control:
            continue
        out.extend(decode_batch(buf, pos, verify_crc=verify_crc)[1])
    return out


def validate_records(buf: Buffer, pos: int, header: BatchHeader) -> None:
    """Record-level checks of a batch a producer sent (Kafka's ``LogValidator``).

    ``header`` is ``read_header(buf, pos)``; the CRC is the caller's to check first
    (:func:`~riverhead.protocol.batch.crc_ok`). Checks that the whole batch is present,
    ``recordsCount > 0`` and ``lastOffsetDelta == recordsCount - 1``, that exactly
    ``recordsCount`` well-formed records fill the (decompressed) records section, each
    record's length matching its fields, and offset deltas run 0..n-1.

    Raises :class:`CorruptRecordError`, or ``CompressionError`` for a bad compressed block.
    """
    if pos + header.size > len(buf):
        raise CorruptRecordError(
            f"record batch at byte {pos} declares {header.size} bytes, only {len(buf) - pos} remain"
        )
    if header.records_count <= 0:
        raise CorruptRecordError(
            f"record batch at byte {pos} has {header.records_count} records; "
            "a produced batch needs at least one"
        )
    if header.last_offset_delta != header.records_count - 1:
        raise CorruptRecordError(
            f"record batch at byte {pos} has lastOffsetDelta {header.last_offset_delta} "
            f"but {header.records_count} records (expected {header.records_count - 1})"
        )
    data = _records_section(buf, pos, header)
    _parse_records(data, header, pos, build=False, strict=True)
