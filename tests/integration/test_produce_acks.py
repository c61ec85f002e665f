"""acks=all against min.insync.replicas on a single broker (Kafka's NOT_ENOUGH_REPLICAS)."""

from __future__ import annotations

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration


def _produce_one(bootstrap: str, topic: str, acks: str) -> confluent_kafka.KafkaError | None:
    outcome: list[confluent_kafka.KafkaError | None] = []
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "acks": acks, "retries": 0, "message.timeout.ms": 5000}
    )
    producer.produce(topic, b"v", on_delivery=lambda err, _msg: outcome.append(err))
    assert producer.flush(15) == 0
    return outcome[0]


def test_acks_all_needs_min_insync_replicas(broker: BrokerProcess, topic_name: str) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic = NewTopic(topic_name, 1, 1, config={"min.insync.replicas": "2"})
    admin.create_topics([topic])[topic_name].result(15)
    err = _produce_one(broker.bootstrap, topic_name, "all")
    assert err is not None and err.code() == confluent_kafka.KafkaError.NOT_ENOUGH_REPLICAS
    assert _produce_one(broker.bootstrap, topic_name, "1") is None  # acks=1 is unaffected
