"""Bad input never takes the broker down: malformed frames, abusive connections, slow readers.

The contract (see ``riverhead.broker.dispatch``): whatever a client sends, the broker stays
up and keeps serving other connections. A frame it cannot parse, an unknown API key, an
unsupported version (except ApiVersions, which answers UNSUPPORTED_VERSION in a v0 body,
KIP-511) or a size outside ``[0, socket.request.max.bytes]`` closes *that* connection.
Anything else gets a well-formed response with the request's correlation id.

The property test runs against the shared session broker; after every example a fresh
connection must still do ApiVersions + Metadata, and at the end a real client must still
produce and consume.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from kio.index import load_response_schema
from kio.serial import entity_reader

from riverhead.protocol.apis import SUPPORTED, is_flexible
from riverhead.protocol.records import encode_batch
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import (
    CLOSED,
    RawClient,
    check_healthy,
    encode_request,
    frame,
    request_header,
    sample_body,
)

pytestmark = pytest.mark.integration

MAX_REQUEST_BYTES = 104857600  # socket.request.max.bytes default (the session broker's)
FUZZ_TOPIC = "fuzz-target"
API_VERSIONS = 18
UNSUPPORTED_VERSION = 35

RECORDS = encode_batch([(b"k", b"fuzz")])


def served_pairs() -> list[tuple[int, int]]:
    """Every (api key, version) the broker serves: advertised, minus Produce v0-2 which
    are advertised only for old librdkafka's sake (see riverhead.protocol.apis)."""
    return [
        (key, version)
        for key, (lo, hi) in sorted(SUPPORTED.items())
        for version in range(lo, hi + 1)
        if not (key == 0 and version < 3)
    ]


SERVED = served_pairs()
VALID: dict[tuple[int, int], bytes] = {pair: sample_body(*pair, records=RECORDS) for pair in SERVED}


def valid_request(key: int, version: int, correlation_id: int) -> bytes:
    return request_header(key, version, correlation_id) + VALID[(key, version)]


def response_body_ok(key: int, version: int, body: bytes) -> None:
    """The response body (after the correlation id) decodes as its schema, with nothing
    left over."""
    pos = 1 if is_flexible(key, version) and key != API_VERSIONS else 0
    if pos:
        assert body[:1] == b"\x00", f"response header v1 tag buffer is {body[:1]!r}"
    _, consumed = entity_reader(load_response_schema(key, version))(body, pos)
    assert pos + consumed == len(body), (
        f"api {key} v{version} response has {len(body) - pos - consumed} trailing bytes"
    )


@pytest.fixture(scope="module")
def fuzz_topic(broker: BrokerProcess) -> Iterator[str]:
    with RawClient(broker.bootstrap) as client:
        from kio.schema.metadata.v4.request import MetadataRequestTopic

        meta = client.call(
            3, 4, topics=(MetadataRequestTopic(name=FUZZ_TOPIC),), allow_auto_topic_creation=True
        )
        assert int(meta.topics[0].error_code) == 0, meta
    yield FUZZ_TOPIC


@pytest.fixture(scope="module", autouse=True)
def module_log_mark(broker: BrokerProcess) -> int:
    """Where the session broker's log stood when this module began."""
    return broker.log_path.stat().st_size


def broker_alive(broker: BrokerProcess) -> None:
    assert broker.proc is not None and broker.proc.poll() is None, (
        f"BROKER PROCESS DIED (exit {broker.proc.returncode if broker.proc else None}):\n"
        f"{broker.log_tail()}"
    )
    check_healthy(broker.bootstrap)


# ---- every served API version answers a valid request -------------------------------------


@pytest.mark.parametrize(("key", "version"), SERVED, ids=[f"{k}v{v}" for k, v in SERVED])
def test_valid_request_gets_well_formed_response(
    broker: BrokerProcess, fuzz_topic: str, key: int, version: int
) -> None:
    with RawClient(broker.bootstrap) as client:
        client.send_frame(valid_request(key, version, 7777))
        resp = client.read_response()
        assert resp is not CLOSED, (
            f"api {key} v{version}: broker closed the connection on a valid request:\n"
            f"{broker.log_tail(10)}"
        )
        assert resp.correlation_id == 7777
        response_body_ok(key, version, resp.body)


# ---- framing errors: deterministic cases ---------------------------------------------------


