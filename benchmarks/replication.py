"""Replication benchmark: acks=all throughput and latency with RF=3 vs RF=1, and failover.

One run starts ZooKeeper and three brokers on loopback (see tests/support/cluster.py) and
measures, in the same run:

1. acks=all produce of ``--records`` 100-byte records to a topic with RF=3
   (min.insync.replicas=2) and to one with RF=1: records/s, and p50/p99 latency from
   ``produce()`` to the delivery report; the RF=3/RF=1 ratio.
   Latency is measured separately at a steady 500 records/s, so it is not queueing time.
2. failover after ``kill -9`` of the partition leader: time from the kill to the first
   acknowledged acks=all produce on the new leader (ZooKeeper session
   ``--session-ms``, default 6000 as in the issue's target of <= 8 s).
3. failover with controlled shutdown (SIGTERM): same measure (target <= 1 s).

Usage: ``python benchmarks/replication.py [--records 20000] [--session-ms 6000]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import REPO  # noqa: F401  (puts the repo on sys.path)
from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic
from tests.support.cluster import Cluster


def create(cluster: Cluster, name: str, rf: int) -> None:
    admin = cluster.admin()
    futures = admin.create_topics(
        [NewTopic(name, 1, rf, config={"min.insync.replicas": str(min(rf, 2))})]
    )
    futures[name].result(15)
    cluster.wait_for_isr(name, rf)


def throughput(bootstrap: str, topic: str, records: int) -> tuple[float, float, float]:
    """(records/s, p50 ms, p99 ms) for acks=all, idempotent, 100-byte values."""
    latencies: list[float] = []
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
        }
    )
    value = b"x" * 100

    def report(sent: float):
        def callback(err, _msg):
            if err is None:
                latencies.append(time.perf_counter() - sent)

        return callback

    started = time.perf_counter()
    for _ in range(records):
        while True:
            try:
                p.produce(topic, value, callback=report(time.perf_counter()))
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    p.flush(120)
    elapsed = time.perf_counter() - started
    assert len(latencies) == records, f"{len(latencies)} of {records} acknowledged"
    q = statistics.quantiles(latencies, n=100)
    return records / elapsed, q[49] * 1000, q[98] * 1000


def latency(bootstrap: str, topic: str, rate: int, seconds: float) -> tuple[float, float]:
    """(p50 ms, p99 ms) of acks=all produce at a steady ``rate`` records/s (no queueing)."""
    latencies: list[float] = []
    p = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 0}
    )

    def report(sent: float):
        def callback(err, _msg):
            if err is None:
                latencies.append(time.perf_counter() - sent)

        return callback

    p.produce(topic, b"warm-up")  # connections and metadata are not part of the latency
    p.flush(10)
    total = int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        while (now := time.perf_counter()) < due:
            p.poll(min(due - now, 0.001))
        p.produce(topic, b"y" * 100, callback=report(time.perf_counter()))
        p.poll(0)
    p.flush(30)
    q = statistics.quantiles(latencies, n=100)
    return q[49] * 1000, q[98] * 1000


def first_ack_after(cluster: Cluster, topic: str, fault: str) -> float:
    """Seconds from the fault to the first acks=all produce acknowledged afterwards."""
    leader = cluster.leader(topic)
    p = Producer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 0,
            "retry.backoff.ms": 20,
            "retry.backoff.max.ms": 100,
            "topic.metadata.refresh.interval.ms": 100,
            "message.timeout.ms": 60000,
        }
    )
    p.produce(topic, b"warm-up")
    p.flush(10)
    started = time.perf_counter()
    if fault == "kill":
        cluster.brokers[leader].kill()
    else:
        cluster.brokers[leader].proc.terminate()  # type: ignore[union-attr]
    acked: list[float] = []
    while not acked:
        p.produce(
            topic,
            b"probe",
            callback=lambda err, _m: acked.append(time.perf_counter()) if err is None else None,
        )
        p.poll(0.02)
    elapsed = acked[0] - started
    p.flush(30)
    if fault != "kill":
        cluster.brokers[leader].proc.wait(30)  # type: ignore[union-attr]
    cluster.brokers[leader].start()
    cluster.wait_for_isr(topic, 3, timeout=60)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--session-ms", type=int, default=6000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rh-repl-bench-") as tmp:
        cluster = Cluster(Path(tmp), session_ms=args.session_ms).start()
        try:
            create(cluster, "rf3", 3)
            create(cluster, "rf1", 1)
            rows = []
            for topic in ("rf1", "rf3"):
                rate, _, _ = throughput(cluster.bootstrap, topic, args.records)
                p50, p99 = latency(cluster.bootstrap, topic, 500, 6.0)
                rows.append((topic, rate, p50, p99))
            print(
                f"acks=all, idempotent producer, 1 partition, 100 B records: throughput of "
                f"{args.records} sent at once; latency at a steady 500 records/s"
            )
            print(f"{'topic':<6} {'records/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
            for topic, rate, p50, p99 in rows:
                print(f"{topic:<6} {rate:>10.0f} {p50:>8.2f} {p99:>8.2f}")
            print(
                f"RF=3 / RF=1: throughput {rows[1][1] / rows[0][1]:.2f}x, "
                f"p50 latency {rows[1][2] / rows[0][2]:.2f}x"
            )
            for fault in ("kill", "term"):
                times = [first_ack_after(cluster, "rf3", fault) for _ in range(args.rounds)]
                label = "kill -9" if fault == "kill" else "controlled shutdown"
                print(
                    f"failover after {label} (session {args.session_ms} ms): "
                    + ", ".join(f"{t:.2f}" for t in times)
                    + f" s (median {statistics.median(times):.2f} s)"
                )
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
