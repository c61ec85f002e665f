"""Record batches: golden bytes, round trips, interop with kafka-python, malformed input."""

from __future__ import annotations

import contextlib
import struct
import time
import types
from collections.abc import Iterator

import cramjam
import kafka.codec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from riverhead.protocol.batch import (
    HEADER_SIZE,
    CorruptBatchError,
    compute_crc,
    crc_ok,
    read_header,
)
from riverhead.protocol.compression import Codec, CompressionError, compress
from riverhead.protocol.records import (
    CorruptRecordError,
    Header,
    Record,
    decode_batch,
    decode_batches,
    encode_batch,
    validate_records,
)

pytestmark = pytest.mark.unit

T0 = 1_700_000_000_000


@pytest.fixture
def kafka_python_snappy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Back kafka-python's snappy (python-snappy is not installed) with cramjam raw snappy."""
    shim = types.SimpleNamespace(
        compress=lambda b: bytes(cramjam.snappy.compress_raw(b)),
        decompress=lambda b: bytes(cramjam.snappy.decompress_raw(b)),
    )
    monkeypatch.setattr(kafka.codec, "snappy", shim)
    yield


def rebuild(
    batch: bytes | bytearray,
    records_section: bytes,
    *,
    attributes: int | None = None,
    records_count: int | None = None,
    last_offset_delta: int | None = None,
) -> bytes:
    """Swap a batch's records section / header fields and fix length and CRC."""
    out = bytearray(batch[:HEADER_SIZE]) + records_section
    struct.pack_into(">i", out, 8, len(out) - 12)
    if attributes is not None:
        struct.pack_into(">h", out, 21, attributes)
    if last_offset_delta is not None:
        struct.pack_into(">i", out, 23, last_offset_delta)
    if records_count is not None:
        struct.pack_into(">i", out, 57, records_count)
    struct.pack_into(">I", out, 17, compute_crc(out, 0, len(out)))
    return bytes(out)


def fix_crc(batch: bytes | bytearray) -> bytes:
    out = bytearray(batch)
    if len(out) >= HEADER_SIZE:
        struct.pack_into(">I", out, 17, compute_crc(out, 0, len(out)))
    return bytes(out)


# --- strategies -------------------------------------------------------------------------

nullable_bytes = st.none() | st.binary(max_size=40)
headers_st = st.lists(st.tuples(st.text(max_size=10), nullable_bytes), max_size=3)
records_st = st.lists(
    st.builds(
        Record,
        offset=st.just(0),
        timestamp=st.integers(min_value=T0 - 10**6, max_value=T0 + 10**6),
        key=nullable_bytes,
        value=nullable_bytes,
        headers=headers_st,
    ),
    min_size=1,
    max_size=12,
)


# --- golden bytes and header fields -----------------------------------------------------


def test_golden_single_record() -> None:
    batch = encode_batch([Record(0, T0, b"k", b"v")])
    assert batch[HEADER_SIZE:].hex(" ") == "10 00 00 00 02 6b 02 76 00"
    h = read_header(batch)
    assert (h.base_offset, h.batch_length, h.magic, h.attributes) == (0, len(batch) - 12, 2, 0)
    assert (h.last_offset_delta, h.records_count, h.base_timestamp, h.max_timestamp) == (
        0,
        1,
        T0,
        T0,
    )
    assert (h.producer_id, h.producer_epoch, h.base_sequence, h.partition_leader_epoch) == (
        -1,
        -1,
        -1,
        -1,
    )
    assert crc_ok(batch, 0, h)