def test_oversized_declared_length_closes(broker: BrokerProcess) -> None:
    with RawClient(broker.bootstrap) as client:
        client.send_raw(struct.pack(">i", MAX_REQUEST_BYTES + 1) + b"\x00" * 64)
        assert client.wait_closed(5), "broker kept a connection declaring a too-large frame"
    broker_alive(broker)


@pytest.mark.parametrize("size", [-1, -(2**31), -12345])
def test_negative_length_closes(broker: BrokerProcess, size: int) -> None:
    with RawClient(broker.bootstrap) as client:
        client.send_raw(struct.pack(">i", size) + b"\x00" * 16)
        assert client.wait_closed(5)
    broker_alive(broker)


@pytest.mark.parametrize("version", [4, 9, 127, 32767, -1])
def test_api_versions_unsupported_version_answers_v0_error(
    broker: BrokerProcess, version: int
) -> None:
    with RawClient(broker.bootstrap) as client:
        # a v9 body is unknowable: send some bytes a future version might carry
        client.send_frame(request_header(API_VERSIONS, version, 99) + b"\x00\x01\x02")
        resp = client.read_response()
        assert resp is not CLOSED, "ApiVersions with an unsupported version must not close"
        assert resp.correlation_id == 99
        body = resp.decode(API_VERSIONS, 0)
        assert int(body.error_code) == UNSUPPORTED_VERSION
        ranges = {int(k.api_key): (int(k.min_version), int(k.max_version)) for k in body.api_keys}
        assert ranges[API_VERSIONS] == SUPPORTED[API_VERSIONS]
        response_body_ok(API_VERSIONS, 0, resp.body)
        # the connection stays usable: retry with a version we share (what clients do)
        versions = client.call(API_VERSIONS, 0)
        assert int(versions.error_code) == 0


@pytest.mark.parametrize("key", [4, 24, 23, 68, 71, 1000, 32767, -1])
def test_unknown_api_key_closes(broker: BrokerProcess, key: int) -> None:
    with RawClient(broker.bootstrap) as client:
        client.send_frame(request_header(key, 0, 5) + b"\x00" * 8)
        assert client.wait_closed(5), f"api key {key} is not served: expected a close"
    broker_alive(broker)


@pytest.mark.parametrize(("key", "version"), [(3, 13), (1, 3), (1, 13), (0, 10), (2, 0)])
def test_unsupported_version_of_other_api_closes(
    broker: BrokerProcess, key: int, version: int
) -> None:
    with RawClient(broker.bootstrap) as client:
        client.send_frame(request_header(key, version, 5) + b"\x00" * 8)
        assert client.wait_closed(5)
    broker_alive(broker)


def test_header_shorter_than_minimum_closes(broker: BrokerProcess) -> None:
    with RawClient(broker.bootstrap) as client:
        client.send_frame(b"\x00\x12\x00")
        assert client.wait_closed(5)
    broker_alive(broker)


def test_pipelined_requests_answered_in_order(broker: BrokerProcess) -> None:
    with RawClient(broker.bootstrap) as client:
        client.send_raw(b"".join(frame(valid_request(18, 3, cid)) for cid in range(1, 51)))
        for cid in range(1, 51):
            resp = client.read_response()
            assert resp is not CLOSED and resp.correlation_id == cid


# ---- property: random and mutated frames ---------------------------------------------------

BASES = list(VALID)
_GOLDEN = Path(__file__).resolve().parents[1] / "golden"
GOLDEN_FRAMES = (
    [(_GOLDEN / e["file"]).read_bytes() for e in json.loads((_GOLDEN / "index.json").read_text())]
    if (_GOLDEN / "index.json").exists()
    else []
)
UNKNOWN_KEYS = st.integers(-(2**15), 2**15 - 1).filter(lambda k: k not in SUPPORTED)


