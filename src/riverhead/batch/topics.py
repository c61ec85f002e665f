"""Topics as inputs and outputs, through confluent-kafka (any Kafka-protocol broker).

Input URL: ``topic://NAME?from=FROM&to=TO&brokers=HOST:PORT&format=jsonl&split=N``.

* ``from`` (default ``earliest``) and ``to`` (default ``latest``): ``earliest``,
  ``latest``, an integer offset, an ISO-8601 timestamp (``2024-03-01T09:00:00Z``) or
  ``@<epoch milliseconds>``. A timestamp means the first offset whose record timestamp
  is at or after it. The range is ``[from, to)`` per partition.
* The ranges are resolved **once, when the job starts** (:func:`resolve_topic`), and each
  split reads exactly its fixed offset range, so re-running a job over the same log gives
  the same input, and records produced while the job runs are not read.
* ``split`` (default 500000): a partition's range is cut into splits of at most this many
  offsets, so one big partition still feeds several map tasks.
* Record values are decoded like lines of a file of the same ``format`` (default:
  the job's input format, ``text`` when that is ``auto``): a topic and a file export of
  its values (one value per line) give the job the same records. Keys, headers and
  null values (tombstones) are not passed to the mapper.

Output URL ``topic://NAME?brokers=...``: each output line becomes one record value, keyed
by the text before the first tab (the key column of :class:`TextProtocol` output), produced
by the runner after every reduce task succeeded (a retried task cannot duplicate records;
a crash of the runner itself while producing can).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from riverhead.batch.errors import InputError, OutputError
from riverhead.batch.inputs import Batch, ReadOptions, Split, decode_json_values

SCHEME = "topic://"
DEFAULT_SPLIT_RECORDS = 500_000
CONSUME_BATCH = 10_000


@dataclass(frozen=True)
class TopicURL:
    """A parsed ``topic://`` URL."""

    topic: str
    start: str = "earliest"
    end: str = "latest"
    brokers: str | None = None
    format: str | None = None
    split: int = DEFAULT_SPLIT_RECORDS


def is_topic_url(text: str) -> bool:
    return text.startswith(SCHEME)


def parse_topic_url(url: str) -> TopicURL:
    """Parse ``topic://NAME?...``; raises :class:`InputError` on a malformed URL."""
    parts = urlsplit(url)
    name = parts.netloc + parts.path
    if parts.scheme != "topic" or not name:
        raise InputError(f"bad topic URL {url!r}", "write topic://NAME?from=earliest&to=latest")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"from", "to", "brokers", "format", "split"}
    if unknown:
        raise InputError(f"unknown topic URL option(s) {sorted(unknown)} in {url!r}")
    try:
        split = int(query.get("split", DEFAULT_SPLIT_RECORDS))
    except ValueError:
        raise InputError(f"split must be an integer in {url!r}") from None
    return TopicURL(
        name,
        query.get("from", "earliest"),
        query.get("to", "latest"),
        query.get("brokers"),
        query.get("format"),
        max(1, split),
    )


def _timestamp_ms(text: str) -> int | None:
    """Epoch ms for ``@123`` or an ISO-8601 timestamp; ``None`` if ``text`` is neither."""
    if text.startswith("@"):
        return int(text[1:])
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        raise InputError(f"timestamp {text!r} has no time zone", "append Z or +00:00")
    return int(moment.timestamp() * 1000)


def _consumer(brokers: str, timeout: float) -> Any:
    from confluent_kafka import Consumer

    return Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": f"riverhead-batch-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "socket.timeout.ms": int(timeout * 1000),
            "log_level": 0,
        }
    )


def _resolve_bound(
    consumer: Any, topic: str, partition: int, spec: str, low: int, high: int, timeout: float
) -> int:
    from confluent_kafka import TopicPartition

    if spec == "earliest":
        return low
    if spec == "latest":
        return high
    if spec.lstrip("-").isdigit():
        return max(low, min(high, int(spec)))
    ms = _timestamp_ms(spec)
    if ms is None:
        raise InputError(
            f"bad offset {spec!r} for topic {topic!r}",
            "use earliest, latest, an offset, an ISO timestamp or @epoch-ms",
        )
    found = consumer.offsets_for_times([TopicPartition(topic, partition, ms)], timeout=timeout)
    offset = int(found[0].offset)
    return high if offset < 0 else max(low, min(high, offset))


