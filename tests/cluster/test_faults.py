"""Fault injection on a real 3-broker cluster (real ZooKeeper, confluent-kafka clients).

Topic RF=3, min.insync.replicas=2; a producer with acks=all and idempotence writes unique
values throughout; after each fault heals, :func:`check_history` verifies that every
acknowledged value is read back at the offset it was acknowledged at, exactly once, and
the replicas' logs are compared batch by batch (same offsets, same CRCs).
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from confluent_kafka import KafkaError, Producer

from tests.cluster.test_replication_basics import create
from tests.support.cluster import Cluster
from tests.support.workload import (
    VerifiableConsumer,
    VerifiableProducer,
    check_history,
    replica_batches,
)

pytestmark = pytest.mark.cluster

TOPIC = "faults"


OBSERVERS: dict[int, VerifiableConsumer] = {}  # id(producer) -> its concurrent consumer


def start_load(cluster: Cluster) -> VerifiableProducer:
    create(cluster, TOPIC)
    producer = VerifiableProducer(cluster.bootstrap, TOPIC).start()
    OBSERVERS[id(producer)] = VerifiableConsumer(cluster.bootstrap, TOPIC).start()
    producer.wait_acked(200)
    return producer


def finish(cluster: Cluster, producer: VerifiableProducer) -> dict[str, int]:
    producer.wait_acked(200)  # liveness: writes succeed again after the fault
    cluster.wait_for_isr(TOPIC, 3, timeout=40)
    producer.stop()
    observer = OBSERVERS.pop(id(producer))
    observer.stop()
    stats = check_history(producer, cluster.bootstrap, observed=observer)
    assert stats["observed"] > 0, "the concurrent consumer read nothing"
    # Identical replicas once healed: every follower reaches the high watermark, which
    # (no more writes, full ISR) is the leader's log end.
    wait_caught_up(cluster)
    for proc in cluster.brokers.values():
        proc.stop()
    logs = [replica_batches(p.data_dir / "logs", TOPIC, 0) for p in cluster.brokers.values()]
    assert logs[0] == logs[1] == logs[2], "replicas diverged"
    assert logs[0][-1][1] + 1 >= max(off for _, off in producer.acked.values()) + 1
    return stats


def wait_caught_up(cluster: Cluster, timeout: float = 30.0) -> None:
    from riverhead.cli.cluster import replica_lags

    endpoints = {n: ("127.0.0.1", p.port) for n, p in cluster.brokers.items()}

    def caught_up() -> bool:
        lags = {k: v for k, v in replica_lags(endpoints, 5.0).items() if k[1] == TOPIC}
        return len(lags) == 3 and set(lags.values()) == {0}

    cluster.wait_until(caught_up, timeout, "every replica at the high watermark")
    time.sleep(1.0)  # a few more follower fetches: the high watermark they know is final


def wait_new_leader(cluster: Cluster, old: int) -> int:
    cluster.wait_until(lambda: cluster.leader(TOPIC) not in (old, -1), 30, "a new leader")
    return cluster.leader(TOPIC)


def test_leader_kill_9_twice(cluster: Cluster) -> None:
    producer = start_load(cluster)
    for _ in range(2):
        old = cluster.leader(TOPIC)
        cluster.brokers[old].kill()
        wait_new_leader(cluster, old)
        producer.wait_acked(100)
        cluster.brokers[old].start()
        cluster.wait_for_isr(TOPIC, 3, timeout=40)
    stats = finish(cluster, producer)
    assert stats["acked"] >= 600


def test_leader_clean_shutdown_moves_leadership_first(cluster: Cluster) -> None:
    producer = start_load(cluster)
    old = cluster.leader(TOPIC)
    assert cluster.brokers[old].stop() == 0
    assert cluster.leader(TOPIC) not in (old, -1)  # moved before the process exited
    producer.wait_acked(100)
    cluster.brokers[old].start()
    stats = finish(cluster, producer)
    assert stats["acked"] >= 400


def test_controller_kill_9(cluster: Cluster) -> None:
    producer = start_load(cluster)
    controller = cluster.metadata().controller_id
    cluster.brokers[controller].kill()
    cluster.wait_until(
        lambda: cluster.metadata().controller_id not in (controller, -1), 30, "a new controller"
    )
    cluster.wait_until(lambda: cluster.leader(TOPIC) != controller, 30, "leader moved")
    producer.wait_acked(100)
    cluster.brokers[controller].start()
    finish(cluster, producer)


def test_paused_follower_leaves_and_rejoins_the_isr(cluster: Cluster) -> None:
    producer = start_load(cluster)
    leader = cluster.leader(TOPIC)
    follower = next(b for b in cluster.brokers if b != leader)
    os.kill(cluster.brokers[follower].pid, signal.SIGSTOP)
    try:
        cluster.wait_for_isr(TOPIC, 2, timeout=20)
        assert follower not in cluster.partition(TOPIC).isrs
        producer.wait_acked(200)  # ISR 2 >= min.insync.replicas: writes go on
    finally:
        os.kill(cluster.brokers[follower].pid, signal.SIGCONT)
    cluster.wait_for_isr(TOPIC, 3, timeout=30)
    finish(cluster, producer)


def test_isr_below_min_refuses_acks_all(cluster: Cluster) -> None:
    producer = start_load(cluster)
    leader = cluster.leader(TOPIC)
    followers = [b for b in cluster.brokers if b != leader]
    for b in followers:
        os.kill(cluster.brokers[b].pid, signal.SIGSTOP)
    try:
        cluster.wait_for_isr(TOPIC, 1, timeout=20)
        errors: list[int] = []
        probe = Producer(
            {
                "bootstrap.servers": cluster.brokers[leader].bootstrap,
                "acks": "all",
                "message.timeout.ms": 3000,
                "retries": 0,
            }
        )
        probe.produce(
            TOPIC, b"-1", callback=lambda err, msg: errors.append(err.code() if err else 0)
        )
        probe.flush(10)
        assert errors == [KafkaError.NOT_ENOUGH_REPLICAS]
    finally:
        for b in followers:
            os.kill(cluster.brokers[b].pid, signal.SIGCONT)
    finish(cluster, producer)


def test_rolling_restart(cluster: Cluster) -> None:
    producer = start_load(cluster)
    for node in sorted(cluster.brokers):
        assert cluster.brokers[node].stop() == 0
        producer.wait_acked(50)
        cluster.brokers[node].start()
        cluster.wait_for_isr(TOPIC, 3, timeout=40)
    finish(cluster, producer)


def test_two_leader_changes_in_quick_succession(cluster: Cluster) -> None:
    producer = start_load(cluster)
    first = cluster.leader(TOPIC)
    cluster.brokers[first].kill()
    second = wait_new_leader(cluster, first)
    cluster.brokers[second].kill()
    # One replica left: ISR {third} < min ISR, so no acks until a second one returns.
    cluster.brokers[first].start()
    cluster.brokers[second].start()
    finish(cluster, producer)