def test_header_fields_and_attribute_bits() -> None:
    batch = encode_batch(
        [Record(0, T0 + 5, b"a", b"1"), Record(0, T0, None, b"2"), Record(0, T0 + 9, b"c", None)],
        base_offset=100,
        compression=Codec.LZ4,
        producer_id=7,
        producer_epoch=3,
        base_sequence=42,
        partition_leader_epoch=9,
        transactional=True,
    )
    h = read_header(batch)
    assert crc_ok(batch, 0, h)
    assert (h.base_offset, h.last_offset, h.next_offset, h.records_count) == (100, 102, 103, 3)
    assert (h.compression, h.is_transactional, h.is_control, h.log_append_time) == (
        3,
        True,
        False,
        False,
    )
    assert (h.base_timestamp, h.max_timestamp) == (T0 + 5, T0 + 9)  # base = first record's
    assert (h.producer_id, h.producer_epoch, h.base_sequence, h.last_sequence) == (7, 3, 42, 44)
    assert h.partition_leader_epoch == 9
    _, recs = decode_batch(batch)
    assert [(r.offset, r.timestamp, r.key, r.value) for r in recs] == [
        (100, T0 + 5, b"a", b"1"),
        (101, T0, None, b"2"),
        (102, T0 + 9, b"c", None),
    ]


def test_base_timestamp_override_and_negative_deltas() -> None:
    batch = encode_batch(
        [Record(0, T0, b"a", b""), Record(0, T0 - 50, b"b", b"")], base_timestamp=T0 + 1000
    )
    h, recs = decode_batch(batch)
    assert h.base_timestamp == T0 + 1000
    assert [r.timestamp for r in recs] == [T0, T0 - 50]


def test_log_append_time_reports_max_timestamp_for_every_record() -> None:
    batch = encode_batch(
        [Record(0, T0, b"a", b"1"), Record(0, T0 + 7, b"b", b"2")], log_append_time=True
    )
    h, recs = decode_batch(batch)
    assert h.log_append_time and h.max_timestamp == T0 + 7
    assert [r.timestamp for r in recs] == [T0 + 7, T0 + 7]


def test_tuples_get_current_time_and_no_headers() -> None:
    before = int(time.time() * 1000)
    batch = encode_batch([(b"k", b"v"), (None, None)], base_offset=5)
    after = int(time.time() * 1000)
    _, recs = decode_batch(batch)
    assert [(r.offset, r.key, r.value, r.headers) for r in recs] == [
        (5, b"k", b"v", []),
        (6, None, None, []),
    ]
    assert all(before <= r.timestamp <= after for r in recs)


def test_record_offset_field_is_ignored_by_encoder() -> None:
    _, recs = decode_batch(encode_batch([Record(999, T0, b"", b""), Record(5, T0, b"", b"")]))
    assert [r.offset for r in recs] == [0, 1]


def test_control_flag() -> None:
    marker = encode_batch(
        [Record(0, T0, b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x00")],
        control=True,
        transactional=True,
        producer_id=1,
        producer_epoch=0,
    )
    h = read_header(marker)
    assert h.is_control and h.is_transactional


def test_encode_rejects_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="at least one record"):
        encode_batch([])
    with pytest.raises(ValueError, match="out of range"):
        encode_batch([(b"k", b"v")], producer_epoch=1 << 15)
    with pytest.raises(ValueError):
        encode_batch([Record(0, 1 << 63, None, None)], base_timestamp=-(1 << 63))


def test_header_keys_that_are_not_utf8_survive() -> None:
    weird: list[Header] = [(b"\xff\xfe".decode("utf-8", "surrogateescape"), b"x"), ("ok", None)]
    batch = encode_batch([Record(0, T0, None, None, weird)])
    assert b"\xff\xfe" in batch
    assert decode_batch(batch)[1][0].headers == weird


# --- round trips ------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=records_st,
    codec=st.sampled_from(list(Codec)),
    base_offset=st.integers(min_value=0, max_value=(1 << 62)),
    log_append_time=st.booleans(),
)
def test_round_trip(
    records: list[Record], codec: Codec, base_offset: int, log_append_time: bool
) -> None:
    batch = encode_batch(
        records, base_offset=base_offset, compression=codec, log_append_time=log_append_time
    )
    h = read_header(batch)
    assert h.size == len(batch)
    assert crc_ok(batch, 0, h)
    assert h.compression == codec
    validate_records(batch, 0, h)
    h2, decoded = decode_batch(memoryview(batch))
    assert h2 == h
    max_ts = max(r.timestamp for r in records)
    assert h.max_timestamp == max_ts
    expected = [
        Record(
            base_offset + i, max_ts if log_append_time else r.timestamp, r.key, r.value, r.headers
        )
        for i, r in enumerate(records)
    ]
    assert decoded == expected


