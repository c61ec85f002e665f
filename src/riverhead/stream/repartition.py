"""Fields (and global) groupings across worker processes, through repartition topics.

Under ``riverhead stream run`` every worker runs every component, and each KafkaSpout
reads only the partitions the consumer group gives its worker. A fields grouping must
still send a key to one task *cluster-wide*, so :func:`plan` rewrites each fields- or
global-grouped subscription ``B <- A/stream`` into::

    A/stream --local shuffle--> __rp-out (writes key = grouping values, value = JSON list)
        --> topic "<topology>.<B>.<A>.<stream>.repartition"
        --> __rp-in (a KafkaSpout in group "<topology>.<B>.<A>.<stream>") --fields--> B

The repartition topic is created with as many partitions as the largest input topic of
the topology's Kafka spouts (co-partitioned with its inputs; ``repartition_partitions``
in the topology config overrides). Kafka's partitioner maps a key to one partition, the
group gives that partition to one worker, and inside the worker the fields grouping picks
the task by the key's stable hash: so a key reaches one task cluster-wide until a
rebalance moves its partition. A global grouping uses a constant key (one partition).

Tuple trees end at ``__rp-out`` (its tuples are acked when the broker has the record) and
new ones start at ``__rp-in``, whose offsets commit when B's trees complete: at-least-once
holds across the hop. Tuples reaching B keep ``source``/``stream`` of the original A.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from typing import Any

from riverhead.stream.components import Bolt, Context, StreamDef
from riverhead.stream.groupings import GroupingKind, Subscription, key_bytes
from riverhead.stream.kafka import KafkaSpout, resolve_brokers
from riverhead.stream.topology import ComponentSpec, Topology
from riverhead.stream.traces import span_of
from riverhead.stream.tuples import Tuple
from riverhead.tracing import with_traceparent

log = logging.getLogger("riverhead.stream.repartition")


class RepartitionSink(Bolt):
    """Writes tuples to a repartition topic keyed by the grouping fields' values."""

    tick_interval = 0.02

    def __init__(self, topic: str, positions: list[int], brokers: str | None) -> None:
        self.topic = topic
        self.positions = positions
        self.brokers = brokers

    def prepare(self, context: Context) -> None:
        from confluent_kafka import Producer

        self._producer = Producer({
            "bootstrap.servers": resolve_brokers(self.brokers, context),
            "enable.idempotence": True,
            "linger.ms": 5,
            "partitioner": "murmur2_random",
        })

    def process(self, tup: Tuple) -> None:
        values = tup.values
        key = key_bytes([values[p] for p in self.positions]) if self.positions else b"*"
        value = json.dumps(list(values), separators=(",", ":"), default=repr).encode()

        span = span_of(tup)
        headers = None if span is None else with_traceparent(None, span)

        def delivered(err: Any, msg: Any) -> None:
            if err is None:
                self.ack(tup)
            else:
                self.fail(tup, f"repartition write failed: {err}")

        while True:
            try:
                self._producer.produce(
                    self.topic, value=value, key=key, headers=headers, on_delivery=delivered
                )
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def tick(self) -> None:
        self._producer.poll(0)

    def cleanup(self) -> None:
        self._producer.flush(30)


class RepartitionSpout(KafkaSpout):
    """Reads a repartition topic and re-emits the original values on the original stream."""

    def __init__(self, topic: str, group: str, brokers: str | None, stream: str,
                 fields: tuple[str, ...]) -> None:
        super().__init__(topic, group, brokers, value_format="json", max_retries=1_000_000,
                         commit_interval=0.5)
        self.stream = stream
        self.declare_stream(stream, fields)

    def output_streams(self) -> dict[str, StreamDef]:
        return dict(self.__dict__.get("_declared_streams", {}))

    def _emit(self, msg: Any, msg_id: tuple[str, int, int]) -> None:
        values = json.loads(msg.value())
        self.emit(tuple(values), msg_id=msg_id, stream=self.stream, trace=self._trace_for(msg))


@dataclass
class Repartition:
    """One rewritten subscription."""

    topic: str
    group: str
    subscription: Subscription


def topic_for(topology: str, sub: Subscription) -> str:
    return f"{topology}.{sub.target}.{sub.source}.{sub.stream}.repartition"


def plan(topology: Topology, brokers: str | None) -> tuple[Topology, list[Repartition]]:
    """A copy of ``topology`` with fields/global subscriptions going through topics."""
    topology.validate()
    out = Topology(topology.name, **topology.config)
    out.components = {cid: copy.copy(spec) for cid, spec in topology.components.items()}
    for spec in out.components.values():
        spec.inputs = list(spec.inputs)
    parts: list[Repartition] = []
    for spec in list(out.components.values()):
        for i, sub in enumerate(spec.inputs):
            if sub.kind not in (GroupingKind.FIELDS, GroupingKind.GLOBAL):
                continue
            topic = topic_for(topology.name, sub)
            sdef = topology.components[sub.source].streams[sub.stream]
            positions = [sdef.fields.index(f) for f in sub.fields]
            tag = f"{sub.target}.{sub.source}.{sub.stream}"
            sink_id, spout_id = f"__rp-out.{tag}", f"__rp-in.{tag}"
            sink = RepartitionSink(topic, positions, brokers)
            out.components[sink_id] = ComponentSpec(
                sink_id, sink, 1, False, {},
                [Subscription(sink_id, sub.source, sub.stream, GroupingKind.LOCAL_OR_SHUFFLE)],
            )
            group = f"{topology.name}.{tag}"
            spout = RepartitionSpout(topic, group, brokers, sub.stream, sdef.fields)
            out.components[spout_id] = ComponentSpec(
                spout_id, spout, 1, True, spout.output_streams(), alias=sub.source,
            )
            kind = GroupingKind.FIELDS if sub.fields else GroupingKind.GLOBAL
            spec.inputs[i] = Subscription(sub.target, spout_id, sub.stream, kind, sub.fields)
            parts.append(Repartition(topic, group, sub))
    return out, parts


def input_partitions(topology: Topology, brokers: str) -> int:
    """The largest partition count among the topology's Kafka spouts' topics (1 if none)."""
    from confluent_kafka.admin import AdminClient

    topics = {t for spec in topology.spouts() if isinstance(spec.component, KafkaSpout)
              for t in spec.component.topics}
    if not topics:
        return 1
    md = AdminClient({"bootstrap.servers": brokers}).list_topics(timeout=10)
    counts = [len(md.topics[t].partitions) for t in topics if t in md.topics]
    return max(counts, default=1)


def create_topics(topology: Topology, parts: list[Repartition], brokers: str) -> int:
    """Create the repartition topics (existing ones are kept); returns the partition count."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    if not parts:
        return 0
    n = int(topology.config.get("repartition_partitions") or input_partitions(topology, brokers))
    admin = AdminClient({"bootstrap.servers": brokers})
    futures = admin.create_topics([NewTopic(p.topic, n, -1) for p in parts], request_timeout=15)
    for topic, fut in futures.items():
        try:
            fut.result(15)
            log.info("created repartition topic %s (%d partitions)", topic, n)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
    return n
