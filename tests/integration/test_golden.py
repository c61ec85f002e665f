"""Golden frames: requests captured from real clients decode and re-encode byte-identically,
and the broker answers each of them with a well-formed response.

The frames in ``tests/golden/`` come from ``scripts/capture_golden.py`` (confluent-kafka,
kafka-python, aiokafka and kcat through a recording proxy; one frame per client, API and
version). For every frame:

* the project's header parser (``riverhead.protocol.frames``) finds the api key, version
  and correlation id the index names, and the header re-encodes (kio) to the same bytes;
* kio-served APIs decode through ``riverhead.protocol.messages.decode_request`` and
  re-encode (kio ``entity_writer``) to the same bytes; Produce decodes through the
  hand-written ``riverhead.protocol.produce.decode_request`` and the decoded fields
  re-encode (kio) to the same bytes, records zero-copy and identical;
* librdkafka's Metadata v9+ "all topics" request carries 3 trailing bytes (research note
  P5): the re-encoding equals the consumed prefix, and the broker must not reject it;
* replayed against a broker, it gets a response with its correlation id that decodes as
  the response schema of its version without leftovers — except ApiVersions above the
  supported range (kafka-python's first v4 probe), answered UNSUPPORTED_VERSION in a v0
  body (KIP-511), and acks=0 Produce, answered with nothing.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer

from riverhead.protocol import produce
from riverhead.protocol.apis import SUPPORTED, is_flexible
from riverhead.protocol.batch import valid_prefix
from riverhead.protocol.frames import parse_request_header
from riverhead.protocol.messages import decode_request
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import CLOSED, RawClient, check_healthy, frame

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
INDEX: list[dict[str, Any]] = json.loads((GOLDEN / "index.json").read_text())
IDS = [f"{e['client']}-{e['api_name']}-v{e['api_version']}" for e in INDEX]
CLIENTS = {"confluent-kafka", "kafka-python", "aiokafka", "kcat"}
API_VERSIONS = 18
P5_TRAILER = b"\x01\x00\x00"


def payload(entry: dict[str, Any]) -> bytes:
    return (GOLDEN / entry["file"]).read_bytes()


def kio_write(cls: type, obj: Any) -> bytes:
    out = io.BytesIO()
    entity_writer(cls)(out, obj)
    return out.getvalue()


def is_p5(entry: dict[str, Any]) -> bool:
    """librdkafka's malformed Metadata v9+ request for all topics (research note P5)."""
    data = payload(entry)
    header = parse_request_header(data)
    return (
        entry["api_key"] == 3
        and entry["api_version"] >= 9
        and entry["client"] in ("confluent-kafka", "kcat")
        and data[header.size :] == b"\x00\x00\x00\x00" + P5_TRAILER
    )


# ---- the corpus ------------------------------------------------------------------------------


def test_corpus_is_small_and_covers_every_client() -> None:
    assert {e["client"] for e in INDEX} == CLIENTS
    files = [p for p in GOLDEN.rglob("*.bin")]
    assert len(files) == len(INDEX), "index.json and the .bin files disagree"
    assert sum(p.stat().st_size for p in files) < 1 << 20
    pairs = [(e["client"], e["api_key"], e["api_version"]) for e in INDEX]
    assert len(pairs) == len(set(pairs)), "one frame per (client, api, version)"
    for client in CLIENTS:  # every client at least bootstrapped, produced and fetched
        keys = {e["api_key"] for e in INDEX if e["client"] == client}
        assert {0, 1, 3, 18} <= keys, (client, keys)
    assert any(is_p5(e) for e in INDEX), "the librdkafka Metadata P5 frame is missing"


# ---- decode / re-encode ----------------------------------------------------------------------


@pytest.mark.parametrize("entry", INDEX, ids=IDS)
def test_header_parses_and_reencodes(entry: dict[str, Any]) -> None:
    data = payload(entry)
    header = parse_request_header(data)
    assert (header.api_key, header.api_version) == (entry["api_key"], entry["api_version"])
    version = 2 if header.flexible else 1
    cls = load_request_schema(header.api_key, header.api_version).__header_schema__
    assert cls.__module__.endswith(f"request_header.v{version}.header"), cls.__module__
    reread, consumed = entity_reader(cls)(data, 0)
    assert consumed == header.size, "riverhead and kio disagree on the header length"
    assert reread.correlation_id == header.correlation_id
    assert reread.client_id == header.client_id
    assert kio_write(cls, reread) == data[: header.size]


KIO_ENTRIES = [e for e in INDEX if e["api_key"] != 0]


@pytest.mark.parametrize(
    "entry",
    KIO_ENTRIES,
    ids=[f"{e['client']}-{e['api_name']}-v{e['api_version']}" for e in KIO_ENTRIES],
)
def test_kio_api_body_roundtrips(entry: dict[str, Any]) -> None:
    data = payload(entry)
    header = parse_request_header(data)
    obj = decode_request(header.api_key, header.api_version, data, header.size)
    body = data[header.size :]
    again = kio_write(load_request_schema(header.api_key, header.api_version), obj)
    if is_p5(entry):
        assert again == body[: -len(P5_TRAILER)], "P5: re-encoding must equal the prefix"
        assert body[len(again) :] == P5_TRAILER
    else:
        assert again == body