@settings(max_examples=30, deadline=None)
@given(
    batches=st.lists(st.tuples(records_st, st.sampled_from(list(Codec))), min_size=1, max_size=4),
    cut=st.integers(min_value=1, max_value=200),
)
def test_decode_batches_ignores_partial_trailing_batch(
    batches: list[tuple[list[Record], Codec]], cut: int
) -> None:
    wire = b""
    expected: list[tuple[bytes | None, bytes | None]] = []
    offset = 0
    for records, codec in batches:
        wire += encode_batch(records, base_offset=offset, compression=codec)
        offset += len(records)
        expected += [(r.key, r.value) for r in records]
    partial = encode_batch(batches[0][0], base_offset=offset)
    got = decode_batches(wire + partial[: min(cut, len(partial) - 1)])
    assert [(r.key, r.value) for r in got] == expected
    assert [r.offset for r in got] == list(range(offset))


def test_decode_batches_skips_control_batches_unless_asked() -> None:
    data = encode_batch([(b"k", b"v")], base_offset=0)
    marker = encode_batch([(b"\x00\x00\x00\x01", b"\x00" * 6)], base_offset=1, control=True)
    more = encode_batch([(b"k2", b"v2")], base_offset=2)
    assert [r.offset for r in decode_batches(data + marker + more)] == [0, 2]
    assert [r.offset for r in decode_batches(data + marker + more, include_control=True)] == [
        0,
        1,
        2,
    ]


def test_decode_at_position() -> None:
    first = encode_batch([(b"a", b"1")])
    second = encode_batch([(b"b", b"2")], base_offset=1)
    h, recs = decode_batch(first + second, len(first))
    assert h.base_offset == 1 and recs[0].key == b"b"


# --- interop with kafka-python's record implementation --------------------------------


def kafka_python_batch(codec: int, n: int = 30) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=codec,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for i in range(n):
        builder.append(
            i,
            timestamp=T0 + i,
            key=None if i % 3 == 0 else b"key-%d" % i,
            value=None if i % 7 == 6 else b"value %d " % i * 20,
            headers=[("h1", b"x" * i), ("h2", None)] if i % 2 else [],
        )
    return bytes(builder.build())


@pytest.mark.usefixtures("kafka_python_snappy")
@pytest.mark.parametrize("codec", list(Codec))
def test_decode_kafka_python_batches(codec: Codec) -> None:
    wire = kafka_python_batch(codec)
    h = read_header(wire)
    assert h.compression == codec  # kafka-python would fall back to none if it didn't help
    assert crc_ok(wire, 0, h)
    validate_records(wire, 0, h)
    _, ours = decode_batch(wire)
    theirs = list(DefaultRecordBatch(bytearray(wire)))
    assert len(ours) == len(theirs) == 30
    for mine, ref in zip(ours, theirs, strict=True):
        assert (mine.offset, mine.timestamp, mine.key, mine.value) == (
            ref.offset,
            ref.timestamp,
            ref.key,
            ref.value,
        )
        assert mine.headers == list(ref.headers)


@pytest.mark.usefixtures("kafka_python_snappy")
@pytest.mark.parametrize("codec", list(Codec))
def test_kafka_python_decodes_ours(codec: Codec) -> None:
    records = [
        Record(
            0,
            T0 + i,
            None if i % 4 == 0 else b"k%d" % i,
            None if i % 5 == 4 else b"payload " * 30,
            [("trace", b"abc"), ("empty", b""), ("null", None)] if i % 2 else [],
        )
        for i in range(40)
    ]
    wire = encode_batch(
        records,
        base_offset=1000,
        compression=codec,
        producer_id=5,
        producer_epoch=0,
        base_sequence=10,
    )
    batch = DefaultRecordBatch(bytearray(wire))
    assert batch.validate_crc()
    assert (batch.compression_type, batch.base_offset, batch.last_offset_delta) == (
        codec,
        1000,
        39,
    )
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (5, 0, 10)
    got = list(batch)
    assert [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in got] == [
        (1000 + i, r.timestamp, r.key, r.value, r.headers) for i, r in enumerate(records)
    ]


