"""Kafka spout and sink (confluent-kafka), at-least-once end to end.

:class:`KafkaSpout` reads topics as a member of a consumer group. Each record becomes one
tracked tuple (``msg_id = (topic, partition, offset)``) with fields
``key, value, headers, topic, partition, offset, timestamp``. Offsets are committed only
up to the lowest offset whose tree has not completed (:mod:`riverhead.stream.offsets`), so
a crash replays and never loses. A failed tree is replayed from memory up to
``max_retries`` times, then the record is written, unchanged, to the dead-letter topic
with the failure in its headers (``riverhead.error.*``, plus the original topic, partition
and offset), and counted as done.

:class:`KafkaBolt` writes each input tuple as one record with an idempotent producer
(``enable.idempotence=true``, so librdkafka's retries do not duplicate) and acks the
tuple only when the broker has acknowledged the record (fails it on a delivery error), so
a spout upstream commits its offset only after the output is durable.

Brokers: the ``brokers`` argument, else the run's ``context.config["brokers"]`` (set by
``riverhead stream run -X``), else ``$RIVERHEAD_BROKERS``, else ``127.0.0.1:9092``.

Both run entirely on their task's thread: librdkafka's callbacks (rebalance, delivery) are
served from ``consume``/``poll`` calls made by ``next_tuple``, ``process`` and ``tick``.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from riverhead.stream.components import Bolt, Context, Failure, Spout
from riverhead.stream.formats import Format, check_format, decode, encode
from riverhead.stream.offsets import OffsetTracker
from riverhead.stream.traces import span_of
from riverhead.stream.tuples import Tuple
from riverhead.tracing import TraceContext, continue_from, with_traceparent

log = logging.getLogger("riverhead.stream.kafka")

DEFAULT_BROKERS = "127.0.0.1:9092"
SPOUT_FIELDS = ("key", "value", "headers", "topic", "partition", "offset", "timestamp")
Headers = list[tuple[str, str | bytes | None]]

AssignmentListener = Callable[[str, list[tuple[str, int]], bool], None]
ASSIGNMENT_LISTENERS: list[AssignmentListener] = []
"""Called as ``listener(group, [(topic, partition)], assigned)`` on every assignment
(``True``) and revocation or loss (``False``) of a KafkaSpout's partitions, on the
spout's thread: stateful bolts of the same worker restore and drop partition state with
it (:mod:`riverhead.stream.operators`)."""


class BatchId(NamedTuple):
    """The ``msg_id`` of a micro-batch tuple: its partition and offsets."""

    topic: str
    partition: int
    offsets: tuple[int, ...]


_OPEN: list[KafkaSpout] = []
"""The KafkaSpouts open in this process (their task's thread is the runner's)."""


def lowest_pending(topic: str, partition: int) -> int | None:
    """The lowest offset of ``topic``/``partition`` read by a KafkaSpout of this process
    whose tuple tree has not completed (one past the last completed offset when none is
    pending; None when no spout has processed the partition). Records below it are done:
    acked, or dead-lettered after their retries. Same thread as the spouts."""
    lows = [low for spout in _OPEN
            if (low := spout._tracker.committable((topic, partition))) is not None]
    return min(lows, default=None)


def _notify(group: str, partitions: list[Any], assigned: bool) -> None:
    if ASSIGNMENT_LISTENERS:
        parts = [(tp.topic, tp.partition) for tp in partitions]
        for listener in list(ASSIGNMENT_LISTENERS):
            listener(group, parts, assigned)


def resolve_brokers(brokers: str | None, context: Context) -> str:
    return (
        brokers
        or context.config.get("brokers")
        or os.environ.get("RIVERHEAD_BROKERS")
        or DEFAULT_BROKERS
    )


def _headers(raw: Any) -> Headers:
    if not raw:
        return []
    if isinstance(raw, Mapping):
        raw = list(raw.items())
    out: Headers = []
    for k, v in raw:
        out.append((str(k), v if v is None or isinstance(v, bytes) else str(v).encode()))
    return out


class KafkaSpout(Spout):
    """Read ``topic`` (a name or a list) in consumer group ``group``.

    ``value_format``/``key_format``: ``json``, ``string`` or ``bytes`` (a value that fails
    to decode is dead-lettered at once). ``max_retries``: replays of a failed record before
    it is dead-lettered to ``dead_letter_topic`` (default ``<first topic>.dead-letter``).
    ``start``: ``earliest`` or ``latest`` when the group has no committed offset.
    ``commit_interval``: seconds between asynchronous commits (a final synchronous commit
    happens on close and on partition revocation). ``consumer_config`` adds or overrides
    librdkafka settings.

    ``batch`` > 1 emits *micro-batches*: one tuple per run of up to ``batch`` consecutive
    records of one partition, with lists in ``key``, ``value``, ``headers``, ``offset``
    and ``timestamp`` (:mod:`riverhead.stream.microbatch`). Its tree completes all its
    offsets at once; a failed batch is replayed record by record, so retries and the
    dead-letter topic stay per record. Its trace continues the first record's
    ``traceparent``.
    """

    outputs = SPOUT_FIELDS
    emits_traces = True

    def __init__(
        self,
        topic: str | Sequence[str],
        group: str,
        brokers: str | None = None,
        value_format: str = "json",
        *,
        key_format: str = "string",
        max_retries: int = 3,
        dead_letter_topic: str | None = None,
        start: str = "earliest",
        commit_interval: float = 1.0,
        poll_batch: int = 500,
        consumer_config: Mapping[str, Any] | None = None,
        batch: int = 1,
    ) -> None:
        self.topics = [topic] if isinstance(topic, str) else list(topic)
        if not self.topics:
            raise ValueError("KafkaSpout needs at least one topic")
        self.group = group
        self.brokers = brokers
        self.value_format: Format = check_format(value_format)
        self.key_format: Format = check_format(key_format)
        self.max_retries = max_retries
        self.dead_letter_topic = dead_letter_topic or f"{self.topics[0]}.dead-letter"
        self.start = start
        self.commit_interval = commit_interval
        self.tick_interval = commit_interval
        self.poll_batch = poll_batch
        self.consumer_config = dict(consumer_config or {})
        self.batch = max(1, int(batch))

    # ---- lifecycle --------------------------------------------------------------------

    def open(self, context: Context) -> None:
        from confluent_kafka import Consumer

        self._brokers = resolve_brokers(self.brokers, context)
        self._tracing = bool(context.config.get("tracing", True))
        conf: dict[str, Any] = {
            "bootstrap.servers": self._brokers,
            "group.id": self.group,
            "enable.auto.commit": False,
            "auto.offset.reset": self.start,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "enable.partition.eof": False,
            "client.id": f"riverhead-stream-{context.component_id}-{context.task_index}",
        }
        conf.update(self.consumer_config)
        self._consumer = Consumer(conf)
        self._producer: Any = None
        self._tracker = OffsetTracker()
        self._buffer: deque[Any] = deque()
        self._replay: deque[tuple[str, int, int]] = deque()
        self._inflight: dict[tuple[str, int, int], Any] = {}  # msg_id -> raw message
        self._attempts: dict[tuple[str, int, int], int] = {}
        self._committed: dict[tuple[str, int], int] = {}
        self.dead_lettered = 0
        self._consumer.subscribe(
            self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        _OPEN.append(self)

    def close(self) -> None:
        if self in _OPEN:
            _OPEN.remove(self)
        try:
            self._commit(sync=True)
        finally:
            self._consumer.close()
            if self._producer is not None:
                self._producer.flush(10)

    # ---- rebalance callbacks (served inside consume, on this thread) -------------------

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            self._tracker.assign((tp.topic, tp.partition))
        log.info("%s assigned %s", self.group, [(p.topic, p.partition) for p in partitions])
        _notify(self.group, partitions, True)

    def _forget(self, partitions: list[Any]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        for key in gone:
            self._tracker.revoke(key)
            self._committed.pop(key, None)
        self._buffer = deque(m for m in self._buffer if (m.topic(), m.partition()) not in gone)
        self._replay = deque(r for r in self._replay if r[:2] not in gone)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        self._commit(sync=True, only={(tp.topic, tp.partition) for tp in partitions})
        self._forget(partitions)
        _notify(self.group, partitions, False)

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        self._forget(partitions)
        _notify(self.group, partitions, False)

    # ---- the spout API ----------------------------------------------------------------

    def next_tuple(self) -> None:
        if self._replay:
            msg_id = self._replay.popleft()
            msg = self._inflight.get(msg_id)
            if msg is not None:
                self._emit(msg, msg_id)
            return
        if not self._buffer:
            msgs = self._consumer.consume(num_messages=self.poll_batch, timeout=0)
            for m in msgs:
                err = m.error()
                if err is None:
                    self._buffer.append(m)
                elif not err.retriable() and err.fatal():
                    raise RuntimeError(f"consumer failed: {err}")
                else:
                    log.warning("consumer error: %s", err)
            if not self._buffer:
                return
        if self.batch > 1:
            self._emit_batch()
            return
        msg = self._buffer.popleft()
        msg_id = (msg.topic(), msg.partition(), msg.offset())
        self._tracker.emitted(msg_id[:2], msg_id[2])
        self._inflight[msg_id] = msg
        self._emit(msg, msg_id)

    def _emit(self, msg: Any, msg_id: tuple[str, int, int]) -> None:
        try:
            key = decode(self.key_format, msg.key())
            value = decode(self.value_format, msg.value())
        except (ValueError, UnicodeDecodeError) as exc:
            self._dead_letter(msg_id, Failure("error", "decode", f"{type(exc).__name__}: {exc}"))
            return
        ts_type, ts = msg.timestamp()
        self.emit(
            (key, value, msg.headers() or [], msg_id[0], msg_id[1], msg_id[2],
             ts if ts_type else None),
            msg_id=msg_id, trace=self._trace_for(msg),
        )

    def _emit_batch(self) -> None:
        """Emit the buffer's next run of records of one partition as one tuple."""
        buffer, tracker, inflight = self._buffer, self._tracker, self._inflight
        first = buffer[0]
        topic, partition = first.topic(), first.partition()
        keys: list[Any] = []
        values: list[Any] = []
        headers: list[Any] = []
        offsets: list[int] = []
        stamps: list[Any] = []
        kf, vf = self.key_format, self.value_format
        while buffer and len(offsets) < self.batch:
            msg = buffer[0]
            if msg.partition() != partition or msg.topic() != topic:
                break
            buffer.popleft()
            off = msg.offset()
            msg_id = (topic, partition, off)
            tracker.emitted(msg_id[:2], off)
            inflight[msg_id] = msg
            try:
                key, value = decode(kf, msg.key()), decode(vf, msg.value())
            except (ValueError, UnicodeDecodeError) as exc:
                self._dead_letter(msg_id, Failure("error", "decode",
                                                  f"{type(exc).__name__}: {exc}"))
                continue
            keys.append(key)
            values.append(value)
            headers.append(msg.headers() or [])
            offsets.append(off)
            ts_type, ts = msg.timestamp()
            stamps.append(ts if ts_type else None)
        if offsets:
            self.emit((keys, values, headers, topic, partition, offsets, stamps),
                      msg_id=BatchId(topic, partition, tuple(offsets)),
                      trace=self._trace_for(first))

    def _trace_for(self, msg: Any) -> TraceContext | None:
        """This task's span for ``msg``: a child of its ``traceparent``, else a new trace
        (None with ``tracing=False``)."""
        return continue_from(msg.headers()) if self._tracing else None

    def ack(self, msg_id: Any) -> None:
        if type(msg_id) is BatchId:
            for off in msg_id.offsets:
                self.ack((msg_id.topic, msg_id.partition, off))
            return
        self._inflight.pop(msg_id, None)
        self._attempts.pop(msg_id, None)
        self._tracker.done(msg_id[:2], msg_id[2])

    def on_fail(self, msg_id: Any, failure: Failure) -> None:
        if type(msg_id) is BatchId:  # replayed record by record: retries stay per record
            for off in msg_id.offsets:
                self.on_fail((msg_id.topic, msg_id.partition, off), failure)
            return
        if not self._tracker.tracks(msg_id[:2]):
            self._inflight.pop(msg_id, None)  # revoked: the new owner replays it
            return
        n = self._attempts.get(msg_id, 0) + 1
        self._attempts[msg_id] = n
        if n <= self.max_retries:
            self._replay.append(msg_id)
        else:
            self._dead_letter(msg_id, failure)

    def tick(self) -> None:
        self._commit(sync=False)
        if self._producer is not None:
            self._producer.poll(0)

    # ---- commits and dead letters ---------------------------------------------------------

    def _commit(self, sync: bool, only: set[tuple[str, int]] | None = None) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        offsets = []
        for key in self._tracker.partitions():
            if only is not None and key not in only:
                continue
            pos = self._tracker.committable(key)
            tp_key: tuple[str, int] = key  # type: ignore[assignment]
            if pos is not None and self._committed.get(tp_key) != pos:
                offsets.append(TopicPartition(tp_key[0], tp_key[1], pos))
        if not offsets:
            return
        try:
            if sync:
                self._consumer.commit(offsets=offsets, asynchronous=False)
            else:
                self._consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            log.warning("commit failed (will retry): %s", exc)
            return
        for tp in offsets:
            self._committed[(str(tp.topic), int(tp.partition))] = int(tp.offset)

    def extra_metrics(self) -> dict[str, float]:
        return {
            "dead_lettered": getattr(self, "dead_lettered", 0),
            "replay_queue": len(getattr(self, "_replay", ())),
        }

    def committed_positions(self) -> dict[tuple[str, int], int]:
        """What this task last committed, per (topic, partition)."""
        return dict(self._committed)

    def _dead_letter(self, msg_id: tuple[str, int, int], failure: Failure) -> None:
        from confluent_kafka import Producer

        msg = self._inflight.get(msg_id)
        if msg is None:
            return
        if self._producer is None:
            self._producer = Producer({
                "bootstrap.servers": self._brokers, "enable.idempotence": True,
            })
        headers = [
            *(msg.headers() or []),
            ("riverhead.error.reason", failure.reason.encode()),
            ("riverhead.error.component", (failure.component or "").encode()),
            ("riverhead.error.message", (failure.error or failure.reason).encode()),
            ("riverhead.error.attempts", str(self._attempts.get(msg_id, 0)).encode()),
            ("riverhead.source.topic", msg_id[0].encode()),
            ("riverhead.source.partition", str(msg_id[1]).encode()),
            ("riverhead.source.offset", str(msg_id[2]).encode()),
        ]
        self._producer.produce(
            self.dead_letter_topic, value=msg.value(), key=msg.key(), headers=headers
        )
        if self._producer.flush(10) > 0:
            log.error("dead-letter write of %s timed out; it will be replayed", msg_id)
            return
        self.dead_lettered += 1
        log.warning("dead-lettered %s to %s: %s", msg_id, self.dead_letter_topic, failure)
        self.ack(msg_id)


