"""The console's /metrics (Kafka exporter names computed as a client) agrees with the
broker's own lag metrics and with log end - committed."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from riverhead.cli.client import Settings
from riverhead.console import ConsoleConfig, create_app
from tests.support.broker_process import BrokerProcess
from tests.support.metrics import Samples, scrape, value

pytestmark = pytest.mark.integration


def _parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def test_console_exporter_matches_the_broker(metrics_broker: BrokerProcess) -> None:
    admin = AdminClient({"bootstrap.servers": metrics_broker.bootstrap})
    admin.create_topics([NewTopic("exported", 3, 1)])["exported"].result(10)
    producer = Producer({"bootstrap.servers": metrics_broker.bootstrap})
    for i in range(90):
        producer.produce("exported", value=b"v", partition=i % 3)  # 30 per partition
    assert producer.flush(10) == 0
    consumer = Consumer({"bootstrap.servers": metrics_broker.bootstrap, "group.id": "exp"})
    consumer.commit(
        offsets=[TopicPartition("exported", 0, 10), TopicPartition("exported", 2, 30)],
        asynchronous=False,
    )
    consumer.close()

    app = create_app(ConsoleConfig(Settings(metrics_broker.bootstrap, 10.0)))
    response = TestClient(app).get("/metrics")
    assert response.status_code == 200
    console = _parse(response.text)
    broker = scrape(metrics_broker.settings["metrics.listener"])
    assert value(console, "kafka_brokers") == 1
    assert value(console, "kafka_topic_partitions", topic="exported") == 3
    for p, lag in ((0, 20), (2, 0)):
        labels = {"consumergroup": "exp", "topic": "exported", "partition": str(p)}
        assert value(console, "kafka_consumergroup_lag", **labels) == lag
        assert value(broker, "kafka_consumergroup_lag", **labels) == lag
        tp = {"topic": "exported", "partition": str(p)}
        assert value(console, "kafka_topic_partition_current_offset", **tp) == 30
        assert value(console, "kafka_topic_partition_current_offset", **tp) == value(
            broker, "kafka_topic_partition_current_offset", **tp
        )
    group = {"consumergroup": "exp", "topic": "exported"}
    assert value(console, "kafka_consumergroup_lag_sum", **group) == 20
    assert value(broker, "kafka_consumergroup_lag_sum", **group) == 20
    assert value(console, "kafka_consumergroup_current_offset_sum", **group) == 40
    assert value(console, "kafka_consumergroup_members", consumergroup="exp") == 0
    assert value(console, "kafka_topic_partition_leader_is_preferred", **tp) == 1