def resolve_topic(url: str, brokers: str, input_format: str, timeout: float) -> list[Split]:
    """The splits of a topic input, with offset ranges fixed now (see the module docs).

    Raises :class:`InputError` if the broker cannot be reached or the topic is unknown.
    """
    from confluent_kafka import KafkaException, TopicPartition

    spec = parse_topic_url(url)
    servers = spec.brokers or brokers
    fmt = spec.format or ("text" if input_format == "auto" else input_format)
    consumer = _consumer(servers, timeout)
    try:
        try:
            meta = consumer.list_topics(spec.topic, timeout=timeout)
        except KafkaException as exc:
            raise InputError(
                f"cannot read topic {spec.topic!r} from {servers}: {exc}",
                "is the broker running? set --brokers or ?brokers=",
            ) from None
        info = meta.topics.get(spec.topic)
        if info is None or info.error is not None or not info.partitions:
            raise InputError(
                f"topic {spec.topic!r} does not exist on {servers}",
                "list topics with `riverhead topic list`",
            )
        splits: list[Split] = []
        for partition in sorted(info.partitions):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(spec.topic, partition), timeout=timeout
            )
            start = _resolve_bound(consumer, spec.topic, partition, spec.start, low, high, timeout)
            end = _resolve_bound(consumer, spec.topic, partition, spec.end, low, high, timeout)
            for first in range(start, end, spec.split):
                last = min(end, first + spec.split)
                splits.append(TopicSplit(spec.topic, partition, first, last, servers, fmt, timeout))
        return splits
    finally:
        consumer.close()


@dataclass(frozen=True)
class TopicSplit(Split):
    """Offsets ``[start, end)`` of one partition (fixed at job start)."""

    topic: str
    partition: int
    start: int
    end: int
    brokers: str
    format: str
    timeout: float = 30.0

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.end - self.start

    def describe(self) -> str:
        return f"topic://{self.topic}/{self.partition}[{self.start},{self.end})"

    def batches(self, opts: ReadOptions) -> Iterator[Batch]:
        for values in self._values():
            lines = [v.decode("utf-8", "replace") for v in values]
            if self.format == "jsonl":
                yield False, decode_json_values(lines)
            elif opts.protocol.raw_value:
                yield False, lines
            else:
                yield True, [opts.protocol.read(line) for line in lines]

    def _values(self) -> Iterator[list[bytes]]:
        """Record values in offset order, in batches, until ``end`` (tombstones dropped)."""
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        if self.start >= self.end:
            return
        consumer = _consumer(self.brokers, self.timeout)
        try:
            consumer.assign([TopicPartition(self.topic, self.partition, self.start)])
            last = self.end - 1
            position = self.start
            idle = 0.0
            while position <= last:
                messages = consumer.consume(CONSUME_BATCH, timeout=1.0)
                if not messages:
                    idle += 1.0
                    if idle >= self.timeout:
                        raise InputError(f"no records from {self.describe()} for {idle:.0f}s")
                    continue
                idle = 0.0
                values: list[bytes] = []
                for msg in messages:
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            # Compaction or transaction markers can leave a gap at the end.
                            position = max(position, int(msg.offset()))
                            if position > last:
                                break
                            continue
                        raise KafkaException(err)
                    offset = int(msg.offset())
                    if offset > last:
                        position = offset
                        break
                    position = offset + 1
                    value = msg.value()
                    if value is not None:
                        values.append(value)
                if values:
                    yield values
        finally:
            consumer.close()


def produce_lines(url: str, brokers: str, lines: Iterator[str], timeout: float) -> int:
    """Produce ``lines`` to the topic of ``url`` (key: text before the first tab).

    Returns the record count; raises :class:`OutputError` if any delivery failed.
    """
    from confluent_kafka import Producer

    spec = parse_topic_url(url)
    producer = Producer(
        {
            "bootstrap.servers": spec.brokers or brokers,
            "linger.ms": 20,
            "enable.idempotence": False,
            "log_level": 0,
        }
    )
    failures: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    count = 0
    for line in lines:
        key, tab, _ = line.partition("\t")
        while True:
            try:
                producer.produce(
                    spec.topic,
                    value=line.encode(),
                    key=key.encode() if tab else None,
                    on_delivery=on_delivery,
                )
                break
            except BufferError:
                producer.poll(0.1)
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
    left = producer.flush(timeout)
    if left or failures:
        raise OutputError(
            f"could not produce {left + len(failures)} record(s) to {spec.topic!r}: "
            f"{failures[0] if failures else 'timed out'}",
            "check the broker and that the topic exists (or auto-creation is on)",
        )
    return count
