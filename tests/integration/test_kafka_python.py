"""kafka-python 3.0.12 against a real broker: produce, consume, errors.

Consumers are assign-only (``group_id=None``): the broker has no group APIs yet.

Snappy is left out here: kafka-python needs the ``python-snappy`` package for it (it does
not use cramjam, which is what is installed), so it can neither produce nor read snappy
batches in this environment. The other clients cover snappy.
"""

from __future__ import annotations

import random

import kafka
import kafka.errors
import pytest

from tests.support.broker_process import BrokerProcess
from tests.support.clients import (
    CLIENTS,
    CODEC_IDS,
    EARLIEST,
    LATEST,
    LOG_APPEND_TIME,
    WAIT_S,
    Err,
    KpConsumer,
    ProduceFailed,
    ProduceOptions,
    Record,
    assert_round_trip,
    consume,
    consume_all,
    create_topic,
    dense_offsets,
    high_watermark,
    kp_producer,
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
    return "kp-" + topic_name


ME = "kafka-python"
KP_CODECS = ("none", "gzip", "lz4", "zstd")  # no snappy: see the module docstring


def test_snappy_needs_python_snappy() -> None:
    """Pins why snappy is not covered here; when this fails, add snappy to KP_CODECS."""
    assert not kafka.codec.has_snappy()


@pytest.mark.parametrize("consumer", CLIENTS)
def test_round_trip_is_byte_exact(broker: BrokerProcess, topic_name: str, consumer: str) -> None:
    create_topic(broker.bootstrap, topic_name, partitions=2)
    sent = sample_records()
    assert produce(ME, broker.bootstrap, topic_name, sent) == dense_offsets(sent)
    assert_round_trip(sent, consume_all(consumer, broker.bootstrap, topic_name, sent))


@pytest.mark.parametrize("codec", KP_CODECS)
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
    if acks != "0":  # acks=0 gets no response: kafka-python reports offset -1
        assert offsets == dense_offsets(sent)
    wait_until(lambda: high_watermark(broker.bootstrap, topic_name) == 20, "high watermark 20")
    assert_round_trip(sent, consume_all(ME, broker.bootstrap, topic_name, sent))


def test_default_producer_is_idempotent_with_dense_offsets(
    broker: BrokerProcess, topic_name: str
) -> None:
    create_topic(broker.bootstrap, topic_name, partitions=2)
    sent = [r for i in range(300) for r in numbered(1, partition=i % 2, prefix=f"idem-{i}")]
    # kafka-python 3 defaults: acks=all and enable_idempotence=True (InitProducerId v4)
    producer = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, batch_size=200, linger_ms=2)
    try:
        futures = [producer.send(topic_name, r.value, r.key, partition=r.partition) for r in sent]
        producer.flush(WAIT_S)
        offsets = [(md.partition, md.offset) for md in (f.get(WAIT_S) for f in futures)]
        assert producer.config["enable_idempotence"]
    finally:
        producer.close(WAIT_S)
    assert offsets == dense_offsets(sent)
    got = consume_all(ME, broker.bootstrap, topic_name, sent)
    assert_round_trip(sent, got, exact_ts=False)
    assert len({(c.partition, c.offset) for c in got}) == len(sent)


