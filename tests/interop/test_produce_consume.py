"""Produce and consume through each real client, every codec, on both brokers.

What is compared per (client, codec): the (partition, offset) the producer was told, every
record the same client reads back (offset, key, value, headers, timestamp and its type),
and the codec of each batch as stored on disk (both brokers use Kafka's segment layout;
it tells a compressed batch from one a client silently sent uncompressed).
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from riverhead.protocol.records import Record as WireRecord
from riverhead.protocol.records import encode_batch
from tests.interop.diff import (
    Target,
    assert_same,
    common_version,
    observe,
    retry_call,
    wait_topic_ready,
)
from tests.support.clients import (
    CLIENTS,
    CODECS,
    Consumed,
    ProduceOptions,
    Record,
    consume_all,
    create_topic,
    now_ms,
    numbered,
    produce,
    sample_records,
    stored_batch_codecs,
)
from tests.support.raw_client import RawClient, produce_body, request_header

pytestmark = pytest.mark.interop


def kcat_records() -> list[Record]:
    """What kcat can send (no timestamps, no empty values, text header values)."""
    return [
        Record(b"value-0", b"key-0", (("h", b"v"),)),
        Record(b"null key", None),
        Record(None, b"tombstone"),
        Record(b"x" * 3000, b"big", (("dup", b"1"), ("dup", b"2"))),
        Record(b"p1-a", b"p1", (("p", b"1"),), partition=1),
    ]


def consumed_view(records: list[Consumed], *, client_stamped: bool) -> list[tuple[Any, ...]]:
    """Sorted tuples of every observable field; a timestamp the client stamped itself
    (kcat cannot set one) differs between runs, so only its type is kept."""
    return sorted(
        (
            c.partition,
            c.offset,
            c.key,
            c.value,
            c.headers,
            None if client_stamped else c.timestamp_ms,
            c.timestamp_type,
        )
        for c in records
    )


# kafka-python has no snappy here: it needs python-snappy, which is not installed
# (tests/integration/test_kafka_python.py::test_snappy_needs_python_snappy pins why).
CASES = [
    pytest.param(client, codec, id=f"{client}-{codec}")
    for client in CLIENTS
    for codec in CODECS
    if (client, codec) != ("kafka-python", "snappy")
]


@pytest.mark.parametrize(("client", "codec"), CASES)
def test_round_trip_every_codec(
    targets: tuple[Target, Target], topic_name: str, client: str, codec: str
) -> None:
    base = now_ms() - 60_000
    sent = kcat_records() if client == "kcat" else sample_records(base)

    def scenario(t: Target) -> dict[str, Any]:
        create_topic(t.bootstrap, topic_name, partitions=2)
        offsets = produce(client, t.bootstrap, topic_name, sent, ProduceOptions(compression=codec))
        got = consume_all(client, t.bootstrap, topic_name, sent)
        return {
            "offsets": offsets,
            "records": consumed_view(got, client_stamped=client == "kcat"),
            "stored codecs": sorted(
                {c for p in (0, 1) for c in stored_batch_codecs(t.log_dir, topic_name, p)}
            ),
        }

    seen = assert_same(observe(targets, scenario))
    assert len(seen["records"]) == len(sent)


IDEMPOTENT = {
    "confluent": ProduceOptions(
        idempotent=True,
        extra={"batch.num.messages": 7, "max.in.flight.requests.per.connection": 5},
    ),
    "kafka-python": ProduceOptions(idempotent=True),
    "aiokafka": ProduceOptions(idempotent=True, extra={"max_batch_size": 200, "linger_ms": 2}),
}


@pytest.mark.parametrize("client", IDEMPOTENT)
def test_idempotent_producer(targets: tuple[Target, Target], topic_name: str, client: str) -> None:
    sent = [r for i in range(200) for r in numbered(1, partition=i % 2, prefix=f"idem-{i}")]

    def scenario(t: Target) -> dict[str, Any]:
        create_topic(t.bootstrap, topic_name, partitions=2)
        offsets = produce(client, t.bootstrap, topic_name, sent, IDEMPOTENT[client])
        got = consume_all("confluent", t.bootstrap, topic_name, sent)
        return {"offsets": offsets, "values": sorted((c.partition, c.offset, c.value) for c in got)}

    seen = assert_same(observe(targets, scenario))
    assert len(seen["values"]) == len(sent)


def test_idempotent_retries_on_the_wire(targets: tuple[Target, Target], topic_name: str) -> None:
    """What a retrying idempotent producer meets: a resent batch (duplicate), the next
    sequence, a gap, an old sequence, a fenced epoch and an unknown producer id."""
    produce_v = common_version(targets, 0, 9)
    init_v = common_version(targets, 22, 4)

    def send(client: RawClient, pid: int, epoch: int, seq: int, n: int) -> tuple[int, int]:
        ts = now_ms()
        batch = encode_batch(
            [WireRecord(0, ts, None, f"s{seq + i}".encode()) for i in range(n)],
            producer_id=pid,
            producer_epoch=epoch,
            base_sequence=seq,
        )
        cid = client.correlation_id()
        client.send_frame(
            request_header(0, produce_v, cid)
            + produce_body(topic_name, 0, batch, version=produce_v)
        )
        resp = client.read_response()
        part = resp.decode(0, produce_v).responses[0].partition_responses[0]  # type: ignore[union-attr]
        return int(part.error_code), int(part.base_offset)

    def scenario(t: Target) -> dict[str, Any]:
        create_topic(t.bootstrap, topic_name)
        wait_topic_ready(t.bootstrap, topic_name, 1)
        out: dict[str, Any] = {}
        with RawClient(t.bootstrap) as client:
            fields: dict[str, Any] = {
                "transactional_id": None,
                "transaction_timeout": datetime.timedelta(seconds=60),
            }
            if init_v >= 3:
                fields |= {"producer_id": -1, "producer_epoch": -1}
            init = retry_call(client, 22, init_v, lambda r: int(r.error_code), **fields)
            out["init error"] = int(init.error_code)
            out["init epoch"] = int(init.producer_epoch)
            # the producer id itself is allocated by each broker: not compared
            pid, epoch = int(init.producer_id), int(init.producer_epoch)
            out["first"] = send(client, pid, epoch, 0, 3)
            out["resent (duplicate)"] = send(client, pid, epoch, 0, 3)
            out["next"] = send(client, pid, epoch, 3, 2)
            out["gap"] = send(client, pid, epoch, 9, 1)[0]
            out["old sequence"] = send(client, pid, epoch, 1, 2)[0]
            out["after errors"] = send(client, pid, epoch, 5, 1)
            out["unknown producer, seq 5"] = send(client, pid + 1000, 0, 5, 1)[0]
        return out

    seen = assert_same(observe(targets, scenario))
    assert seen["first"] == (0, 0) and seen["resent (duplicate)"] == (0, 0), seen


@pytest.mark.parametrize("client", ["confluent", "kafka-python", "aiokafka"])
def test_log_append_time_topic(
    targets: tuple[Target, Target], topic_name: str, client: str
) -> None:
    """message.timestamp.type=LogAppendTime: the broker stamps every record; what the
    producer set is replaced. The stamp itself is a wall-clock time, compared as "within
    the produce call"."""
    sent = [Record(f"v{i}".encode(), timestamp_ms=1_000_000 + i) for i in range(5)]

    def scenario(t: Target) -> dict[str, Any]:
        create_topic(t.bootstrap, topic_name, config={"message.timestamp.type": "LogAppendTime"})
        before = now_ms()
        offsets = produce(client, t.bootstrap, topic_name, sent)
        after = now_ms()
        got = consume_all(client, t.bootstrap, topic_name, sent)
        return {
            "offsets": offsets,
            "records": [(c.offset, c.value, c.timestamp_type) for c in got],
            "stamped during the produce": all(before <= c.timestamp_ms <= after for c in got),
        }

    seen = assert_same(observe(targets, scenario))
    assert seen["stamped during the produce"], seen


# Not kafka-python (refuses a None header value with a TypeError) nor kcat (sends an
# empty value instead).
@pytest.mark.parametrize("client", ["confluent", "aiokafka"])
def test_null_header_value_and_empty_header_name(
    targets: tuple[Target, Target], topic_name: str, client: str
) -> None:
    sent = [Record(b"v", b"k", (("null", None), ("", b"empty name")), now_ms())]  # type: ignore[arg-type]

    def scenario(t: Target) -> Any:
        create_topic(t.bootstrap, topic_name)
        produce(client, t.bootstrap, topic_name, sent)
        got = consume_all("confluent", t.bootstrap, topic_name, sent)
        return [c.headers for c in got]

    assert assert_same(observe(targets, scenario)) == [(("null", None), ("", b"empty name"))]
