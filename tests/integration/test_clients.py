"""Scenarios the clients run the same way: one test each, parametrized over the clients.

The parameter ``client`` is the client under test (the producer, where others read back);
test ids carry the client names. A client that cannot run a scenario is left out of its
parameter list, with the reason beside the list; what only one client can do (its own
APIs, its own error reporting) stays in that client's module: test_confluent.py,
test_kafka_python.py, test_aiokafka.py, test_kcat.py.
"""

from __future__ import annotations

import random

import pytest

from tests.support.broker_process import BrokerProcess
from tests.support.clients import (
    CLIENTS,
    CODEC_IDS,
    CODECS,
    EARLIEST,
    LOG_APPEND_TIME,
    CkConsumer,
    Err,
    KpConsumer,
    ProduceFailed,
    ProduceOptions,
    Record,
    Start,
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
    topic_partitions,
    wait_until,
)

pytestmark = pytest.mark.integration

# The clients that produce through ``produce`` here. Not kcat: it cannot set timestamps or
# send an empty value, and reports no offsets (see ``kcat_produce``); test_kcat.py runs
# these scenarios with what kcat can send (round trip, compressed produce, acks, oversized
# record, LogAppendTime).
PRODUCERS = ("confluent", "kafka-python", "aiokafka")


@pytest.fixture
def topic_name(topic_name: str, client: str) -> str:
    """Prefixed with the client, as the per-client modules prefix theirs."""
    return f"{client}-{topic_name}"


@pytest.mark.parametrize("consumer", CLIENTS)
@pytest.mark.parametrize("client", PRODUCERS)
def test_round_trip_is_byte_exact(
    broker: BrokerProcess, topic_name: str, client: str, consumer: str
) -> None:
    create_topic(broker.bootstrap, topic_name, partitions=2)
    sent = sample_records()
    assert produce(client, broker.bootstrap, topic_name, sent) == dense_offsets(sent)
    assert_round_trip(sent, consume_all(consumer, broker.bootstrap, topic_name, sent))


# kafka-python has no snappy: it needs the python-snappy package, which is not installed
# (test_kafka_python.py::test_snappy_needs_python_snappy pins this).
CODEC_CASES = [
    pytest.param(client, codec, id=f"{client}-{codec}")
    for client in PRODUCERS
    for codec in CODECS
    if (client, codec) != ("kafka-python", "snappy")
]
# Besides the producer, a second client reads the batches back: confluent-kafka (the
# reference client), or aiokafka for confluent-kafka's own batches.
SECOND_READER = {"confluent": "aiokafka", "kafka-python": "confluent", "aiokafka": "confluent"}


@pytest.mark.parametrize(("client", "codec"), CODEC_CASES)
def test_compressed_batches_round_trip(
    broker: BrokerProcess, topic_name: str, client: str, codec: str
) -> None:
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
    opts = ProduceOptions(compression=codec)
    assert produce(client, broker.bootstrap, topic_name, sent, opts) == dense_offsets(sent)
    # librdkafka silently sends uncompressed batches when the advertised API versions
    # lack what it needs for a codec: check what the broker stored.
    codecs = stored_batch_codecs(broker.data_dir / "logs", topic_name)
    assert codecs and set(codecs) == {CODEC_IDS[codec]}, codecs
    for reader in (client, SECOND_READER[client]):
        assert_round_trip(sent, consume_all(reader, broker.bootstrap, topic_name, sent))


