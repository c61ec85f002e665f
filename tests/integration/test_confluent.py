"""confluent-kafka (librdkafka 2.16) against a real broker: produce, consume, errors.

Consumers are assign-only (the broker has no group APIs yet); they carry a ``group.id``
because librdkafka wants one for some calls.
"""

from __future__ import annotations

import random

import confluent_kafka
import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from tests.support.broker_process import BrokerProcess
from tests.support.clients import (
    CLIENTS,
    CODEC_IDS,
    CODECS,
    CREATE_TIME,
    EARLIEST,
    LATEST,
    LOG_APPEND_TIME,
    RD_UNKNOWN_TOPIC,
    WAIT_S,
    CkConsumer,
    ConsumeFailed,
    Err,
    ProduceFailed,
    ProduceOptions,
    Record,
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
    return "ck-" + topic_name


ME = "confluent"


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
    # librdkafka silently sends uncompressed batches when the advertised API versions
    # lack what it needs for a codec: check what the broker stored.
    codecs = stored_batch_codecs(broker.data_dir / "logs", topic_name)
    assert codecs and set(codecs) == {CODEC_IDS[codec]}, codecs
    assert_round_trip(sent, consume_all(ME, broker.bootstrap, topic_name, sent))
    assert_round_trip(sent, consume_all("aiokafka", broker.bootstrap, topic_name, sent))


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
    create_topic(broker.bootstrap, topic_name, partitions=2)
    sent = [r for i in range(300) for r in numbered(1, partition=i % 2, prefix=f"idem-{i}")]
    opts = ProduceOptions(
        idempotent=True,
        # many small batches, several in flight per partition: exercises sequence numbers
        extra={"batch.num.messages": 7, "max.in.flight.requests.per.connection": 5},
    )
    assert produce(ME, broker.bootstrap, topic_name, sent, opts) == dense_offsets(sent)
    got = consume_all(ME, broker.bootstrap, topic_name, sent)
    assert_round_trip(sent, got, exact_ts=False)
    assert len({(c.partition, c.offset) for c in got}) == len(sent)


def test_consume_from_earliest(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce(ME, broker.bootstrap, topic_name, numbered(3))
    got = consume(ME, broker.bootstrap, topic_name, {0: EARLIEST}, 3)
    assert [(c.offset, c.value) for c in got] == [(0, b"r-0"), (1, b"r-1"), (2, b"r-2")]


def test_consume_from_latest_sees_only_new_records(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce(ME, broker.bootstrap, topic_name, numbered(3))
    with CkConsumer(broker.bootstrap) as c:
        c.assign(topic_name, {0: LATEST})
        assert c.wait_for_end(0) == 3
        produce(ME, broker.bootstrap, topic_name, [Record(b"new")])
        got = c.read(1)
    assert [(g.offset, g.value) for g in got] == [(3, b"new")]


def test_offsets_for_times(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    base = now_ms() - 100_000
    # Out of order on purpose: the answer is the first offset whose timestamp is >= target.
    stamps = [0, 3000, 1000, 2000, 4000]
    sent = [Record(f"t{d}".encode(), timestamp_ms=base + d) for d in stamps]
    produce(ME, broker.bootstrap, topic_name, sent)
    queries = {base - 5: 0, base: 0, base + 1: 1, base + 1500: 1, base + 3500: 4, base + 4000: 4}
    with CkConsumer(broker.bootstrap) as c:  # one query per request: a partition appears once
        found = [
            c.consumer.offsets_for_times([TopicPartition(topic_name, 0, ts)], timeout=WAIT_S)[0]
            for ts in [*queries, base + 4001]
        ]
    assert [f.error for f in found] == [None] * len(found)
    # librdkafka reports "no such record" (a timestamp past the last one) as offset -1
    assert [f.offset for f in found] == [*queries.values(), -1]
    got = consume(ME, broker.bootstrap, topic_name, {0: found[3].offset}, 4)
    assert [(g.offset, g.value, g.timestamp_ms) for g in got] == [
        (i, sent[i].value, sent[i].timestamp_ms) for i in range(1, 5)
    ]


def test_watermarks(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name, partitions=2)
    produce(ME, broker.bootstrap, topic_name, numbered(7))
    with CkConsumer(broker.bootstrap) as c:
        marks = [
            c.consumer.get_watermark_offsets(TopicPartition(topic_name, p), WAIT_S, cached=False)
            for p in (0, 1)
        ]
    assert marks == [(0, 7), (0, 0)]


def test_empty_partition_then_long_poll_receives_new_record(
    broker: BrokerProcess, topic_name: str
) -> None:
    create_topic(broker.bootstrap, topic_name)
    with CkConsumer(broker.bootstrap) as c:
        c.assign(topic_name, {0: EARLIEST})
        assert c.read(1, timeout=1.0) == []  # an empty partition: nothing, and no error
        produce(ME, broker.bootstrap, topic_name, [Record(b"late", b"k")])
        got = c.read(1)
    assert [(g.offset, g.key, g.value) for g in got] == [(0, b"k", b"late")]


@pytest.mark.parametrize("reset", ["earliest", "latest"])
def test_fetch_out_of_range_applies_auto_offset_reset(
    broker: BrokerProcess, topic_name: str, reset: str
) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce(ME, broker.bootstrap, topic_name, numbered(3))
    with CkConsumer(broker.bootstrap, **{"auto.offset.reset": reset}) as c:
        c.assign(topic_name, {0: 100})
        if reset == "earliest":
            got = c.read(3)
            assert [g.offset for g in got] == [0, 1, 2]
            return
        assert c.wait_for_end(0) == 3  # reset from offset 100 to the end
        produce(ME, broker.bootstrap, topic_name, [Record(b"after reset")])
        got = c.read(1)
    assert [(g.offset, g.value) for g in got] == [(3, b"after reset")]


def test_fetch_out_of_range_without_reset_reports_the_error(
    broker: BrokerProcess, topic_name: str
) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce(ME, broker.bootstrap, topic_name, numbered(3))
    with CkConsumer(broker.bootstrap, **{"auto.offset.reset": "error"}) as c:
        c.assign(topic_name, {0: 100})
        with pytest.raises(ConsumeFailed) as failed:
            c.read(1)
    assert failed.value.code == confluent_kafka.KafkaError._AUTO_OFFSET_RESET
    assert "out of range" in failed.value.detail.lower(), failed.value.detail


def test_produce_to_unknown_topic_without_auto_create(fresh_broker: BrokerProcess) -> None:
    fresh_broker.settings["auto.create.topics.enable"] = "false"
    fresh_broker.start()
    with pytest.raises(ProduceFailed) as failed:
        produce(ME, fresh_broker.bootstrap, "no-such-topic", [Record(b"x")])
    # librdkafka turns the broker's UNKNOWN_TOPIC_OR_PARTITION metadata into its local code
    assert failed.value.code in (Err.UNKNOWN_TOPIC_OR_PARTITION, RD_UNKNOWN_TOPIC)
    md = AdminClient({"bootstrap.servers": fresh_broker.bootstrap}).list_topics(
        "no-such-topic", timeout=WAIT_S
    )
    assert md.topics["no-such-topic"].error.code() == Err.UNKNOWN_TOPIC_OR_PARTITION


def test_produce_auto_creates_topic_with_num_partitions(fresh_broker: BrokerProcess) -> None:
    fresh_broker.settings["num.partitions"] = "3"
    fresh_broker.start()
    b = fresh_broker.bootstrap
    assert produce(ME, b, "auto-created", [Record(b"x", partition=2)]) == [(2, 0)]
    md = AdminClient({"bootstrap.servers": b}).list_topics("auto-created", timeout=WAIT_S)
    assert md.topics["auto-created"].error is None
    assert sorted(md.topics["auto-created"].partitions) == [0, 1, 2]
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


@pytest.mark.parametrize("codec", ["none", "gzip"])
def test_log_append_time_topic_stamps_broker_time(
    broker: BrokerProcess, topic_name: str, codec: str
) -> None:
    create_topic(broker.bootstrap, topic_name, config={"message.timestamp.type": "LogAppendTime"})
    sent = [Record(f"v{i}".encode(), timestamp_ms=1_000_000_000_000 + i) for i in range(3)]
    before = now_ms()
    produce(ME, broker.bootstrap, topic_name, sent, ProduceOptions(compression=codec))
    after = now_ms()
    got = consume_all(ME, broker.bootstrap, topic_name, sent)
    assert [g.value for g in got] == [r.value for r in sent]
    for g in got:
        assert g.timestamp_type == LOG_APPEND_TIME, g
        assert before <= g.timestamp_ms <= after, (before, g.timestamp_ms, after)


def test_create_time_topic_keeps_producer_timestamps(
    broker: BrokerProcess, topic_name: str
) -> None:
    create_topic(broker.bootstrap, topic_name, config={"message.timestamp.type": "CreateTime"})
    sent = [Record(b"old", timestamp_ms=1_000_000_000_000)]
    produce(ME, broker.bootstrap, topic_name, sent)
    (got,) = consume_all(ME, broker.bootstrap, topic_name, sent)
    assert (got.timestamp_type, got.timestamp_ms) == (CREATE_TIME, 1_000_000_000_000)