@st.composite
def fuzz_frames(draw: st.DrawFn) -> tuple[str, bytes, str]:
    """(kind, bytes to send, expectation): "close", "error35", "any" (a response with the
    right correlation id, a close, or silence) or "silence_or_close" (no complete frame)."""
    kind = draw(
        st.sampled_from(
            [
                "truncated",
                "oversized",
                "negative",
                "inner_length",
                "unknown_key",
                "unsupported_version",
                "api_versions_future",
                "random_body",
                "bit_flip",
                "garbage",
            ]
        )
    )
    key, version = draw(st.sampled_from(BASES))
    cid = draw(st.integers(0, 2**31 - 1))
    valid = valid_request(key, version, cid)
    if kind == "truncated":
        cut = draw(st.integers(0, len(valid) - 1))
        return kind, struct.pack(">i", len(valid)) + valid[:cut], "silence_or_close"
    if kind == "oversized":
        size = draw(st.integers(MAX_REQUEST_BYTES + 1, 2**31 - 1))
        return kind, struct.pack(">i", size) + valid, "close"
    if kind == "negative":
        size = draw(st.integers(-(2**31), -1))
        return kind, struct.pack(">i", size) + valid, "close"
    if kind == "inner_length":
        # overwrite an int16/int32 (lengths, counts) somewhere after the fixed header
        body = bytearray(valid)
        width = draw(st.sampled_from([1, 2, 4]))
        if len(body) <= 8 + width:
            return kind, frame(bytes(body)), "any"
        at = draw(st.integers(8, len(body) - width))
        value = draw(st.integers(-(2 ** (8 * width - 1)), 2 ** (8 * width - 1) - 1))
        body[at : at + width] = value.to_bytes(width, "big", signed=True)
        return kind, frame(bytes(body)), "any"
    if kind == "unknown_key":
        bad = draw(UNKNOWN_KEYS)
        tail = draw(st.binary(max_size=64))
        return kind, frame(request_header(bad, draw(st.integers(0, 20)), cid) + tail), "close"
    if kind == "unsupported_version":
        lo, hi = SUPPORTED[key]
        bad_version = draw(st.one_of(st.integers(hi + 1, 2**15 - 1), st.integers(-(2**15), lo - 1)))
        header = request_header(key, bad_version, cid)
        body = header + VALID[(key, version)]
        return kind, frame(body), "error35" if key == API_VERSIONS else "close"
    if kind == "api_versions_future":
        bad_version = draw(st.integers(SUPPORTED[API_VERSIONS][1] + 1, 2**15 - 1))
        tail = draw(st.binary(max_size=32))
        return kind, frame(request_header(API_VERSIONS, bad_version, cid) + tail), "error35"
    if kind == "random_body":
        tail = draw(st.binary(max_size=200))
        return kind, frame(request_header(key, version, cid) + tail), "any"
    if kind == "bit_flip":
        # flip bits of a sample request or of a real client's request (golden frames)
        body = bytearray(draw(st.sampled_from([valid, *GOLDEN_FRAMES])))
        for _ in range(draw(st.integers(1, 3))):
            bit = draw(st.integers(0, len(body) * 8 - 1))
            body[bit // 8] ^= 1 << (bit % 8)
        return kind, frame(bytes(body)), "any"
    size = draw(st.integers(0, 300))
    return kind, struct.pack(">i", size) + draw(st.binary(max_size=size)), "any"


def _header_fields(data: bytes) -> tuple[int, int, int] | None:
    if len(data) < 12:
        return None
    _, key, version, cid = struct.unpack_from(">ihhi", data, 0)
    return key, version, cid


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),  # more for a long hunt
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=fuzz_frames())
def test_fuzzed_frames_never_hurt_the_broker(
    broker: BrokerProcess, fuzz_topic: str, case: tuple[str, bytes, str]
) -> None:
    kind, data, expect = case
    note(f"kind={kind} expect={expect} data={data[:80].hex()}... ({len(data)} bytes)")
    with RawClient(broker.bootstrap) as client:
        client.send_raw(data)
        if expect == "close":
            assert client.wait_closed(5), f"{kind}: connection not closed"
        elif expect == "error35":
            resp = client.read_response(5)
            assert resp is not CLOSED, "ApiVersions with an unsupported version was closed"
            fields = _header_fields(data)
            assert fields is not None and resp.correlation_id == fields[2]
            body = resp.decode(API_VERSIONS, 0)
            assert int(body.error_code) == UNSUPPORTED_VERSION
            response_body_ok(API_VERSIONS, 0, resp.body)
        else:
            try:
                resp = client.read_response(0.3)
            except AssertionError as exc:  # ReadTimeout (silence) is acceptable
                if "before the deadline" not in str(exc):
                    raise
                resp = None
            if resp is not None and resp is not CLOSED:
                assert expect == "any", f"{kind}: got a response to an incomplete frame"
                fields = _header_fields(data)
                assert fields is not None
                key, version, cid = fields
                assert resp.correlation_id == cid, "response carries another correlation id"
                if (key, version) in VALID:
                    response_body_ok(key, version, resp.body)
    broker_alive(broker)