@pytest.mark.parametrize("acks", ["0", "1", "all"])
@pytest.mark.parametrize("client", PRODUCERS)
def test_produce_with_acks(broker: BrokerProcess, topic_name: str, client: str, acks: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    sent = numbered(20)
    offsets = produce(client, broker.bootstrap, topic_name, sent, ProduceOptions(acks=acks))
    if acks != "0":  # acks=0 gets no response, hence no offsets
        assert offsets == dense_offsets(sent)
    wait_until(lambda: high_watermark(broker.bootstrap, topic_name) == 20, "high watermark 20")
    assert_round_trip(sent, consume_all(client, broker.bootstrap, topic_name, sent))


# Each client's idempotent producer, with many small batches. Not kafka-python: idempotence
# is its default, and test_kafka_python.py checks that default producer.
IDEMPOTENT = {
    # several batches in flight per partition: exercises sequence numbers
    "confluent": ProduceOptions(
        idempotent=True,
        extra={"batch.num.messages": 7, "max.in.flight.requests.per.connection": 5},
    ),
    # aiokafka only speaks InitProducerId v0 (no epoch fields)
    "aiokafka": ProduceOptions(idempotent=True, extra={"max_batch_size": 200, "linger_ms": 2}),
}


@pytest.mark.parametrize("client", IDEMPOTENT)
def test_idempotent_producer_writes_dense_offsets_without_duplicates(
    broker: BrokerProcess, topic_name: str, client: str
) -> None:
    create_topic(broker.bootstrap, topic_name, partitions=2)
    sent = [r for i in range(300) for r in numbered(1, partition=i % 2, prefix=f"idem-{i}")]
    opts = IDEMPOTENT[client]
    assert produce(client, broker.bootstrap, topic_name, sent, opts) == dense_offsets(sent)
    got = consume_all(client, broker.bootstrap, topic_name, sent)
    assert_round_trip(sent, got, exact_ts=False)
    assert len({(c.partition, c.offset) for c in got}) == len(sent)


@pytest.mark.parametrize("client", PRODUCERS)
def test_consume_from_earliest(broker: BrokerProcess, topic_name: str, client: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce(client, broker.bootstrap, topic_name, numbered(3))
    got = consume(client, broker.bootstrap, topic_name, {0: EARLIEST}, 3)
    assert [(c.offset, c.value) for c in got] == [(0, b"r-0"), (1, b"r-1"), (2, b"r-2")]


# The clients with a blocking assign/read consumer, each with the start it was tested from;
# aiokafka's consumer is async: test_aiokafka.py has its version of this scenario.
@pytest.mark.parametrize(
    ("client", "consumer_class", "start"),
    [
        pytest.param("confluent", CkConsumer, EARLIEST, id="confluent"),
        pytest.param("kafka-python", KpConsumer, 0, id="kafka-python"),
    ],
)
def test_empty_partition_then_long_poll_receives_new_record(
    broker: BrokerProcess,
    topic_name: str,
    client: str,
    consumer_class: type[CkConsumer] | type[KpConsumer],
    start: Start,
) -> None:
    create_topic(broker.bootstrap, topic_name)
    with consumer_class(broker.bootstrap) as c:
        c.assign(topic_name, {0: start})
        assert c.read(1, timeout=1.0) == []  # an empty partition: nothing, and no error
        produce(client, broker.bootstrap, topic_name, [Record(b"late", b"k")])
        got = c.read(1)
    assert [(g.offset, g.key, g.value) for g in got] == [(0, b"k", b"late")]


@pytest.mark.parametrize("client", PRODUCERS)
def test_produce_auto_creates_topic_with_num_partitions(
    fresh_broker: BrokerProcess, client: str
) -> None:
    fresh_broker.settings["num.partitions"] = "3"
    fresh_broker.start()
    b = fresh_broker.bootstrap
    assert produce(client, b, "auto-created", [Record(b"x", partition=2)]) == [(2, 0)]
    assert topic_partitions(client, b, "auto-created") == [0, 1, 2]
    assert [c.value for c in consume(client, b, "auto-created", {2: EARLIEST}, 1)] == [b"x"]


@pytest.mark.parametrize("client", PRODUCERS)
def test_oversized_record_is_rejected_with_message_too_large(
    fresh_broker: BrokerProcess, client: str
) -> None:
    fresh_broker.settings["message.max.bytes"] = "10000"
    fresh_broker.start()
    b = fresh_broker.bootstrap
    create_topic(b, "limited")
    opts = ProduceOptions(max_request_bytes=1_000_000)
    assert produce(client, b, "limited", [Record(b"s" * 5000)], opts) == [(0, 0)]
    with pytest.raises(ProduceFailed) as failed:
        produce(client, b, "limited", [Record(random.Random(1).randbytes(20_000))], opts)
    assert failed.value.code == Err.MESSAGE_TOO_LARGE, failed.value
    assert high_watermark(b, "limited") == 1


# kafka-python's version also checks the Produce response's log_append_time
# (test_kafka_python.py); kcat cannot set the timestamps the broker replaces (test_kcat.py).
@pytest.mark.parametrize("codec", ["none", "gzip"])
@pytest.mark.parametrize("client", ["confluent", "aiokafka"])
def test_log_append_time_topic_stamps_broker_time(
    broker: BrokerProcess, topic_name: str, client: str, codec: str
) -> None:
    create_topic(broker.bootstrap, topic_name, config={"message.timestamp.type": "LogAppendTime"})
    sent = [Record(f"v{i}".encode(), timestamp_ms=1_000_000_000_000 + i) for i in range(3)]
    before = now_ms()
    produce(client, broker.bootstrap, topic_name, sent, ProduceOptions(compression=codec))
    after = now_ms()
    got = consume_all(client, broker.bootstrap, topic_name, sent)
    assert [g.value for g in got] == [r.value for r in sent]
    for g in got:
        assert g.timestamp_type == LOG_APPEND_TIME, g
        assert before <= g.timestamp_ms <= after, (before, g.timestamp_ms, after)