def test_consume_from_earliest_and_latest(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce(ME, broker.bootstrap, topic_name, numbered(3))
    got = consume(ME, broker.bootstrap, topic_name, {0: EARLIEST}, 3)
    assert [(c.offset, c.value) for c in got] == [(0, b"r-0"), (1, b"r-1"), (2, b"r-2")]
    with KpConsumer(broker.bootstrap) as c:
        c.assign(topic_name, {0: LATEST})
        tp = kafka.TopicPartition(topic_name, 0)
        assert c.consumer.position(tp) == 3  # resolves 'latest' through ListOffsets
        produce(ME, broker.bootstrap, topic_name, [Record(b"new")])
        got = c.read(1)
    assert [(g.offset, g.value) for g in got] == [(3, b"new")]


def test_offsets_for_times(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    base = now_ms() - 100_000
    stamps = [0, 3000, 1000, 2000, 4000]  # out of order on purpose
    sent = [Record(f"t{d}".encode(), timestamp_ms=base + d) for d in stamps]
    produce(ME, broker.bootstrap, topic_name, sent)
    tp = kafka.TopicPartition(topic_name, 0)
    queries = {base - 5: 0, base: 0, base + 1: 1, base + 1500: 1, base + 3500: 4, base + 4000: 4}
    with KpConsumer(broker.bootstrap) as c:
        found = {ts: c.consumer.offsets_for_times({tp: ts})[tp] for ts in [*queries, base + 4001]}
    assert {ts: (f.offset, f.timestamp) for ts, f in found.items() if f is not None} == {
        ts: (off, sent[off].timestamp_ms) for ts, off in queries.items()
    }
    assert found[base + 4001] is None  # past the last record


def test_beginning_and_end_offsets(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name, partitions=2)
    produce(ME, broker.bootstrap, topic_name, numbered(7))
    tps = [kafka.TopicPartition(topic_name, p) for p in (0, 1)]
    with KpConsumer(broker.bootstrap) as c:
        assert c.consumer.beginning_offsets(tps) == {tps[0]: 0, tps[1]: 0}
        assert c.consumer.end_offsets(tps) == {tps[0]: 7, tps[1]: 0}


def test_empty_partition_then_long_poll_receives_new_record(
    broker: BrokerProcess, topic_name: str
) -> None:
    create_topic(broker.bootstrap, topic_name)
    with KpConsumer(broker.bootstrap) as c:
        c.assign(topic_name, {0: 0})
        assert c.read(1, timeout=1.0) == []  # an empty partition: nothing, and no error
        produce(ME, broker.bootstrap, topic_name, [Record(b"late", b"k")])
        got = c.read(1)
    assert [(g.offset, g.key, g.value) for g in got] == [(0, b"k", b"late")]


def test_fetch_out_of_range(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce(ME, broker.bootstrap, topic_name, numbered(3))
    tp = kafka.TopicPartition(topic_name, 0)
    with KpConsumer(broker.bootstrap, auto_offset_reset="none") as c:
        c.assign(topic_name, {0: 100})
        with pytest.raises(kafka.errors.OffsetOutOfRangeError) as failed:
            c.read(1)
    assert failed.value.args[0] == {tp: 100}
    with KpConsumer(broker.bootstrap, auto_offset_reset="earliest") as c:
        c.assign(topic_name, {0: 100})
        assert [g.offset for g in c.read(3)] == [0, 1, 2]


def test_produce_to_unknown_topic_without_auto_create(fresh_broker: BrokerProcess) -> None:
    fresh_broker.settings["auto.create.topics.enable"] = "false"
    fresh_broker.start()
    b = fresh_broker.bootstrap
    # kafka-python waits for metadata that never lists the topic, then times out
    with pytest.raises(ProduceFailed, match="KafkaTimeoutError"):
        produce(
            ME, b, "no-such-topic", [Record(b"x")], ProduceOptions(extra={"max_block_ms": 2000})
        )
    admin = kafka.KafkaAdminClient(bootstrap_servers=b)
    try:
        (described,) = admin.describe_topics(["no-such-topic"])
    finally:
        admin.close()
    assert described["error_code"] == Err.UNKNOWN_TOPIC_OR_PARTITION


def test_produce_auto_creates_topic_with_num_partitions(fresh_broker: BrokerProcess) -> None:
    fresh_broker.settings["num.partitions"] = "3"
    fresh_broker.start()
    b = fresh_broker.bootstrap
    assert produce(ME, b, "auto-created", [Record(b"x", partition=2)]) == [(2, 0)]
    with KpConsumer(b) as c:
        assert c.consumer.partitions_for_topic("auto-created") == {0, 1, 2}
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
    before = now_ms()
    producer = kp_producer(broker.bootstrap, ProduceOptions())
    try:
        md = producer.send(topic_name, b"v", timestamp_ms=1_000_000_000_000).get(WAIT_S)
    finally:
        producer.close(WAIT_S)
    after = now_ms()
    # the Produce response carries log_append_time, which kafka-python reports as timestamp
    assert before <= md.timestamp <= after, (before, md.timestamp, after)
    (got,) = consume(ME, broker.bootstrap, topic_name, {0: EARLIEST}, 1)
    assert got.timestamp_type == LOG_APPEND_TIME
    assert got.timestamp_ms == md.timestamp