def test_decode_raw_snappy_batch_as_librdkafka_sends() -> None:
    plain = encode_batch([Record(0, T0, b"k", b"librdkafka " * 50)] * 3)
    raw = bytes(cramjam.snappy.compress_raw(plain[HEADER_SIZE:]))
    wire = rebuild(plain, raw, attributes=int(Codec.SNAPPY))
    _, recs = decode_batch(wire)
    assert [r.value for r in recs] == [b"librdkafka " * 50] * 3


# --- compaction leftovers: decode tolerates, validate (produce path) rejects ------------


def test_gapped_offsets_decode_but_fail_validation() -> None:
    builder = DefaultRecordBatchBuilder(2, 0, False, -1, -1, -1, 1 << 20)
    for delta in (0, 2, 5):  # as left by the log cleaner
        builder.append(delta, timestamp=T0, key=b"k%d" % delta, value=b"v", headers=[])
    wire = bytes(builder.build())
    h, recs = decode_batch(wire)
    assert [r.offset for r in recs] == [0, 2, 5]
    assert (h.last_offset_delta, h.records_count) == (5, 3)
    with pytest.raises(CorruptRecordError, match="lastOffsetDelta 5 but 3 records"):
        validate_records(wire, 0, h)
    # Same gaps with a consistent header: the per-record delta check catches it.
    fixed = rebuild(wire, wire[HEADER_SIZE:], last_offset_delta=2)
    with pytest.raises(CorruptRecordError, match="offset delta 2, expected 1"):
        validate_records(fixed, 0, read_header(fixed))


@pytest.mark.parametrize("codec", [Codec.NONE, Codec.ZSTD])
def test_empty_batch_left_by_compaction(codec: Codec) -> None:
    one = encode_batch([(b"k", b"v")], compression=codec)
    empty = rebuild(one, b"", records_count=0)
    h, recs = decode_batch(empty)
    assert recs == [] and h.records_count == 0
    with pytest.raises(CorruptRecordError, match="at least one"):
        validate_records(empty, 0, h)


# --- malformed input --------------------------------------------------------------------


def test_crc_mismatch() -> None:
    wire = bytearray(encode_batch([(b"k", b"v")]))
    wire[-2] ^= 0xFF  # the value byte
    with pytest.raises(CorruptRecordError, match="CRC"):
        decode_batch(bytes(wire))
    assert decode_batch(bytes(wire), verify_crc=False)[1][0].value == b"\x89"


def test_bad_header_and_short_buffer() -> None:
    wire = encode_batch([(b"k", b"v")])
    with pytest.raises(CorruptRecordError, match="needs 61 bytes"):
        decode_batch(wire[:40])
    with pytest.raises(CorruptRecordError, match="only"):
        decode_batch(wire[:-1])
    with pytest.raises(CorruptRecordError, match="magic 1"):
        decode_batch(wire[:16] + b"\x01" + wire[17:])
    with pytest.raises(CorruptRecordError):
        decode_batches(b"\x00" * 100)
    with pytest.raises(CorruptRecordError, match="only"):
        validate_records(wire[:-1], 0, read_header(wire))
    assert issubclass(CorruptRecordError, CorruptBatchError)
    assert issubclass(CorruptRecordError, ValueError)


@pytest.mark.parametrize(
    ("count", "match"),
    [
        (2, "record 1 of batch at byte 0 .*no bytes remain"),
        (5, "declares 5 records, but its 15 bytes of records hold at most 2"),
        (-1, "negative record count -1"),
    ],
)
def test_record_count_mismatch(count: int, match: str) -> None:
    wire = encode_batch([Record(0, T0, b"key", b"value")])
    bad = rebuild(wire, wire[HEADER_SIZE:], records_count=count)
    with pytest.raises(CorruptRecordError, match=match):
        decode_batch(bad)


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ("10000000026b02760000", "1 bytes after its 1 declared records"),
        ("12000000026b0276000000", "declares 9 bytes but its fields take 8"),
        ("10000000106b027600", "key of 8 bytes overruns"),
        ("10000000026b7e760000", "value of 63 bytes overruns"),
        ("10000000030000000000", "key length -2"),
        ("10000000026b05760000", "value length -3"),
        ("0e000000020000", "declared length 7 is invalid"),
        ("02000000000000", "declared length 1 is invalid"),
        ("10000000026b02760f", "header count -8"),
        ("10000000026b027602", "header count 1 does not fit"),
        ("ff" * 7, "truncated varint at byte 0"),
        ("18000000026b0276020f000000", "header key length -8"),
        ("18000000026b02760202610300", "header value length -2"),
        ("16000000026b027602026102ff00", "header value of 1 bytes overruns"),
        ("1000" + "80" * 11, "longer than 10 bytes"),
    ],
)
def test_malformed_records(section: str, match: str) -> None:
    wire = rebuild(encode_batch([Record(0, T0, b"k", b"v")]), bytes.fromhex(section))
    with pytest.raises(CorruptRecordError, match=match):
        decode_batch(wire)
    with pytest.raises(CorruptRecordError):
        validate_records(wire, 0, read_header(wire))


