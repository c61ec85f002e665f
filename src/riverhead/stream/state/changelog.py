"""Changelog topics: every store write also goes to a compacted Kafka topic.

Topic ``<topology>.<component>.changelog`` (``cleanup.policy=compact``, created on first
use) has as many partitions as the repartition topic feeding the component, and a state
entry of key ``k`` lives in the partition its input key came from (:func:`partition_for`,
the Java client's murmur2 partitioner, which the repartition producers use). Record key:
:func:`~riverhead.stream.state.stores.encode_key` of the store key; value: the JSON value,
or no value (a tombstone) for a delete. Compaction keeps the last record per key, so a
restore reads at most one record per live entry plus recent history.

:class:`ChangelogWriter` produces with an idempotent producer and calls ``done`` once the
broker acknowledged every record of one batch (the caller acks its input tuple then, so
an input offset is committed only after the state change it caused is durable: nothing
is lost by a crash). :func:`restore` reads one partition from the beginning to its end
offset into a store.

Runs on the owning task's thread (librdkafka callbacks are served by ``poll``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from riverhead.stream.state.stores import Store, decode_key, encode_key, encode_value

log = logging.getLogger("riverhead.stream.state")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``), signed 32-bit."""
    m = 0x5BD1E995
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    n4 = length // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = length % 4
    tail = data[4 * n4:]
    if rest == 3:
        h ^= tail[2] << 16
    if rest >= 2:
        h ^= tail[1] << 8
    if rest >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition the Java client (and librdkafka's ``murmur2_random``) picks."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def changelog_topic(topology: str, component: str) -> str:
    return f"{topology}.{component}.changelog"


def ensure_topic(brokers: str, topic: str, partitions: int) -> None:
    """Create ``topic`` compacted with ``partitions`` partitions unless it exists."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": brokers})
    fut = admin.create_topics(
        [NewTopic(topic, partitions, -1, config={"cleanup.policy": "compact"})],
        request_timeout=15,
    )[topic]
    try:
        fut.result(15)
        log.info("created changelog topic %s (%d partitions)", topic, partitions)
    except KafkaException as exc:
        if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
            raise


def topic_partitions(brokers: str, topic: str) -> int:
    """How many partitions ``topic`` has (0 if it does not exist)."""
    from confluent_kafka.admin import AdminClient

    md = AdminClient({"bootstrap.servers": brokers}).list_topics(topic, timeout=10)
    meta = md.topics.get(topic)
    if meta is None or meta.error is not None:
        return 0
    return len(meta.partitions)


class ChangelogWriter:
    """Writes store changes of one task to ``topic``."""

    def __init__(self, brokers: str, topic: str) -> None:
        from confluent_kafka import Producer

        self.topic = topic
        self._producer = Producer({
            "bootstrap.servers": brokers, "enable.idempotence": True, "linger.ms": 5,
        })
        self.written = 0
        self.failed = 0

    def write(self, partition: int, changes: list[tuple[Any, Any]],
              done: Callable[[str | None], None]) -> None:
        """Produce ``(key, value or None)`` records to ``partition``; ``done(None)`` after
        the broker acknowledged all of them, ``done(error)`` on the first failure."""
        if not changes:
            done(None)
            return
        left = [len(changes)]
        failed: list[str] = []

        def delivered(err: Any, msg: Any) -> None:
            if err is not None and not failed:
                failed.append(str(err))
                self.failed += 1
                done(f"changelog write to {self.topic}[{partition}] failed: {err}")
            left[0] -= 1
            if left[0] == 0 and not failed:
                self.written += len(changes)
                done(None)

        for key, value in changes:
            raw = None if value is None else encode_value(value).encode()
            while True:
                try:
                    self._producer.produce(self.topic, key=encode_key(key).encode(),
                                           value=raw, partition=partition,
                                           on_delivery=delivered)
                    break
                except BufferError:
                    self._producer.poll(0.05)
        self._producer.poll(0)

    def poll(self) -> None:
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for outstanding records; returns how many are still not delivered."""
        return int(self._producer.flush(timeout))


def apply(store: Store, msg: Any) -> None:
    """Apply one changelog record (a put, or a delete for a tombstone) to ``store``."""
    key = decode_key(msg.key() or b"")
    value = msg.value()
    if value is None:
        store.delete(key)
    else:
        store.put(key, json.loads(value))


def restore(brokers: str, topic: str, partition: int, store: Store,
            timeout: float = 60.0, start: int | None = None) -> int:
    """Replay changelog ``partition`` from its start (or offset ``start``) into ``store``;
    returns records read.

    Reads up to the end offset seen when it starts (records written later belong to the
    caller itself, who owns the partition now). Raises ``TimeoutError`` if the end is not
    reached within ``timeout`` seconds.
    """
    import time

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": brokers, "group.id": f"{topic}.restore",
        "enable.auto.commit": False, "enable.partition.eof": False,
    })
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                   timeout=10)
        first = low if start is None else max(low, start)
        if high <= first:
            return 0
        consumer.assign([TopicPartition(topic, partition,
                                        OFFSET_BEGINNING if start is None else first)])
        read = 0
        position = first
        deadline = time.monotonic() + timeout
        while position < high:
            if time.monotonic() > deadline:
                raise TimeoutError(f"restoring {topic}[{partition}]: at offset {position} "
                                   f"of {high} after {timeout} s")
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                if msg.error() is not None:
                    continue
                offset = int(msg.offset() or 0)
                position = offset + 1
                if offset >= high or msg.key() is None:
                    continue
                apply(store, msg)
                read += 1
        store.flush()
        return read
    finally:
        consumer.close()