# ---- abusive connections ---------------------------------------------------------------------


def _fd_count(broker: BrokerProcess) -> int:
    assert broker.proc is not None
    return len(os.listdir(f"/proc/{broker.proc.pid}/fd"))


def test_half_frame_then_disconnect(broker: BrokerProcess) -> None:
    for cut in (2, 6, 20):
        data = frame(valid_request(3, 12, 1))
        with socket.create_connection(("127.0.0.1", broker.port)) as sock:
            sock.sendall(data[:cut])
        with socket.create_connection(("127.0.0.1", broker.port)) as sock:
            sock.sendall(struct.pack(">i", 5000) + b"\x00" * 100)  # promises 5000, sends 100
    broker_alive(broker)


def test_two_hundred_connections_opened_and_dropped(broker: BrokerProcess) -> None:
    before = _fd_count(broker)
    socks = [socket.create_connection(("127.0.0.1", broker.port)) for _ in range(200)]
    for i, sock in enumerate(socks):
        if i % 2:
            sock.sendall(frame(valid_request(18, 0, i))[:7])  # and some with half a frame
        if i % 3 == 0:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # every third one with a RST instead of a FIN
    broker_alive(broker)
    deadline = time.monotonic() + 10
    while _fd_count(broker) > before + 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _fd_count(broker) <= before + 5, (
        f"broker holds {_fd_count(broker)} fds after 200 dropped connections (was {before})"
    )


def _fetch_body(topic: str, max_bytes: int) -> bytes:
    import datetime

    from kio.schema.fetch.v11.request import FetchPartition, FetchRequest, FetchTopic

    req = FetchRequest(
        replica_id=-1,
        max_wait=datetime.timedelta(0),
        min_bytes=1,
        max_bytes=max_bytes,
        isolation_level=0,
        session_id=0,
        session_epoch=-1,
        topics=(
            FetchTopic(
                topic=topic,
                partitions=(
                    FetchPartition(
                        partition=0,
                        current_leader_epoch=-1,
                        fetch_offset=0,
                        log_start_offset=-1,
                        partition_max_bytes=max_bytes,
                    ),
                ),
            ),
        ),
        forgotten_topics_data=(),
        rack_id="",
    )
    import io

    from kio.serial import entity_writer

    out = io.BytesIO()
    entity_writer(FetchRequest)(out, req)
    return out.getvalue()


def test_slow_reader_does_not_block_others(broker: BrokerProcess, topic_name: str) -> None:
    # ~4 MB in the topic
    p = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "linger.ms": 20,
            "batch.size": 900_000,
            "acks": "all",
        }
    )
    for _ in range(4000):
        p.produce(topic_name, b"x" * 1000, partition=0)
    assert p.flush(30) == 0
    # the slow reader: 30 pipelined fetches of ~4 MB each (far beyond the socket buffers),
    # and it never reads
    slow = socket.create_connection(("127.0.0.1", broker.port))
    body = _fetch_body(topic_name, 50 << 20)
    slow.sendall(b"".join(frame(request_header(1, 11, cid) + body) for cid in range(30)))
    time.sleep(0.5)  # let the broker fill the socket and get stuck on it
    try:
        latencies = []
        for _ in range(10):
            started = time.monotonic()
            check_healthy(broker.bootstrap, timeout=5)
            with RawClient(broker.bootstrap, timeout=5) as other:
                other.send_frame(request_header(1, 11, 1) + _fetch_body(topic_name, 1 << 16))
                resp = other.read_response()
                assert resp is not CLOSED
            latencies.append(time.monotonic() - started)
        assert max(latencies) < 2.0, f"other clients slowed down: {latencies}"
    finally:
        slow.close()
    broker_alive(broker)


def test_slow_reader_gets_everything_eventually(broker: BrokerProcess, topic_name: str) -> None:
    """The broker parks a blocked writer rather than dropping data: a reader that finally
    reads gets all responses, whole and in order."""
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20, "acks": "all"})
    for _ in range(1000):
        p.produce(topic_name, b"y" * 1000, partition=0)
    assert p.flush(30) == 0
    with RawClient(broker.bootstrap, timeout=20) as client:
        body = _fetch_body(topic_name, 10 << 20)  # ~1 MB per response, 20 MB in all
        client.send_raw(b"".join(frame(request_header(1, 11, c) + body) for c in range(20)))
        time.sleep(0.5)  # the broker fills the socket buffers and must wait for us
        for cid in range(20):
            resp = client.read_response()
            assert resp is not CLOSED and resp.correlation_id == cid
            response_body_ok(1, 11, resp.body)


