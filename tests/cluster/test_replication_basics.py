"""Replication on a real 3-broker cluster with a real ZooKeeper and real clients."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from tests.support.cluster import Cluster

pytestmark = pytest.mark.cluster


def create(cluster: Cluster, name: str, partitions: int = 1, rf: int = 3, min_isr: int = 2) -> None:
    admin = cluster.admin()  # keep the handle alive until the futures resolve
    futures = admin.create_topics(
        [NewTopic(name, partitions, rf, config={"min.insync.replicas": str(min_isr)})]
    )
    futures[name].result(15)
    cluster.wait_for_isr(name, rf)


def produce(bootstrap: str, topic: str, values: list[bytes]) -> list[int]:
    offsets: list[int] = []
    errors: list[str] = []

    def done(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            offsets.append(msg.offset())

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for v in values:
        p.produce(topic, v, callback=done)
    p.flush(30)
    assert not errors, errors
    return offsets


def consume_all(bootstrap: str, topic: str, count: int, partition: int = 0) -> list[bytes]:
    c = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False}
    )
    c.assign([TopicPartition(topic, partition, 0)])
    out: list[bytes] = []
    import time

    deadline = time.monotonic() + 30
    while len(out) < count and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and msg.error() is None:
            out.append(msg.value())
    c.close()
    return out


def test_topic_is_replicated_to_three_brokers(cluster: Cluster) -> None:
    create(cluster, "orders")
    part = cluster.partition("orders")
    assert sorted(part.replicas) == [1, 2, 3]
    assert sorted(part.isrs) == [1, 2, 3]
    values = [f"v{i}".encode() for i in range(200)]
    offsets = produce(cluster.bootstrap, "orders", values)
    assert sorted(offsets) == list(range(200))
    assert consume_all(cluster.bootstrap, "orders", 200) == values
    # Every broker holds the same log: read each replica's files after a clean stop.
    for proc in cluster.brokers.values():
        proc.stop()
    logs = [
        b"".join(
            f.read_bytes() for f in sorted((proc.data_dir / "logs" / "orders-0").glob("*.log"))
        )
        for proc in cluster.brokers.values()
    ]
    assert logs[0] and logs[0] == logs[1] == logs[2]