def test_unknown_codec_in_attributes() -> None:
    wire = encode_batch([(b"k", b"v")])
    bad = rebuild(wire, wire[HEADER_SIZE:], attributes=5)
    with pytest.raises(CompressionError, match="unknown compression codec id 5"):
        decode_batch(bad)


def test_corrupt_compressed_section() -> None:
    wire = encode_batch([(b"k", b"v" * 100)], compression=Codec.GZIP)
    bad = rebuild(wire, wire[HEADER_SIZE:-8])
    with pytest.raises(CompressionError, match="gzip"):
        decode_batch(bad)


def test_compressed_section_with_garbage_records() -> None:
    wire = encode_batch([(b"k", b"v")])
    bad = rebuild(wire, compress(Codec.ZSTD, b"\x7f" * 20), attributes=int(Codec.ZSTD))
    with pytest.raises(CorruptRecordError):
        decode_batch(bad)


def _decode_or_corrupt(wire: bytes) -> None:
    with contextlib.suppress(CorruptRecordError, CompressionError):
        decode_batch(wire, verify_crc=False)
    try:
        h = read_header(wire)
    except CorruptBatchError:
        return
    with contextlib.suppress(CorruptRecordError, CompressionError):
        validate_records(wire, 0, h)
    with contextlib.suppress(CorruptRecordError, CompressionError):
        decode_batches(wire)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=records_st, codec=st.sampled_from(list(Codec)), data=st.data())
def test_mutated_batches_raise_only_corrupt_or_compression_errors(
    records: list[Record], codec: Codec, data: st.DataObject
) -> None:
    wire = bytearray(encode_batch(records, compression=codec))
    # Mutate the records section (and sometimes the header), then fix length and CRC so
    # the record parser (not just the CRC check) sees the damage.
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        lo = data.draw(st.sampled_from([HEADER_SIZE, 21]))
        if len(wire) <= lo:
            break
        i = data.draw(st.integers(min_value=lo, max_value=len(wire) - 1))
        if op == "flip":
            wire[i] ^= data.draw(st.integers(min_value=1, max_value=255))
        elif op == "cut":
            del wire[i:]
        elif op == "insert":
            wire[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del wire[i : i + data.draw(st.integers(min_value=1, max_value=8))]
    if len(wire) >= 12 and data.draw(st.booleans()):
        struct.pack_into(">i", wire, 8, len(wire) - 12)
    _decode_or_corrupt(fix_crc(wire))


@settings(max_examples=300, deadline=None)
@given(
    codec=st.sampled_from([0, 1, 2, 3, 4, 5]),
    count=st.integers(min_value=-3, max_value=40),
    section=st.binary(max_size=120),
)
def test_random_records_sections_raise_only_corrupt_or_compression_errors(
    codec: int, count: int, section: bytes
) -> None:
    template = encode_batch([(b"k", b"v")])
    _decode_or_corrupt(
        rebuild(
            template,
            section,
            attributes=codec,
            records_count=count,
            last_offset_delta=max(count - 1, 0),
        )
    )


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(buf: bytes) -> None:
    with contextlib.suppress(CorruptRecordError, CompressionError):
        decode_batches(buf)
    with contextlib.suppress(CorruptRecordError, CompressionError):
        decode_batch(buf)