def test_librdkafka_metadata_p5_frame() -> None:
    """``00 00 00 00 01 00 00``: kio reads a null topic array (uvarint 0), two false flags
    and an empty tag buffer, and leaves ``01 00 00``; the request means all topics."""
    (entry,) = [e for e in INDEX if is_p5(e)][:1]
    data = payload(entry)
    header = parse_request_header(data)
    obj = decode_request(3, header.api_version, data, header.size)
    assert obj.topics is None
    assert entry["trailing_bytes"] == len(P5_TRAILER)
    again = kio_write(load_request_schema(3, header.api_version), obj)
    assert data[header.size :] == again + P5_TRAILER


PRODUCE_ENTRIES = [e for e in INDEX if e["api_key"] == 0]


@pytest.mark.parametrize(
    "entry", PRODUCE_ENTRIES, ids=[f"{e['client']}-v{e['api_version']}" for e in PRODUCE_ENTRIES]
)
def test_produce_decodes_exactly(entry: dict[str, Any]) -> None:
    data = payload(entry)
    view = memoryview(data)
    header = parse_request_header(data)
    version = header.api_version
    req = produce.decode_request(view, header.size, version)
    # kio's view of the same bytes, for comparison
    cls = load_request_schema(0, version)
    ref, consumed = entity_reader(cls)(data, header.size)
    assert header.size + consumed == len(data)
    assert req.transactional_id == ref.transactional_id
    assert req.acks == ref.acks
    assert req.timeout_ms == int(ref.timeout.total_seconds() * 1000)
    assert [t.name for t in req.topics] == [t.name for t in ref.topic_data]
    for mine, theirs in zip(req.topics, ref.topic_data, strict=True):
        assert [p.index for p in mine.partitions] == [p.index for p in theirs.partition_data]
        for p, q in zip(mine.partitions, theirs.partition_data, strict=True):
            assert p.records is not None and q.records is not None
            assert bytes(p.records) == bytes(q.records), "records bytes differ"
            assert p.records.obj is data, "records must be a zero-copy view of the request"
            end, batches, reason = valid_prefix(p.records)
            assert end == len(p.records) and batches >= 1, reason
    # the decoded fields, written back by kio, give the original bytes
    schema = import_module(f"kio.schema.produce.v{version}.request")
    rebuilt = cls(
        transactional_id=req.transactional_id,
        acks=req.acks,
        timeout=ref.timeout.__class__(milliseconds=req.timeout_ms),
        topic_data=tuple(
            schema.TopicProduceData(
                name=t.name,
                partition_data=tuple(
                    schema.PartitionProduceData(index=p.index, records=bytes(p.records))
                    for p in t.partitions
                ),
            )
            for t in req.topics
        ),
    )
    assert kio_write(cls, rebuilt) == data[header.size :]


# ---- replay against a broker -----------------------------------------------------------------


@pytest.fixture(scope="module")
def replay_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """A broker of this module's own: replayed admin frames create and delete topics."""
    proc = BrokerProcess(tmp_path_factory.mktemp("golden-replay")).start()
    try:
        yield proc
    finally:
        proc.stop()


def _acks(data: bytes) -> int | None:
    header = parse_request_header(data)
    if header.api_key != 0:
        return None
    return produce.decode_request(memoryview(data), header.size, header.api_version).acks


@pytest.mark.parametrize("entry", INDEX, ids=IDS)
def test_replay_gets_well_formed_response(
    replay_broker: BrokerProcess, entry: dict[str, Any]
) -> None:
    data = payload(entry)
    header = parse_request_header(data)
    key, version = header.api_key, header.api_version
    with RawClient(replay_broker.bootstrap) as client:
        client.send_raw(frame(data))
        if _acks(data) == 0:
            # acks=0: no response at all, and the connection stays open
            assert not client.wait_closed(0.5), "acks=0 Produce closed the connection"
            return
        resp = client.read_response()
        assert resp is not CLOSED, (
            f"broker closed the connection on a real client's {entry['api_name']} "
            f"v{version}:\n{replay_broker.log_tail(10)}"
        )
        assert resp.correlation_id == header.correlation_id
        if key == API_VERSIONS and version > SUPPORTED[API_VERSIONS][1]:
            body = resp.decode(API_VERSIONS, 0)  # KIP-511: v0 body, error 35
            assert int(body.error_code) == 35
            response_version = 0
        else:
            response_version = version
        offset = 1 if is_flexible(key, version) and key != API_VERSIONS else 0
        _, consumed = entity_reader(load_response_schema(key, response_version))(resp.body, offset)
        assert offset + consumed == len(resp.body), "trailing bytes in the response"
    check_healthy(replay_broker.bootstrap)
