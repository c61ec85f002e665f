"""The hand-written Produce/Fetch codecs agree with kio's schema-generated ones."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer

from riverhead.protocol import fetch, produce
from riverhead.protocol.records import encode_batch

pytestmark = pytest.mark.unit

topic_names = st.text("abcdefghijklmnopqrstuvwxyz-._", min_size=1, max_size=20)


def _kio_produce_request(
    version: int, topics: list[tuple[str, list[tuple[int, bytes | None]]]], acks: int
) -> bytes:
    cls = load_request_schema(0, version)
    mod = __import__(cls.__module__, fromlist=["x"])
    topic_cls = mod.TopicProduceData
    part_cls = mod.PartitionProduceData
    req = cls(
        transactional_id=None,
        acks=acks,
        timeout=__import__("datetime").timedelta(milliseconds=1500),
        topic_data=tuple(
            topic_cls(
                name=name,
                partition_data=tuple(part_cls(index=i, records=r) for i, r in parts),
            )
            for name, parts in topics
        ),
    )
    out = io.BytesIO()
    entity_writer(cls)(out, req)
    return out.getvalue()


@settings(max_examples=60, deadline=None)
@given(
    version=st.integers(3, 9),
    acks=st.sampled_from([-1, 0, 1]),
    topics=st.lists(
        st.tuples(
            topic_names,
            st.lists(
                st.tuples(st.integers(0, 1000), st.one_of(st.none(), st.binary(max_size=64))),
                max_size=3,
            ),
        ),
        max_size=3,
    ),
)
def test_produce_request_decodes_what_kio_encodes(version, acks, topics):
    raw = _kio_produce_request(version, topics, acks)
    req = produce.decode_request(memoryview(raw), 0, version)
    assert req.acks == acks
    assert req.timeout_ms == 1500
    assert req.transactional_id is None
    decoded = [
        (t.name, [(p.index, None if p.records is None else bytes(p.records)) for p in t.partitions])
        for t in req.topics
    ]
    assert decoded == [(name, list(parts)) for name, parts in topics]


def test_produce_request_records_are_views_not_copies():
    batch = encode_batch([(b"k", b"v")])
    raw = bytearray(_kio_produce_request(7, [("t", [(0, batch)])], 1))
    req = produce.decode_request(memoryview(raw), 0, 7)
    view = req.topics[0].partitions[0].records
    assert isinstance(view, memoryview) and view.obj is raw


@pytest.mark.parametrize("cut", [0, 1, 5, 11, 20])
def test_truncated_produce_request_raises_decode_error(cut):
    raw = _kio_produce_request(9, [("topic", [(0, encode_batch([(b"k", b"v")]))])], 1)
    with pytest.raises(produce.ProduceDecodeError):
        produce.decode_request(memoryview(raw[: len(raw) - 1 - cut]), 0, 9)


def test_absurd_array_length_is_rejected_without_allocating():
    raw = struct.pack(">hhi", -1, 1, 1000) + struct.pack(">i", 2**31 - 1)
    with pytest.raises(produce.ProduceDecodeError):
        produce.decode_request(memoryview(raw), 0, 3)


@pytest.mark.parametrize("version", range(3, 10))
def test_produce_response_matches_kio_reader(version):
    result = produce.PartitionResult(
        2, error_code=0, base_offset=41, log_append_time_ms=-1, log_start_offset=7
    )
    bad = produce.PartitionResult(3, error_code=2, error_message="crc", record_errors=[(0, "crc")])
    body = produce.encode_response(version, [("orders", [result, bad])], throttle_time_ms=5)
    cls = load_response_schema(0, version)
    decoded, consumed = entity_reader(cls)(body, 0)
    assert consumed == len(body)
    (topic,) = decoded.responses
    assert topic.name == "orders"
    first, second = topic.partition_responses
    assert (first.index, int(first.error_code), first.base_offset) == (2, 0, 41)
    assert (second.index, int(second.error_code)) == (3, 2)
    if version >= 5:
        assert first.log_start_offset == 7
    if version >= 8:
        assert second.error_message == "crc"
        assert second.record_errors[0].batch_index_error_message == "crc"
    assert decoded.throttle_time.total_seconds() * 1000 == 5


class _Chunk:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)


@pytest.mark.parametrize("version", range(4, 13))
def test_fetch_response_matches_kio_reader(version):
    records = encode_batch([(b"k", b"v" * 100)])
    parts_in = [
        fetch.FetchPartition(0, 0, 10, 10, 0, _Chunk(records)),
        fetch.FetchPartition(1, 1, -1, -1, -1, None),
        fetch.FetchPartition(2, 0, 5, 5, 0, b""),
    ]
    parts, size = fetch.encode_response(version, [("t1", parts_in), ("t2", [])])
    body = b"".join(p if isinstance(p, bytes) else p.data for p in parts)
    assert len(body) == size
    decoded, consumed = entity_reader(load_response_schema(1, version))(body, 0)
    assert consumed == len(body)
    t1, t2 = decoded.responses
    assert t1.topic == "t1" and t2.topic == "t2" and t2.partitions == ()
    p0, p1, p2 = t1.partitions
    assert bytes(p0.records) == records and p0.high_watermark == 10
    assert int(p1.error_code) == 1 and p1.records is None
    assert p2.records == b""
    if version >= 7:
        assert decoded.session_id == 0


def test_fetch_error_partition_defaults_to_empty_not_null_records():
    # librdkafka treats null records as a parse failure and never sees the error code.
    parts, _ = fetch.encode_response(11, [("t", [fetch.FetchPartition(0, error_code=1)])])
    decoded, _ = entity_reader(load_response_schema(1, 11))(b"".join(parts), 0)
    assert decoded.responses[0].partitions[0].records == b""
