"""Validation of the record batch a producer sends for one partition (Kafka's LogValidator).

Always checked, per batch, without touching the records (so the hot path stays per-batch):

* exactly one whole v2 batch (magic 2), baseOffset 0, a valid CRC-32C — CORRUPT_MESSAGE
  or INVALID_RECORD otherwise; magic 0/1 gets UNSUPPORTED_FOR_MESSAGE_FORMAT;
* ``lastOffsetDelta + 1 == recordsCount > 0``, not a control batch, not transactional
  (transactions are not implemented), ``producerId >= 0`` implies ``baseSequence >= 0``
  — INVALID_RECORD;
* size within the topic's ``max.message.bytes`` — MESSAGE_TOO_LARGE;
* zstd only with Produce v7+ — UNSUPPORTED_COMPRESSION_TYPE;
* CreateTime timestamps within ``message.timestamp.before/after.max.ms`` — INVALID_TIMESTAMP
  (checked on baseTimestamp and maxTimestamp).

Checked record by record only where the topic needs the records themselves: compacted
topics (every record needs a key) and topics whose ``compression.type`` differs from the
producer's codec (the batch is recompressed, as Kafka does). Elsewhere the records section
is trusted as the CRC covers it; a malformed record inside a CRC-valid batch is the
producer's bug and is delivered as sent (Kafka would reject it; documented deviation).
"""

from __future__ import annotations

from dataclasses import dataclass

from riverhead.log.config import LogConfig
from riverhead.protocol.batch import (
    HEADER_SIZE,
    BatchHeader,
    CorruptBatchError,
    crc_ok,
    read_header,
)
from riverhead.protocol.compression import Codec, CompressionError, codec_from_name
from riverhead.protocol.errors import ErrorCode
from riverhead.protocol.records import CorruptRecordError, decode_batch, encode_batch


@dataclass(slots=True)
class Invalid:
    error: ErrorCode
    message: str


Batch = bytearray | memoryview  # writable: the log rewrites offsets in place


def validate(
    data: Batch, config: LogConfig, produce_version: int, now_ms: int
) -> tuple[Batch, BatchHeader] | Invalid:
    """Check one partition's records; returns the (possibly recompressed) batch or why not."""
    if len(data) < HEADER_SIZE:
        return Invalid(ErrorCode.CORRUPT_MESSAGE, f"records of {len(data)} bytes hold no batch")
    if data[16] != 2:
        return Invalid(
            ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
            f"message format v{data[16]} is not supported; use v2 (Kafka 0.11+ clients)",
        )
    try:
        header = read_header(data)
    except CorruptBatchError as exc:
        return Invalid(ErrorCode.CORRUPT_MESSAGE, str(exc))
    if header.size != len(data):
        return Invalid(
            ErrorCode.INVALID_RECORD if header.size < len(data) else ErrorCode.CORRUPT_MESSAGE,
            f"expected exactly one batch of {header.size} bytes, got {len(data)} bytes",
        )
    if not crc_ok(data, 0, header):
        return Invalid(ErrorCode.CORRUPT_MESSAGE, "record batch CRC mismatch")
    if header.base_offset != 0:
        return Invalid(ErrorCode.INVALID_RECORD, "a produced batch must have baseOffset 0")
    if header.records_count <= 0 or header.last_offset_delta + 1 != header.records_count:
        return Invalid(
            ErrorCode.INVALID_RECORD,
            f"lastOffsetDelta {header.last_offset_delta} does not match "
            f"recordsCount {header.records_count}",
        )
    if header.is_control:
        return Invalid(ErrorCode.INVALID_RECORD, "clients may not write control batches")
    if header.is_transactional:
        return Invalid(ErrorCode.INVALID_RECORD, "transactional batches are not supported")
    if header.producer_id >= 0 and header.base_sequence < 0:
        return Invalid(ErrorCode.INVALID_RECORD, "an idempotent batch needs baseSequence >= 0")
    if header.size > config.max_message_bytes:
        return Invalid(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"batch of {header.size} bytes exceeds max.message.bytes={config.max_message_bytes}",
        )
    if header.compression == Codec.ZSTD and produce_version < 7:
        return Invalid(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, "zstd needs Produce v7 or later")
    if header.compression > Codec.ZSTD:
        return Invalid(ErrorCode.CORRUPT_MESSAGE, f"unknown compression codec {header.compression}")
    if not header.log_append_time and config.message_timestamp_type == "CreateTime":
        if (
            header.max_timestamp - now_ms > config.message_timestamp_after_max_ms
            or now_ms - header.base_timestamp > config.message_timestamp_before_max_ms
        ):
            return Invalid(
                ErrorCode.INVALID_TIMESTAMP,
                "record timestamp out of range of message.timestamp.before/after.max.ms",
            )
    elif header.log_append_time:
        return Invalid(ErrorCode.INVALID_TIMESTAMP, "producers may not set LogAppendTime")
    target = _target_codec(config.compression_type, header.compression)
    if "compact" in config.cleanup_policy or target != header.compression:
        return _check_records(data, header, config, target)
    return data, header


def _target_codec(compression_type: str, producer_codec: int) -> int:
    if compression_type == "producer":
        return producer_codec
    return int(codec_from_name(compression_type))


def _check_records(
    data: Batch, header: BatchHeader, config: LogConfig, target: int
) -> tuple[Batch, BatchHeader] | Invalid:
    try:
        _, records = decode_batch(data)
    except (CorruptRecordError, CompressionError) as exc:
        return Invalid(ErrorCode.CORRUPT_MESSAGE, str(exc))
    if "compact" in config.cleanup_policy and any(r.key is None for r in records):
        return Invalid(ErrorCode.INVALID_RECORD, "compacted topics need a key on every record")
    if target == header.compression:
        return data, header
    rebuilt = bytearray(
        encode_batch(
            records,
            compression=Codec(target),
            producer_id=header.producer_id,
            producer_epoch=header.producer_epoch,
            base_sequence=header.base_sequence,
            base_timestamp=header.base_timestamp,
        )
    )
    return rebuilt, read_header(rebuilt)
