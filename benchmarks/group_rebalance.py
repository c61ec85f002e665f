"""Consumer-group latency and OffsetCommit throughput against a Riverhead broker.

Figures (confluent-kafka / librdkafka consumers, broker with
``group.initial.rebalance.delay.ms=0``):

* subscribe -> first record, one consumer, a fresh group (target <= 500 ms);
* rebalance: a 4th member joins a group of 3, from its subscribe() until all 4 members
  have a non-empty assignment (target <= 1 s plus client timers; heartbeat.interval.ms is
  printed, the 3 members learn of the rebalance from their next heartbeat);
* OffsetCommit throughput from one consumer: synchronous commits/s and asynchronous
  commits/s (all callbacks received).

Usage: ``.venv/bin/python benchmarks/group_rebalance.py [--quick]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import confluent_kafka
from common import engine_process, stop, temp_dir
from confluent_kafka.admin import AdminClient, NewTopic

HEARTBEAT_MS = 500
SESSION_MS = 6000


def consumer_conf(bootstrap: str, group: str, **extra: object) -> dict[str, object]:
    conf: dict[str, object] = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": SESSION_MS,
        "heartbeat.interval.ms": HEARTBEAT_MS,
        "partition.assignment.strategy": "range",
        "fetch.wait.max.ms": 50,
    }
    conf.update(extra)
    return conf


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(30)


def produce(bootstrap: str, topic: str, count: int, partitions: int) -> None:
    p = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(count):
        p.produce(topic, value=b"v%d" % i, partition=i % partitions)
    assert p.flush(30) == 0


def first_record_ms(bootstrap: str, topic: str) -> float:
    c = confluent_kafka.Consumer(consumer_conf(bootstrap, f"bench-{uuid.uuid4().hex[:8]}"))
    try:
        start = time.perf_counter()
        c.subscribe([topic])
        deadline = start + 30
        while time.perf_counter() < deadline:
            msg = c.poll(0.01)
            if msg is not None and msg.error() is None:
                return (time.perf_counter() - start) * 1000
        raise TimeoutError("no record in 30 s")
    finally:
        c.close()


class Polled:
    """A consumer polled by its own thread; ``assignment`` follows the rebalance callbacks."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.consumer = confluent_kafka.Consumer(consumer_conf(bootstrap, group))
        self.topic = topic
        self.assignment: set[int] = set()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        def on_assign(_c: object, parts: list[confluent_kafka.TopicPartition]) -> None:
            self.assignment |= {p.partition for p in parts}

        def on_revoke(_c: object, parts: list[confluent_kafka.TopicPartition]) -> None:
            self.assignment -= {p.partition for p in parts}

        self.consumer.subscribe([self.topic], on_assign=on_assign, on_revoke=on_revoke)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            self.consumer.poll(0.02)

    def close(self) -> None:
        self.running = False
        self.thread.join(5)
        self.consumer.close()


def wait(cond: object, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not cond():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.002)


def rebalance_ms(bootstrap: str, topic: str, partitions: int) -> float:
    group = f"bench-{uuid.uuid4().hex[:8]}"
    members = [Polled(bootstrap, group, topic) for _ in range(3)]
    try:
        for m in members:
            m.start()
        wait(lambda: all(m.assignment for m in members))
        wait(lambda: sorted(p for m in members for p in m.assignment) == list(range(partitions)))
        fourth = Polled(bootstrap, group, topic)
        members.append(fourth)
        start = time.perf_counter()
        fourth.start()
        wait(
            lambda: (
                all(m.assignment for m in members)
                and sorted(p for m in members for p in m.assignment) == list(range(partitions))
            )
        )
        return (time.perf_counter() - start) * 1000
    finally:
        for m in members:
            m.close()


def commit_rates(bootstrap: str, topic: str, count: int) -> tuple[float, float]:
    group = f"bench-{uuid.uuid4().hex[:8]}"
    done = [0]

    def on_commit(err: object, _parts: object) -> None:
        assert err is None, err
        done[0] += 1

    c = confluent_kafka.Consumer(consumer_conf(bootstrap, group, on_commit=on_commit))
    try:
        c.subscribe([topic])
        deadline = time.perf_counter() + 30
        while not c.assignment() and time.perf_counter() < deadline:
            c.poll(0.05)
        tp = confluent_kafka.TopicPartition(topic, 0)
        start = time.perf_counter()
        for i in range(count):
            tp.offset = i + 1
            c.commit(offsets=[tp], asynchronous=False)
        sync_rate = count / (time.perf_counter() - start)
        while c.poll(0):  # drain the sync commits' callbacks
            pass
        done[0] = 0
        start = time.perf_counter()
        for i in range(count):
            tp.offset = count + i + 1
            c.commit(offsets=[tp], asynchronous=True)
            c.poll(0)
        while done[0] < count and time.perf_counter() - start < 60:
            c.poll(0.001)
        async_rate = done[0] / (time.perf_counter() - start)
        return sync_rate, async_rate
    finally:
        c.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args()
    rounds = 3 if args.quick else 10
    commits = 500 if args.quick else 5000
    partitions = 8
    with temp_dir("rh-bench-groups-") as data:
        server = engine_process(data, {"group.initial.rebalance.delay.ms": "0"}).start()
        try:
            bs = server.bootstrap
            topic = "bench-groups"
            create_topic(bs, topic, partitions)
            produce(bs, topic, 1000, partitions)
            first_record_ms(bs, topic)  # warm-up: __consumer_offsets creation, imports
            firsts = [first_record_ms(bs, topic) for _ in range(rounds)]
            rebalances = [rebalance_ms(bs, topic, partitions) for _ in range(max(2, rounds // 2))]
            sync_rate, async_rate = commit_rates(bs, topic, commits)
        finally:
            stop(server)
    print(f"confluent-kafka {confluent_kafka.version()[0]!s}, librdkafka "
          f"{confluent_kafka.libversion()[0]}; heartbeat.interval.ms={HEARTBEAT_MS}, "
          f"session.timeout.ms={SESSION_MS}, group.initial.rebalance.delay.ms=0")  # fmt: skip
    print(
        f"subscribe -> first record   : median {statistics.median(firsts):7.1f} ms, "
        f"max {max(firsts):7.1f} ms over {len(firsts)} fresh groups (target <= 500 ms)"
    )
    print(
        f"4th member joins 3 (8 parts): median {statistics.median(rebalances):7.1f} ms, "
        f"max {max(rebalances):7.1f} ms over {len(rebalances)} rounds "
        f"(target <= 1000 ms + heartbeat {HEARTBEAT_MS} ms)"
    )
    print(f"OffsetCommit, synchronous   : {sync_rate:9.0f} commits/s ({commits} commits)")
    print(f"OffsetCommit, asynchronous  : {async_rate:9.0f} commits/s ({commits} commits)")


if __name__ == "__main__":
    main()
