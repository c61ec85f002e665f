"""aiokafka 0.14 against a real broker: produce, consume, errors.

Consumers are assign-only (``group_id=None``): the broker has no group APIs yet. aiokafka
speaks old, non-flexible versions (Produce v7, Fetch v11, ListOffsets v3, Metadata v5,
InitProducerId v0), so these tests cover the broker's lower version ranges.
"""

from __future__ import annotations

import asyncio
import random

import aiokafka
import aiokafka.errors
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.broker_process import BrokerProcess
from tests.support.clients import (
    CLIENTS,
    CODEC_IDS,
    CODECS,
    EARLIEST,
    LATEST,
    LOG_APPEND_TIME,
    Err,
    ProduceFailed,
    ProduceOptions,
    Record,
    aio_assign,
    aio_consumer,
    aio_read,
    assert_round_trip,
    consume,
    consume_all,
    create_topic,
    dense_offsets,
    high_watermark,
    now_ms,
    numbered,
    produce,
    sample_records,
    stored_batch_codecs,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def topic_name(topic_name: str) -> str:
    """Prefixed: the shared fixture derives names from test names, which repeat per client."""
    return "aio-" + topic_name


ME = "aiokafka"


@pytest.mark.parametrize("consumer", CLIENTS)
def test_round_trip_is_byte_exact(broker: BrokerProcess, topic_name: str, consumer: str) -> None:
    create_topic(broker.bootstrap, topic_name, partitions=2)
    sent = sample_records()
    assert produce(ME, broker.bootstrap, topic_name, sent) == dense_offsets(sent)
    assert_round_trip(sent, consume_all(consumer, broker.bootstrap, topic_name, sent))


@pytest.mark.parametrize("codec", CODECS)
def test_compressed_batches_round_trip(broker: BrokerProcess, topic_name: str, codec: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    base = now_ms() - 10_000
    sent = [
        Record(
            b"compressible " * 40 + str(i).encode(),
            f"k{i}".encode(),
            (("codec", codec.encode()),),
            base + i,
        )
        for i in range(50)
    ]
    assert produce(ME, broker.bootstrap, topic_name, sent, ProduceOptions(compression=codec)) == (
        dense_offsets(sent)
    )
    codecs = stored_batch_codecs(broker.data_dir / "logs", topic_name)
    assert codecs and set(codecs) == {CODEC_IDS[codec]}, codecs
    assert_round_trip(sent, consume_all(ME, broker.bootstrap, topic_name, sent))
    assert_round_trip(sent, consume_all("confluent", broker.bootstrap, topic_name, sent))


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_produce_with_acks(broker: BrokerProcess, topic_name: str, acks: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    sent = numbered(20)
    offsets = produce(ME, broker.bootstrap, topic_name, sent, ProduceOptions(acks=acks))
    if acks != "0":  # acks=0 gets no response, hence no offsets
        assert offsets == dense_offsets(sent)
    wait_until(lambda: high_watermark(broker.bootstrap, topic_name) == 20, "high watermark 20")
    assert_round_trip(sent, consume_all(ME, broker.bootstrap, topic_name, sent))


def test_idempotent_producer_writes_dense_offsets_without_duplicates(
    broker: BrokerProcess, topic_name: str
) -> None:
    """enable_idempotence=True: aiokafka only speaks InitProducerId v0 (no epoch fields)."""
    create_topic(broker.bootstrap, topic_name, partitions=2)
    sent = [r for i in range(300) for r in numbered(1, partition=i % 2, prefix=f"idem-{i}")]
    opts = ProduceOptions(idempotent=True, extra={"max_batch_size": 200, "linger_ms": 2})
    assert produce(ME, broker.bootstrap, topic_name, sent, opts) == dense_offsets(sent)
    got = consume_all(ME, broker.bootstrap, topic_name, sent)
    assert_round_trip(sent, got, exact_ts=False)
    assert len({(c.partition, c.offset) for c in got}) == len(sent)


def test_consume_from_earliest_and_latest(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce(ME, broker.bootstrap, topic_name, numbered(3))
    got = consume(ME, broker.bootstrap, topic_name, {0: EARLIEST}, 3)
    assert [(c.offset, c.value) for c in got] == [(0, b"r-0"), (1, b"r-1"), (2, b"r-2")]

    async def from_latest() -> tuple[int, list[tuple[int, bytes | None]]]:
        c = aio_consumer(broker.bootstrap)
        await c.start()
        try:
            await aio_assign(c, topic_name, {0: LATEST})
            position = await c.position(aiokafka.TopicPartition(topic_name, 0))
            await asyncio.to_thread(produce, ME, broker.bootstrap, topic_name, [Record(b"new")])
            return position, [(g.offset, g.value) for g in await aio_read(c, 1)]
        finally:
            await c.stop()

    assert asyncio.run(from_latest()) == (3, [(3, b"new")])


def test_offsets_for_times_and_watermarks(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name, partitions=2)
    base = now_ms() - 100_000
    stamps = [0, 3000, 1000, 2000, 4000]  # out of order on purpose
    sent = [Record(f"t{d}".encode(), timestamp_ms=base + d) for d in stamps]
    produce(ME, broker.bootstrap, topic_name, sent)
    queries = {base - 5: 0, base: 0, base + 1: 1, base + 1500: 1, base + 3500: 4, base + 4000: 4}
    tp0, tp1 = (aiokafka.TopicPartition(topic_name, p) for p in (0, 1))

    async def ask() -> tuple[dict[int, object], object, object]:
        c = aio_consumer(broker.bootstrap)
        await c.start()
        try:
            found = {
                ts: (await c.offsets_for_times({tp0: ts}))[tp0] for ts in [*queries, base + 4001]
            }
            return found, await c.beginning_offsets([tp0, tp1]), await c.end_offsets([tp0, tp1])
        finally:
            await c.stop()

    found, beginning, end = asyncio.run(ask())
    assert {ts: (f.offset, f.timestamp) for ts, f in found.items() if f is not None} == {  # type: ignore[attr-defined]
        ts: (off, sent[off].timestamp_ms) for ts, off in queries.items()
    }
    assert found[base + 4001] is None  # past the last record
    assert beginning == {tp0: 0, tp1: 0}
    assert end == {tp0: 5, tp1: 0}


def test_empty_partition_then_long_poll_receives_new_record(
    broker: BrokerProcess, topic_name: str
) -> None:
    create_topic(broker.bootstrap, topic_name)

    async def run() -> tuple[list[object], list[tuple[int, bytes | None, bytes | None]]]:
        c = aio_consumer(broker.bootstrap)
        await c.start()
        try:
            await aio_assign(c, topic_name, {0: 0})
            empty = await aio_read(c, 1, timeout=1.0)  # an empty partition: nothing, no error
            await asyncio.to_thread(
                produce, ME, broker.bootstrap, topic_name, [Record(b"late", b"k")]
            )
            return empty, [(g.offset, g.key, g.value) for g in await aio_read(c, 1)]
        finally:
            await c.stop()

    assert asyncio.run(run()) == ([], [(0, b"k", b"late")])


def test_fetch_out_of_range(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce(ME, broker.bootstrap, topic_name, numbered(3))
    tp = aiokafka.TopicPartition(topic_name, 0)

    async def read_at_100(reset: str) -> list[int]:
        c = aio_consumer(broker.bootstrap, auto_offset_reset=reset)
        await c.start()
        try:
            await aio_assign(c, topic_name, {0: 100})
            return [g.offset for g in await aio_read(c, 3)]
        finally:
            await c.stop()

    with pytest.raises(aiokafka.errors.OffsetOutOfRangeError) as failed:
        asyncio.run(read_at_100("none"))
    assert failed.value.args[0] == {tp: 100}
    assert asyncio.run(read_at_100("earliest")) == [0, 1, 2]


def test_produce_to_unknown_topic_without_auto_create(fresh_broker: BrokerProcess) -> None:
    fresh_broker.settings["auto.create.topics.enable"] = "false"
    fresh_broker.start()
    opts = ProduceOptions(extra={"request_timeout_ms": 2000})
    with pytest.raises(ProduceFailed) as failed:
        produce(ME, fresh_broker.bootstrap, "no-such-topic", [Record(b"x")], opts)
    assert failed.value.code == Err.UNKNOWN_TOPIC_OR_PARTITION, failed.value


def test_produce_auto_creates_topic_with_num_partitions(fresh_broker: BrokerProcess) -> None:
    fresh_broker.settings["num.partitions"] = "3"
    fresh_broker.start()
    b = fresh_broker.bootstrap
    assert produce(ME, b, "auto-created", [Record(b"x", partition=2)]) == [(2, 0)]

    async def partitions() -> list[int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=b)
        await admin.start()
        try:
            (topic,) = await admin.describe_topics(["auto-created"])
            assert topic["error_code"] == 0, topic
            return sorted(p["partition"] for p in topic["partitions"])
        finally:
            await admin.close()

    assert asyncio.run(partitions()) == [0, 1, 2]
    assert [c.value for c in consume(ME, b, "auto-created", {2: EARLIEST}, 1)] == [b"x"]


def test_oversized_record_is_rejected_with_message_too_large(fresh_broker: BrokerProcess) -> None:
    fresh_broker.settings["message.max.bytes"] = "10000"
    fresh_broker.start()
    b = fresh_broker.bootstrap
    create_topic(b, "limited")
    opts = ProduceOptions(max_request_bytes=1_000_000)
    assert produce(ME, b, "limited", [Record(b"s" * 5000)], opts) == [(0, 0)]
    with pytest.raises(ProduceFailed) as failed:
        produce(ME, b, "limited", [Record(random.Random(1).randbytes(20_000))], opts)
    assert failed.value.code == Err.MESSAGE_TOO_LARGE, failed.value
    assert high_watermark(b, "limited") == 1


def test_log_append_time_topic_stamps_broker_time(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name, config={"message.timestamp.type": "LogAppendTime"})
    sent = [Record(f"v{i}".encode(), timestamp_ms=1_000_000_000_000 + i) for i in range(3)]
    before = now_ms()
    produce(ME, broker.bootstrap, topic_name, sent, ProduceOptions(compression="gzip"))
    after = now_ms()
    got = consume_all(ME, broker.bootstrap, topic_name, sent)
    assert [g.value for g in got] == [r.value for r in sent]
    for g in got:
        assert g.timestamp_type == LOG_APPEND_TIME, g
        assert before <= g.timestamp_ms <= after, (before, g.timestamp_ms, after)
