"""confluent-kafka (librdkafka 2.16) against a real broker: produce, consume, errors.

Consumers are assign-only (the broker has no group APIs yet); they carry a ``group.id``
because librdkafka wants one for some calls.

The scenarios every client runs the same way are in test_clients.py, parametrized over the
clients; this module keeps what is confluent-kafka's own.
"""

from __future__ import annotations

import confluent_kafka
import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from tests.support.broker_process import BrokerProcess
from tests.support.clients import (
    CREATE_TIME,
    LATEST,
    RD_UNKNOWN_TOPIC,
    WAIT_S,
    CkConsumer,
    ConsumeFailed,
    Err,
    ProduceFailed,
    Record,
    consume,
    consume_all,
    create_topic,
    now_ms,
    numbered,
    produce,
    time_lookup_case,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def topic_name(topic_name: str) -> str:
    """Prefixed: the shared fixture derives names from test names, which repeat per client."""
    return "ck-" + topic_name


ME = "confluent"


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
    sent, queries, past = time_lookup_case(now_ms() - 100_000)
    produce(ME, broker.bootstrap, topic_name, sent)
    with CkConsumer(broker.bootstrap) as c:  # one query per request: a partition appears once
        found = [
            c.consumer.offsets_for_times([TopicPartition(topic_name, 0, ts)], timeout=WAIT_S)[0]
            for ts in [*queries, past]
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


def test_create_time_topic_keeps_producer_timestamps(
    broker: BrokerProcess, topic_name: str
) -> None:
    create_topic(broker.bootstrap, topic_name, config={"message.timestamp.type": "CreateTime"})
    sent = [Record(b"old", timestamp_ms=1_000_000_000_000)]
    produce(ME, broker.bootstrap, topic_name, sent)
    (got,) = consume_all(ME, broker.bootstrap, topic_name, sent)
    assert (got.timestamp_type, got.timestamp_ms) == (CREATE_TIME, 1_000_000_000_000)
