"""The kio adapter shapes one version-independent tree into every version's schema."""

from __future__ import annotations

import uuid

import pytest
from kio.index import load_response_schema
from kio.serial import entity_reader

from riverhead.protocol import frames
from riverhead.protocol.apis import SUPPORTED, ApiKey, is_flexible
from riverhead.protocol.messages import RequestDecodeError, decode_request, encode_response

pytestmark = pytest.mark.unit

METADATA_TREE = {
    "throttle_time_ms": 0,
    "brokers": [{"node_id": 0, "host": "127.0.0.1", "port": 9092, "rack": None}],
    "cluster_id": "c1",
    "controller_id": 0,
    "topics": [
        {
            "error_code": 0,
            "name": "orders",
            "topic_id": uuid.UUID(int=7),
            "is_internal": False,
            "partitions": [
                {
                    "error_code": 0,
                    "partition_index": 0,
                    "leader_id": 0,
                    "leader_epoch": 0,
                    "replica_nodes": [0],
                    "isr_nodes": [0],
                    "offline_replicas": [],
                }
            ],
            "topic_authorized_operations": -(2**31),
        }
    ],
    "cluster_authorized_operations": -(2**31),
}


@pytest.mark.parametrize("version", range(0, 13))
def test_metadata_tree_serves_every_version(version):
    body = encode_response(ApiKey.METADATA, version, METADATA_TREE)
    decoded, consumed = entity_reader(load_response_schema(3, version))(body, 0)
    assert consumed == len(body)
    assert decoded.topics[0].name == "orders"
    assert decoded.topics[0].partitions[0].replica_nodes == (0,)
    if version >= 10:
        assert decoded.topics[0].topic_id == uuid.UUID(int=7)


def test_millisecond_fields_accept_integers():
    body = encode_response(
        ApiKey.PRODUCE,
        9,
        {
            "responses": [
                {
                    "name": "t",
                    "partition_responses": [
                        {
                            "index": 0,
                            "error_code": 0,
                            "base_offset": 1,
                            "log_append_time_ms": 1234,
                            "log_start_offset": 0,
                        }
                    ],
                }
            ],
            "throttle_time_ms": 3,
        },
    )
    decoded, _ = entity_reader(load_response_schema(0, 9))(body, 0)
    part = decoded.responses[0].partition_responses[0]
    assert round(part.log_append_time.timestamp() * 1000) == 1234
    assert decoded.throttle_time.total_seconds() == 0.003


def test_missing_required_field_is_a_programming_error():
    with pytest.raises(KeyError, match="error_code"):
        encode_response(ApiKey.API_VERSIONS, 0, {"api_keys": []})


def test_truncated_request_raises_decode_error():
    with pytest.raises(RequestDecodeError):
        decode_request(ApiKey.METADATA, 4, b"\x00\x00\x00\x05\x00", 0)


def test_trailing_bytes_are_tolerated():
    # librdkafka's Metadata v12 "all topics" request (research note P5).
    req = decode_request(ApiKey.METADATA, 12, b"\x00\x00\x00\x00\x01\x00\x00", 0)
    assert req is not None


def test_request_header_v2_skips_tagged_fields():
    raw = b"\x00\x03\x00\x0c\x00\x00\x00\x07\x00\x03abc" + b"\x01\x05\x02hi" + b"BODY"
    header = frames.parse_request_header(raw)
    assert (header.api_key, header.api_version, header.correlation_id) == (3, 12, 7)
    assert header.client_id == "abc"
    assert raw[header.size :] == b"BODY"


@pytest.mark.parametrize(
    "raw", [b"", b"\x00\x03\x00\x04", b"\x00\x03\x00\x04\x00\x00\x00\x01\x00\x09ab"]
)
def test_short_headers_raise_frame_error(raw):
    with pytest.raises(frames.FrameError):
        frames.parse_request_header(raw)


def test_apiversions_response_header_is_always_v0():
    assert frames.response_header(9, ApiKey.API_VERSIONS, 3) == b"\x00\x00\x00\x09"
    assert frames.response_header(9, ApiKey.METADATA, 12) == b"\x00\x00\x00\x09\x00"
    assert frames.response_header(9, ApiKey.METADATA, 8) == b"\x00\x00\x00\x09"


def test_advertised_ranges_are_ranges_with_old_minima():
    assert SUPPORTED[ApiKey.PRODUCE][0] == 0  # old librdkafka: gzip/snappy/lz4 need v0
    assert SUPPORTED[ApiKey.PRODUCE][1] >= 7 and SUPPORTED[ApiKey.FETCH][1] >= 10  # zstd
    # Kafka has only v0 of OffsetDelete; AlterPartition v2 is the first naming topics by id
    single = {ApiKey.OFFSET_DELETE, ApiKey.ALTER_PARTITION}
    # Kafka has only v0 of the SCRAM credential APIs
    single |= {ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS, ApiKey.ALTER_USER_SCRAM_CREDENTIALS}
    assert all(lo < hi for key, (lo, hi) in SUPPORTED.items() if key not in single)
    assert is_flexible(ApiKey.PRODUCE, 9) and not is_flexible(ApiKey.PRODUCE, 8)