def _rss_mb(broker: BrokerProcess) -> int:
    assert broker.proc is not None
    with open(f"/proc/{broker.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS")


def test_declared_size_alone_does_not_reserve_memory(fresh_broker: BrokerProcess) -> None:
    """A 4-byte size prefix must not make the broker allocate the declared size up front:
    otherwise N idle connections each claiming socket.request.max.bytes (100 MB) cost
    N x 100 MB, and a few hundred of them get the broker OOM-killed. Memory for a request
    should follow the bytes that actually arrive (or be bounded by a pool, like Kafka's
    queued.max.request.bytes)."""
    fresh_broker.start()
    check_healthy(fresh_broker.bootstrap)
    before = _rss_mb(fresh_broker)
    socks = []
    try:
        for _ in range(6):
            sock = socket.create_connection(("127.0.0.1", fresh_broker.port))
            sock.sendall(struct.pack(">i", MAX_REQUEST_BYTES))  # ...and nothing more
            socks.append(sock)
        time.sleep(1.0)
        grown = _rss_mb(fresh_broker) - before
        check_healthy(fresh_broker.bootstrap)
    finally:
        for sock in socks:
            sock.close()
    assert grown < 100, (
        f"6 connections that sent only a 4-byte size prefix grew the broker by {grown} MB"
    )


# ---- tagged fields (KIP-482) -------------------------------------------------------------------


def _log_since(broker: BrokerProcess, offset: int) -> str:
    with broker.log_path.open("rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


@pytest.mark.parametrize(("key", "version"), [(3, 12), (18, 3), (22, 4), (19, 7)])
def test_unknown_tagged_field_in_body_is_skipped(
    broker: BrokerProcess, key: int, version: int
) -> None:
    """KIP-482: a receiver skips tagged fields it does not know (a newer client may send
    them). Same request as the valid sample, with tag 42 (3 bytes) added to the top-level
    tag buffer, which is the body's last byte (0x00 = no tags) in these samples."""
    body = VALID[(key, version)]
    assert body.endswith(b"\x00")
    tagged = body[:-1] + b"\x01" + b"\x2a" + b"\x03" + b"abc"
    mark = broker.log_path.stat().st_size
    with RawClient(broker.bootstrap) as client:
        client.send_frame(request_header(key, version, 4242) + tagged)
        resp = client.read_response()
        assert resp is not CLOSED, (
            f"api {key} v{version} with an unknown tagged field was closed:\n"
            f"{_log_since(broker, mark)[-600:]}"
        )
        assert resp.correlation_id == 4242
        response_body_ok(key, version, resp.body)


def test_unknown_tagged_field_in_header_is_skipped(broker: BrokerProcess) -> None:
    header = request_header(3, 12, 77)[:-1] + b"\x01\x05\x02hi"  # header v2, tag 5
    with RawClient(broker.bootstrap) as client:
        client.send_frame(header + VALID[(3, 12)])
        resp = client.read_response()
        assert resp is not CLOSED and resp.correlation_id == 77
        response_body_ok(3, 12, resp.body)


def test_reader_vanishing_mid_response_is_not_an_error(
    broker: BrokerProcess, topic_name: str
) -> None:
    """A consumer that disconnects while a large fetch response is being sent is ordinary;
    the broker closes the connection quietly (no "unexpected error" traceback)."""
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20, "acks": "all"})
    for _ in range(3000):
        p.produce(topic_name, b"z" * 1000, partition=0)
    assert p.flush(30) == 0
    mark = broker.log_path.stat().st_size
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", broker.port))
        body = _fetch_body(topic_name, 50 << 20)
        sock.sendall(b"".join(frame(request_header(1, 11, c) + body) for c in range(10)))
        time.sleep(0.3)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST with the broker's response half sent
    time.sleep(0.5)
    broker_alive(broker)
    new = _log_since(broker, mark)
    assert "Traceback" not in new, f"a client disconnect was logged as a broker error:\n{new}"


# ---- at the end: a real client still works ---------------------------------------------------


