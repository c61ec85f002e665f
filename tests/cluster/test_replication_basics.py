"""Replication on a real 3-broker cluster with a real ZooKeeper and real clients."""

from __future__ import annotations

import time

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


def test_consumer_group_on_a_cluster_survives_coordinator_loss(cluster: Cluster) -> None:
    """Groups follow __consumer_offsets leadership: commits survive the coordinator's death."""
    create(cluster, "events", partitions=3)
    produce(cluster.bootstrap, "events", [f"e{i}".encode() for i in range(300)])

    def consumer() -> Consumer:
        c = Consumer(
            {
                "bootstrap.servers": cluster.bootstrap,
                "group.id": "readers",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 6000,
            }
        )
        c.subscribe(["events"])
        return c

    c = consumer()
    seen: list[bytes] = []
    deadline = time.monotonic() + 60
    while len(seen) < 150 and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and msg.error() is None:
            seen.append(msg.value())
    c.commit(asynchronous=False)
    committed = {tp.partition: tp.offset for tp in c.committed(c.assignment(), timeout=10)}
    c.close()
    assert sum(o for o in committed.values() if o >= 0) == len(seen)

    # Kill the group's coordinator; the new leader of its offsets partition takes over.
    admin = cluster.admin()
    coordinator = admin.describe_consumer_groups(["readers"])["readers"].result(15).coordinator
    cluster.brokers[coordinator.id].kill()
    c = consumer()
    rest: list[bytes] = []
    deadline = time.monotonic() + 60
    while len(seen) + len(rest) < 300 and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and msg.error() is None:
            rest.append(msg.value())
    c.close()
    assert sorted(seen + rest) == sorted(f"e{i}".encode() for i in range(300))


def test_create_partitions_on_a_cluster(cluster: Cluster) -> None:
    from confluent_kafka.admin import NewPartitions

    create(cluster, "grow", partitions=1)
    admin = cluster.admin()
    admin.create_partitions([NewPartitions("grow", 3)])["grow"].result(15)
    cluster.wait_until(lambda: len(cluster.metadata().topics["grow"].partitions) == 3, 15)
    for index in range(3):
        cluster.wait_for_isr("grow", 3, index=index)
        assert cluster.leader("grow", index) in (1, 2, 3)
    p = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all"})
    delivered: list[int] = []
    p.produce("grow", b"x", partition=2, callback=lambda e, m: delivered.append(m.offset()))
    p.flush(15)
    assert delivered == [0]
