"""Produce/consume throughput, single-record latency and CPU cost of one real broker.

Starts the broker as a child process (``BrokerProcess``, default settings, a temp log
dir), then for each case (record size x partition count):

* produce N records with confluent-kafka (linger.ms=5, batch.size=1000000, acks=1, no
  compression), timed from the first ``produce()`` to the end of ``flush()``;
* consume them back (assign every partition at offset 0, fetch.max.bytes large,
  fetch.min.bytes default, librdkafka's client-side queue limits lifted — see
  ``CONSUMER_QUEUE_TUNING``; one reference run with the defaults is printed too), timed
  from ``assign()`` to the N-th record;
* read the broker's utime+stime from ``/proc/<pid>/stat`` around each phase.

Then p50/p99 of single awaited acks=1 produces (produce one 100 B record, flush, repeat).
MB/s counts record value bytes (10**6 B). Client and broker share the machine's CPUs.

    python benchmarks/broker_throughput.py           # 1,000,000 records per case
    python benchmarks/broker_throughput.py --quick   # 100,000 records, < 60 s
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

TARGETS = {
    "produce_mb_s_1k": 200.0,
    "consume_mb_s_1k": 300.0,
    "produce_rec_s_100": 700_000.0,
    "p99_ms": 2.0,
    "cpu_s_per_gb": 2.0,
}


@dataclass
class CaseResult:
    size: int
    partitions: int
    records: int
    produce_s: float
    consume_s: float
    produce_cpu_s: float
    consume_cpu_s: float

    @property
    def bytes(self) -> int:
        return self.records * self.size

    def produce_rate(self) -> float:
        return self.records / self.produce_s

    def consume_rate(self) -> float:
        return self.records / self.consume_s

    def produce_mb_s(self) -> float:
        return self.bytes / self.produce_s / common.MB

    def consume_mb_s(self) -> float:
        return self.bytes / self.consume_s / common.MB

    def cpu_per_gb(self) -> float:
        return (self.produce_cpu_s + self.consume_cpu_s) / (2 * self.bytes / common.GB)


def producer_config(bootstrap: str, linger_ms: int) -> dict[str, object]:
    return {
        "bootstrap.servers": bootstrap,
        "linger.ms": linger_ms,
        "batch.size": 1_000_000,
        "acks": 1,
        "compression.type": "none",
        "message.max.bytes": 8_000_000,  # a request may carry one 1 MB batch per partition
        "queue.buffering.max.messages": 2_000_000,
        "queue.buffering.max.kbytes": 2_097_151,
        "delivery.report.only.error": True,
        **common.quiet_librdkafka(),
    }


def produce(bootstrap: str, topic: str, n: int, size: int, partitions: int) -> float:
    errors: list[str] = []

    def on_error(err: object, msg: object) -> None:
        if err is not None and len(errors) < 5:
            errors.append(str(err))

    producer = Producer({**producer_config(bootstrap, 5), "on_delivery": on_error})
    value = b"v" * size
    send, poll = producer.produce, producer.poll
    start = time.perf_counter()
    for i in range(n):
        try:
            send(topic, value, partition=i % partitions)
        except BufferError:
            poll(0.005)
            send(topic, value, partition=i % partitions)
        if not i & 0x3FFF:
            poll(0)
    left = producer.flush(120)
    elapsed = time.perf_counter() - start
    if left or errors:
        raise RuntimeError(f"produce to {topic}: {left} undelivered, errors {errors}")
    return elapsed


# librdkafka stops fetching a partition once its local queue holds queued.min.messages
# (100k) records, and then waits fetch.queue.backoff.ms (1 s) before fetching it again:
# with the defaults the *client* caps consumption near 150 MB/s while the broker idles
# (measured: 0.2 CPU-s/GB). These lift that cap so the broker is what gets measured.
CONSUMER_QUEUE_TUNING: dict[str, object] = {
    "queued.min.messages": 10_000_000,
    "queued.max.messages.kbytes": 2_000_000,
    "fetch.queue.backoff.ms": 0,
}


def consume(bootstrap: str, topic: str, n: int, partitions: int, *, tuned: bool = True) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{topic}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "fetch.max.bytes": 64 << 20,
            "max.partition.fetch.bytes": 16 << 20,
            "receive.message.max.bytes": (64 << 20) + 512,
            "check.crcs": False,
            **(CONSUMER_QUEUE_TUNING if tuned else {}),
            **common.quiet_librdkafka(),
        }
    )
    got = 0
    try:
        start = time.perf_counter()
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        idle_since = time.monotonic()
        while got < n:
            batch = consumer.consume(100_000, 0.5)
            if not batch:
                if time.monotonic() - idle_since > 30:
                    raise RuntimeError(f"consume {topic}: stalled at {got}/{n} records")
                continue
            idle_since = time.monotonic()
            for msg in batch:
                if msg.error() is not None:
                    raise KafkaException(msg.error())
            got += len(batch)
        return time.perf_counter() - start
    finally:
        consumer.close()


def latency(bootstrap: str, topic: str, count: int) -> list[float]:
    """Milliseconds of produce(one 100 B record) + flush, ``count`` times, linger.ms=0."""
    producer = Producer(producer_config(bootstrap, 0))
    value = b"l" * 100
    for _ in range(50):  # warm up: connection, metadata
        producer.produce(topic, value, partition=0)
        producer.flush(10)
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        producer.produce(topic, value, partition=0)
        if producer.flush(10):
            raise RuntimeError("single produce not acknowledged within 10 s")
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return samples


def run(records: int, latency_count: int) -> dict[str, object]:
    results: list[CaseResult] = []
    with common.temp_dir("rh-bench-tput-") as data_dir:
        server = common.engine_process(data_dir).start()
        try:
            pid = server.pid
            for size in (100, 1024):
                for partitions in (1, 4):
                    topic = f"tput-{size}-{partitions}"
                    common.create_topic(server.bootstrap, topic, partitions)
                    c0 = common.cpu_seconds(pid)
                    p_s = produce(server.bootstrap, topic, records, size, partitions)
                    c1 = common.cpu_seconds(pid)
                    c_s = consume(server.bootstrap, topic, records, partitions)
                    c2 = common.cpu_seconds(pid)
                    r = CaseResult(size, partitions, records, p_s, c_s, c1 - c0, c2 - c1)
                    results.append(r)
                    print(
                        f"  {size:>5} B x {partitions} part: "
                        f"produce {r.produce_rate():>10,.0f} rec/s "
                        f"{r.produce_mb_s():7.1f} MB/s | consume {r.consume_rate():>10,.0f} rec/s "
                        f"{r.consume_mb_s():7.1f} MB/s | broker {r.cpu_per_gb():.2f} CPU-s/GB",
                        flush=True,
                    )
            # Reference: the same records consumed with librdkafka's default queue settings.
            c0 = common.cpu_seconds(pid)
            default_s = consume(server.bootstrap, "tput-1024-1", records, 1, tuned=False)
            default_cpu = common.cpu_seconds(pid) - c0
            print(
                f"  1024 B x 1 part, consumer with librdkafka queue defaults: "
                f"{records * 1024 / default_s / common.MB:.1f} MB/s, broker "
                f"{default_cpu / (records * 1024 / common.GB):.2f} CPU-s/GB",
                flush=True,
            )
            common.create_topic(server.bootstrap, "latency", 1)
            c0 = common.cpu_seconds(pid)
            samples = latency(server.bootstrap, "latency", latency_count)
            lat_cpu = common.cpu_seconds(pid) - c0
            rss = common.rss_bytes(pid)
        finally:
            common.stop(server)
    return {
        "cases": results,
        "latency_ms": samples,
        "latency_cpu_s": lat_cpu,
        "rss": rss,
        "default_consumer_mb_s": records * 1024 / default_s / common.MB,
    }


def report(out: dict[str, object], records: int) -> dict[str, object]:
    cases: list[CaseResult] = out["cases"]  # type: ignore[assignment]
    samples: list[float] = out["latency_ms"]  # type: ignore[assignment]
    rows = [
        [
            f"{c.size} B",
            c.partitions,
            f"{c.records:,}",
            f"{c.produce_rate():,.0f}",
            f"{c.produce_mb_s():.1f}",
            f"{c.consume_rate():,.0f}",
            f"{c.consume_mb_s():.1f}",
            f"{c.produce_cpu_s / (c.bytes / common.GB):.2f}",
            f"{c.consume_cpu_s / (c.bytes / common.GB):.2f}",
            f"{c.cpu_per_gb():.2f}",
        ]
        for c in cases
    ]
    print()
    print(
        common.table(
            [
                "record",
                "parts",
                "records",
                "produce rec/s",
                "produce MB/s",
                "consume rec/s",
                "consume MB/s",
                "CPU-s/GB prod",
                "CPU-s/GB cons",
                "CPU-s/GB both",
            ],
            rows,
        )
    )
    p50, p99 = common.percentile(samples, 50), common.percentile(samples, 99)
    k1 = [c for c in cases if c.size == 1024]
    b100 = [c for c in cases if c.size == 100]
    total_cpu = sum(c.produce_cpu_s + c.consume_cpu_s for c in cases)
    total_gb = sum(2 * c.bytes for c in cases) / common.GB
    measured = {
        "produce_mb_s_1k": max(c.produce_mb_s() for c in k1),
        "consume_mb_s_1k": max(c.consume_mb_s() for c in k1),
        "produce_rec_s_100": max(c.produce_rate() for c in b100),
        "p99_ms": p99,
        "cpu_s_per_gb": total_cpu / total_gb,
    }

    def verdict(key: str, ok: bool) -> str:
        return (
            "meets"
            if ok
            else f"MISSES ({measured[key] / TARGETS[key]:.2f} of target)"
            if key not in ("p99_ms", "cpu_s_per_gb")
            else ("meets" if ok else f"MISSES ({measured[key] / TARGETS[key]:.1f}x the limit)")
        )

    target_rows = [
        [
            "produce MB/s, 1 KiB (best of 1/4 parts)",
            ">= 200",
            f"{measured['produce_mb_s_1k']:.1f}",
            verdict("produce_mb_s_1k", measured["produce_mb_s_1k"] >= 200),
        ],
        [
            "consume MB/s, 1 KiB (best of 1/4 parts)",
            ">= 300",
            f"{measured['consume_mb_s_1k']:.1f}",
            verdict("consume_mb_s_1k", measured["consume_mb_s_1k"] >= 300),
        ],
        [
            "produce records/s, 100 B (best)",
            ">= 700,000",
            f"{measured['produce_rec_s_100']:,.0f}",
            verdict("produce_rec_s_100", measured["produce_rec_s_100"] >= 700_000),
        ],
        [
            "single-record acks=1 p99 (ms)",
            "<= 2",
            f"{p99:.2f} (p50 {p50:.2f})",
            verdict("p99_ms", p99 <= 2),
        ],
        [
            "broker CPU-s per GB moved (all cases)",
            "<= 2",
            f"{measured['cpu_s_per_gb']:.2f}",
            verdict("cpu_s_per_gb", measured["cpu_s_per_gb"] <= 2),
        ],
    ]
    print()
    print(f"Targets ({records:,} records per case; latency over {len(samples)} produces):")
    print(common.table(["metric", "target", "measured", "verdict"], target_rows))
    print(
        f"\nlatency ms: p50 {p50:.3f}  p90 {common.percentile(samples, 90):.3f}  "
        f"p99 {p99:.3f}  p99.9 {common.percentile(samples, 99.9):.3f}  max {samples[-1]:.3f}; "
        f"broker CPU during the latency run {out['latency_cpu_s']:.2f} s"
    )
    print(f"broker RSS at the end: {int(out['rss']) / 2**20:.0f} MiB")  # type: ignore[call-overload]
    return {
        "records": records,
        "cases": [
            asdict(c)
            | {
                "produce_mb_s": c.produce_mb_s(),
                "consume_mb_s": c.consume_mb_s(),
                "produce_rec_s": c.produce_rate(),
                "consume_rec_s": c.consume_rate(),
                "cpu_s_per_gb": c.cpu_per_gb(),
            }
            for c in cases
        ],
        "latency_ms": {"p50": p50, "p99": p99, "max": samples[-1], "n": len(samples)},
        "measured": measured,
        "default_consumer_mb_s_1k_1p": out["default_consumer_mb_s"],
        "targets": TARGETS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k records per case")
    parser.add_argument("--records", type=int, help="records per case (default 1,000,000)")
    parser.add_argument("--latency-count", type=int, help="single produces (default 2000)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    records = args.records or (100_000 if args.quick else 1_000_000)
    lat = args.latency_count or (500 if args.quick else 2000)
    print(f"broker_throughput: {common.machine_summary()}")
    summary = report(run(records, lat), records)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
