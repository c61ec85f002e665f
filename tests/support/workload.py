"""Kafka's VerifiableProducer/Consumer idea for fault tests, with Jepsen-style checks.

:class:`VerifiableProducer` sends unique integers (as ASCII) with acks=all and
idempotence from a background thread and records each outcome: acknowledged at
(partition, offset), or failed with an error. :func:`check_history` reads the topic back
from offset 0 and checks the invariants of the replication fault plan:

* every acknowledged value was read (no acknowledged write lost);
* each (partition, offset) holds one value, and it is the value the ack named;
* no value appears twice (the idempotent producer must not duplicate);
* values read that were never acknowledged come only from sends whose outcome was
  uncertain (timed out), never from a definite failure before append;
* everything a :class:`VerifiableConsumer` saw *during* the faults is in the final log at
  the same offset: no consumer read data that was later truncated (reads stay below the
  high watermark).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from riverhead.log.config import LogConfig
from riverhead.log.partition import PartitionLog

# Errors that prove the record was not appended (Kafka answers them before the append).
DEFINITE = {KafkaError.NOT_ENOUGH_REPLICAS, KafkaError.INVALID_RECORD}


@dataclass
class VerifiableProducer:
    bootstrap: str
    topic: str
    rate: float = 400.0  # records/s
    acked: dict[int, tuple[int, int]] = field(default_factory=dict)  # value -> (p, offset)
    failed: dict[int, int] = field(default_factory=dict)  # value -> error code
    sent: int = 0
    errors: list[str] = field(default_factory=list)  # client-level errors (error_cb)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
                # A black-holed leader holds requests until they time out, and the idempotent
                # producer cannot move on before: keep both timeouts short (a timed-out
                # send is "uncertain", never counted as acknowledged nor as refused).
                "message.timeout.ms": 30000,
                "request.timeout.ms": 5000,
                "topic.metadata.refresh.interval.ms": 1000,
                "error_cb": self._on_error,
            }
        )

    def _on_error(self, err: KafkaError) -> None:
        self.errors.append(f"{err.name()}: {err.str()}")

    def start(self) -> VerifiableProducer:
        self._thread.start()
        return self

    def _done(self, value: int):
        def callback(err, msg):
            with self._lock:
                if err is None:
                    self.acked[value] = (msg.partition(), msg.offset())
                else:
                    self.failed[value] = err.code()

        return callback

    def _run(self) -> None:
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            value = self.sent
            self.producer.produce(self.topic, str(value).encode(), callback=self._done(value))
            self.sent += 1
            self.producer.poll(0)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    def wait_acked(self, more: int, timeout: float = 60.0) -> None:
        target = self.acked_count() + more
        deadline = time.monotonic() + timeout
        while self.acked_count() < target:
            if time.monotonic() > deadline:
                with self._lock:
                    codes = sorted({KafkaError(c).name() for c in self.failed.values()})
                raise TimeoutError(
                    f"only {self.acked_count()} of {target} acked ({self.sent} sent; "
                    f"{len(self.failed)} failed: {codes}; client errors {self.errors[-5:]})"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.producer.flush(60)


@dataclass
class VerifiableConsumer:
    """Reads partition 0 from offset 0 in the background, recording what it sees."""

    bootstrap: str
    topic: str
    seen: list[tuple[int, int]] = field(default_factory=list)  # (offset, value)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> VerifiableConsumer:
        self._thread.start()
        return self

    def _run(self) -> None:
        c = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "observer",
                "enable.auto.commit": False,
                "topic.metadata.refresh.interval.ms": 1000,
            }
        )
        c.assign([TopicPartition(self.topic, 0, 0)])
        while not self._stop.is_set():
            msg = c.poll(0.2)
            if msg is not None and msg.error() is None:
                self.seen.append((msg.offset(), int(msg.value())))
        c.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)


def read_all(
    bootstrap: str, topic: str, partitions: int, ends: dict[int, int]
) -> dict[int, list[tuple[int, int]]]:
    """(offset, value) per partition from offset 0 up to ``ends[p]`` (exclusive)."""
    c = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "checker", "enable.auto.commit": False}
    )
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: dict[int, list[tuple[int, int]]] = {p: [] for p in range(partitions)}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all((out[p][-1][0] + 1 if out[p] else 0) >= ends[p] for p in range(partitions)):
            break
        msg = c.poll(0.5)
        if msg is None or msg.error() is not None:
            continue
        out[msg.partition()].append((msg.offset(), int(msg.value())))
    c.close()
    return out


def check_history(
    producer: VerifiableProducer,
    bootstrap: str,
    partitions: int = 1,
    observed: VerifiableConsumer | None = None,
) -> dict[str, int]:
    ends: dict[int, int] = {p: 0 for p in range(partitions)}
    for p, off in producer.acked.values():
        ends[p] = max(ends[p], off + 1)
    read = read_all(bootstrap, producer.topic, partitions, ends)
    seen: dict[int, tuple[int, int]] = {}
    problems: list[str] = []
    for p, records in read.items():
        offsets = [o for o, _ in records]
        if len(offsets) != len(set(offsets)):
            problems.append(f"partition {p}: an offset was read twice")
        for off, value in records:
            if value in seen:
                problems.append(f"value {value} duplicated at {seen[value]} and {(p, off)}")
            seen[value] = (p, off)
    lost = [v for v in producer.acked if v not in seen]
    moved = [v for v, at in producer.acked.items() if v in seen and seen[v] != at]
    aborted = [v for v, code in producer.failed.items() if v in seen and code in DEFINITE]
    if lost:
        problems.append(f"{len(lost)} acknowledged values lost, e.g. {sorted(lost)[:10]}")
    if moved:
        problems.append(f"{len(moved)} values read at another offset than acked, e.g. {moved[:5]}")
    if aborted:
        problems.append(f"{len(aborted)} values read although their send failed definitely")
    if observed is not None:
        final = dict(read[0])
        dirty = [(o, v) for o, v in observed.seen if final.get(o) != v]
        if dirty:
            problems.append(
                f"{len(dirty)} reads during the faults are not in the final log: {dirty[:5]}"
            )
    assert not problems, "; ".join(problems)
    return {
        "acked": len(producer.acked),
        "failed": len(producer.failed),
        "read": len(seen),
        "observed": len(observed.seen) if observed is not None else 0,
    }


def replica_batches(log_dir: Path, topic: str, partition: int) -> list[tuple[int, int, int]]:
    """(base offset, last offset, crc) of every batch in a stopped broker's replica."""
    plog = PartitionLog(log_dir / f"{topic}-{partition}", LogConfig())
    try:
        return [(h.base_offset, h.last_offset, h.crc) for h in plog.iter_batch_headers(0)]
    finally:
        plog.close()