class KafkaBolt(Bolt):
    """Write each input tuple to ``topic`` and ack it once the broker has it.

    The record key is field ``key_field`` (None: no key) in ``key_format``. The value is
    field ``value_field`` in ``value_format``; without ``value_field``, the whole tuple as a
    JSON object ``{field: value}`` (``value_format="json"`` only). A ``headers`` field
    (``[(name, bytes)]`` or a mapping), if the input stream has one, becomes the record's
    headers, so headers read by a KafkaSpout pass through; a traced tuple's record gets
    this task's span as its ``traceparent`` (replacing any passed through).
    ``producer_config`` adds or overrides librdkafka settings (idempotence is on by
    default).
    """

    tick_interval = 0.02

    def __init__(
        self,
        topic: str,
        key_field: str | None = None,
        value_field: str | None = None,
        value_format: str = "json",
        *,
        key_format: str = "string",
        brokers: str | None = None,
        headers_field: str = "headers",
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self.key_field = key_field
        self.value_field = value_field
        self.value_format: Format = check_format(value_format)
        self.key_format: Format = check_format(key_format)
        if value_field is None and self.value_format != "json":
            raise ValueError("KafkaBolt: value_field is needed unless value_format='json'")
        self.brokers = brokers
        self.headers_field = headers_field
        self.producer_config = dict(producer_config or {})

    def prepare(self, context: Context) -> None:
        from confluent_kafka import Producer

        conf: dict[str, Any] = {
            "bootstrap.servers": resolve_brokers(self.brokers, context),
            "enable.idempotence": True,
            "linger.ms": 5,
            "partitioner": "murmur2_random",  # the Java client's: co-partitioned with it
        }
        conf.update(self.producer_config)
        self._producer = Producer(conf)
        self.written = 0

    def _value(self, tup: Tuple) -> bytes | None:
        if self.value_field is not None:
            return encode(self.value_format, tup[self.value_field])
        body = {k: v for k, v in zip(tup.fields, tup.values, strict=True)
                if k != self.headers_field}
        return encode("json", body)

    def process(self, tup: Tuple) -> None:
        key = None if self.key_field is None else encode(self.key_format, tup[self.key_field])
        headers = _headers(tup.get(self.headers_field))
        span = span_of(tup)
        if span is not None:
            headers = with_traceparent(headers, span)

        def delivered(err: Any, msg: Any) -> None:
            if err is None:
                self.written += 1
                self.ack(tup)
            else:
                self.fail(tup, f"delivery to {self.topic} failed: {err}")

        self.send(self._value(tup), key, headers or None, delivered)
        self._producer.poll(0)

    def send(self, value: bytes | None, key: bytes | None, headers: Headers | None,
             delivered: Callable[[Any, Any], None]) -> None:
        """Produce one record to ``topic``, waiting while librdkafka's queue is full."""
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key, headers=headers,
                                       on_delivery=delivered)
                return
            except BufferError:  # librdkafka's queue is full: serve callbacks, retry
                self._producer.poll(0.05)

    def tick(self) -> None:
        self._producer.poll(0)

    def extra_metrics(self) -> dict[str, float]:
        return {"written": getattr(self, "written", 0)}

    def cleanup(self) -> None:
        deadline = time.monotonic() + 30
        while len(self._producer) and time.monotonic() < deadline:
            self._producer.flush(1)
