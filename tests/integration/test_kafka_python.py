"""kafka-python 3.0.12 against a real broker: produce, consume, errors.

Consumers are assign-only (``group_id=None``): the broker has no group APIs yet.

The scenarios every client runs the same way are in test_clients.py, parametrized over the
clients; this module keeps what is kafka-python's own. Snappy is left out of those
scenarios for kafka-python: it needs the ``python-snappy`` package for it (it does not use
cramjam, which is what is installed), so it can neither produce nor read snappy batches in
this environment. The other clients cover snappy.
"""

from __future__ import annotations

import kafka
import kafka.errors
import pytest

from tests.support.broker_process import BrokerProcess
from tests.support.clients import (
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
    kp_producer,
    now_ms,
    numbered,
    produce,
    time_lookup_case,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def topic_name(topic_name: str) -> str:
    """Prefixed: the shared fixture derives names from test names, which repeat per client."""
    return "kp-" + topic_name


ME = "kafka-python"


def test_snappy_needs_python_snappy() -> None:
    """Pins why kafka-python has no snappy case; when this fails, add it to test_clients.py's
    CODEC_CASES."""
    assert not kafka.codec.has_snappy()


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


def test_consume_from_latest_sees_only_new_records(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce(ME, broker.bootstrap, topic_name, numbered(3))
    with KpConsumer(broker.bootstrap) as c:
        c.assign(topic_name, {0: LATEST})
        tp = kafka.TopicPartition(topic_name, 0)
        assert c.consumer.position(tp) == 3  # resolves 'latest' through ListOffsets
        produce(ME, broker.bootstrap, topic_name, [Record(b"new")])
        got = c.read(1)
    assert [(g.offset, g.value) for g in got] == [(3, b"new")]


def test_offsets_for_times(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    sent, queries, past = time_lookup_case(now_ms() - 100_000)
    produce(ME, broker.bootstrap, topic_name, sent)
    tp = kafka.TopicPartition(topic_name, 0)
    with KpConsumer(broker.bootstrap) as c:
        found = {ts: c.consumer.offsets_for_times({tp: ts})[tp] for ts in [*queries, past]}
    assert {ts: (f.offset, f.timestamp) for ts, f in found.items() if f is not None} == {
        ts: (off, sent[off].timestamp_ms) for ts, off in queries.items()
    }
    assert found[past] is None  # past the last record


def test_beginning_and_end_offsets(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name, partitions=2)
    produce(ME, broker.bootstrap, topic_name, numbered(7))
    tps = [kafka.TopicPartition(topic_name, p) for p in (0, 1)]
    with KpConsumer(broker.bootstrap) as c:
        assert c.consumer.beginning_offsets(tps) == {tps[0]: 0, tps[1]: 0}
        assert c.consumer.end_offsets(tps) == {tps[0]: 7, tps[1]: 0}


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