def test_zz_real_client_still_produces_and_consumes(broker: BrokerProcess, topic_name: str) -> None:
    broker_alive(broker)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "enable.idempotence": True})
    delivered: list[Any] = []
    for i in range(10):
        p.produce(
            topic_name,
            f"after-fuzz-{i}".encode(),
            partition=0,
            on_delivery=lambda err, msg: delivered.append((err, msg.offset())),
        )
    assert p.flush(30) == 0
    assert [d for d in delivered if d[0] is not None] == []
    c = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "after-fuzz",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
        }
    )
    try:
        c.assign([TopicPartition(topic_name, 0, 0)])
        got: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(got) < 10 and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                continue
            got.append(msg.value())
        assert got == [f"after-fuzz-{i}".encode() for i in range(10)]
    finally:
        c.close()


def test_zz_many_threads_of_garbage_at_once(broker: BrokerProcess) -> None:
    """Concurrent bad clients on every I/O thread at once; the broker keeps serving."""
    errors: list[BaseException] = []

    def hammer(seed: int) -> None:
        try:
            for i in range(20):
                with RawClient(broker.bootstrap, timeout=5) as client:
                    data = frame(valid_request(*BASES[(seed * 31 + i) % len(BASES)], i))
                    mutated = bytearray(data)
                    mutated[4 + (seed + i) % (len(data) - 4)] ^= 0xFF
                    client.send_raw(bytes(mutated))
                    client.wait_closed(0.05)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(s,)) for s in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    broker_alive(broker)


# ---- resource exhaustion by one admin request ------------------------------------------------


def test_create_topics_beyond_the_fd_limit_fails_cleanly(fresh_broker: BrokerProcess) -> None:
    """Every partition holds an open file (its active segment). A CreateTopics that runs out
    of file descriptors part-way must answer with an error, leave no half-created topic
    behind, and release what it opened, so the broker keeps serving."""
    import datetime
    import resource

    from kio.schema.create_topics.v4.request import CreatableTopic

    fresh_broker.start()
    # The broker raises its own soft limit to the hard one at start; cap both afterwards.
    assert fresh_broker.proc is not None
    resource.prlimit(fresh_broker.proc.pid, resource.RLIMIT_NOFILE, (400, 400))
    check_healthy(fresh_broker.bootstrap)
    before = _fd_count(fresh_broker)
    with RawClient(fresh_broker.bootstrap, timeout=30) as client:
        client.send_frame(
            encode_request(
                19,
                4,
                1,
                topics=(
                    CreatableTopic(
                        name="too-many",
                        num_partitions=300,
                        replication_factor=1,
                        assignments=(),
                        configs=(),
                    ),
                ),
                timeout=datetime.timedelta(seconds=30),
                validate_only=False,
            )
        )
        resp = client.read_response()
        assert resp is not CLOSED, (
            "CreateTopics that ran out of fds closed the connection instead of answering "
            f"with an error:\n{fresh_broker.log_tail(6)}"
        )
        result = resp.decode(19, 4).topics[0]
        assert int(result.error_code) != 0
    assert fresh_broker.proc is not None and fresh_broker.proc.poll() is None
    partition_dirs = list((fresh_broker.data_dir / "logs").glob("too-many-*"))
    assert partition_dirs == [], f"{len(partition_dirs)} partition dirs of a failed create left"
    assert _fd_count(fresh_broker) <= before + 5, (
        f"the failed create left {_fd_count(fresh_broker) - before} fds open"
    )
    check_healthy(fresh_broker.bootstrap)


def test_zz_no_handler_crashed_during_this_module(
    broker: BrokerProcess, module_log_mark: int
) -> None:
    """Bad input is answered or refused on purpose; a traceback in the broker log means a
    handler or the engine met something it did not expect (the dispatcher's "handler
    failed", the engine's "unexpected error")."""
    import re

    text = _log_since(broker, module_log_mark)
    causes: dict[str, int] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "handler failed" in line or "unexpected error" in line:
            what = re.sub(r"127\.0\.0\.1:\d+", "ADDR", line.split(": ", 1)[-1])
            exc = next((x for x in lines[i + 1 :] if re.match(r"^\w+(Error|Exception)", x)), "?")
            key = f"{what} -> {exc}"
            causes[key] = causes.get(key, 0) + 1
    assert not causes, "broker logged unexpected errors:\n" + "\n".join(
        f"  {n} x {cause}" for cause, n in sorted(causes.items())
    )
