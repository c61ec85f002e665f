"""What the console shows, read from any Kafka-compatible cluster as an ordinary client.

:class:`ClusterView` uses confluent-kafka's ``AdminClient`` (metadata, offsets, configs,
groups, topic create/delete, group offset commits) and short-lived ``Consumer`` s (the
message browser), plus DescribeLogDirs for partition sizes (through
:class:`riverhead.cluster.channel.Channel`; brokers that do not answer it get no size).
Nothing here imports broker internals, so it works against Apache Kafka too.

Every method returns plain dataclasses/dicts ready for a template or JSON. Errors are
:class:`riverhead.cli.errors.CliError` (one line with a hint), as in the CLI.
Thread-safety: the ``AdminClient`` is thread-safe; each browse makes its own consumer.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from riverhead.cli.client import (
    Settings,
    TopicInfo,
    admin_client,
    base_config,
    fetch_committed,
    fetch_group,
    fetch_topic,
    fetch_topics,
    group_state_name,
    list_offsets,
)
from riverhead.cli.errors import CliError, from_kafka_error
from riverhead.tracing import TRACEPARENT, TraceContext

#: How many records one browse or trace scan reads at most (keeps a page fast).
MAX_SCAN = 20_000


@dataclass
class PartitionRow:
    topic: str
    partition: int
    leader: int
    replicas: list[int]
    isr: list[int]
    start: int | None = None
    end: int | None = None
    size: int | None = None

    @property
    def under_replicated(self) -> bool:
        return self.leader >= 0 and len(self.isr) < len(self.replicas)

    @property
    def offline(self) -> bool:
        return self.leader < 0

    @property
    def messages(self) -> int | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start


@dataclass
class TopicRow:
    name: str
    partitions: list[PartitionRow]
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return sum(p.messages or 0 for p in self.partitions)

    @property
    def size(self) -> int | None:
        sizes = [p.size for p in self.partitions if p.size is not None]
        return sum(sizes) if sizes else None

    @property
    def under_replicated(self) -> int:
        return sum(1 for p in self.partitions if p.under_replicated)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: str | None
    value: str | None
    pretty: str | None  # the value as indented JSON, when it parses
    headers: list[tuple[str, str]]
    trace: TraceContext | None


@dataclass
class LagRow:
    topic: str
    partition: int
    committed: int | None
    end: int | None
    member: str | None

    @property
    def lag(self) -> int | None:
        if self.end is None:
            return None
        return max(self.end - (self.committed or 0), 0) if self.committed is not None else None


@dataclass
class GroupRow:
    group: str
    state: str
    members: list[Any]
    lags: list[LagRow]

    @property
    def total_lag(self) -> int:
        return sum(r.lag or 0 for r in self.lags)


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", errors="replace")


def _pretty(value: str | None) -> str | None:
    if value is None or not value.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.dumps(json.loads(value), indent=2, sort_keys=True)
    except ValueError:
        return None


def record_from_message(msg: Any) -> Record:
    headers = [(str(k), _text(v) or "") for k, v in (msg.headers() or [])]
    trace = next((TraceContext.parse(v) for k, v in headers if k == TRACEPARENT), None)
    value = _text(msg.value())
    return Record(
        topic=str(msg.topic()),
        partition=int(msg.partition()),
        offset=int(msg.offset()),
        timestamp=int(msg.timestamp()[1]),
        key=_text(msg.key()),
        value=value,
        pretty=_pretty(value),
        headers=headers,
        trace=trace,
    )


@dataclass
class Filters:
    """Substrings a record must contain (empty: no filter)."""

    key: str = ""
    value: str = ""
    header: str = ""

    def match(self, r: Record) -> bool:
        if self.key and self.key not in (r.key or ""):
            return False
        if self.value and self.value not in (r.value or ""):
            return False
        return not self.header or any(self.header in f"{k}={v}" for k, v in r.headers)


class ClusterView:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.admin = admin_client(settings)

    # ---- cluster and topics -------------------------------------------------------------
    def metadata(self) -> Any:
        from confluent_kafka import KafkaException

        try:
            return self.admin.list_topics(timeout=self.settings.timeout)
        except KafkaException as exc:
            raise from_kafka_error(exc, self.settings.brokers) from None

    def brokers(self) -> tuple[list[dict[str, Any]], int]:
        md = self.metadata()
        rows = [
            {"id": int(b.id), "host": str(b.host), "port": int(b.port)}
            for b in sorted(md.brokers.values(), key=lambda b: b.id)
        ]
        return rows, int(md.controller_id)

    def topics(self, *, internal: bool = False, sizes: bool = True) -> list[TopicRow]:
        infos = [t for t in fetch_topics(self.admin, self.settings) if internal or not t.internal]
        return self._rows(infos, sizes)

    def topic(self, name: str) -> TopicRow:
        info = fetch_topic(self.admin, self.settings, name)
        row = self._rows([info], True)[0]
        row.configs = self.topic_configs(name)
        return row

    def _rows(self, infos: list[TopicInfo], with_sizes: bool) -> list[TopicRow]:
        keys = [(t.name, p.id) for t in infos for p in t.partitions]
        errors: list[CliError] = []
        specs = _offset_spec()
        starts = list_offsets(self.admin, self.settings, keys, specs.earliest(), errors)
        ends = list_offsets(self.admin, self.settings, keys, specs.latest(), errors)
        sizes = self.partition_sizes() if with_sizes and keys else {}
        rows = []
        for t in infos:
            parts = [
                PartitionRow(
                    t.name,
                    p.id,
                    p.leader,
                    list(p.replicas),
                    list(p.isr),
                    starts.get((t.name, p.id)),
                    ends.get((t.name, p.id)),
                    sizes.get((t.name, p.id, p.leader)),
                )
                for p in t.partitions
            ]
            rows.append(TopicRow(t.name, parts, t.replication_factor))
        return rows

    def partition_sizes(self) -> dict[tuple[str, int, int], int]:
        """(topic, partition, broker) -> bytes of that replica (DescribeLogDirs)."""
        from kio.schema.describe_log_dirs.v4.request import DescribeLogDirsRequest

        from riverhead.cluster.channel import Channel

        out: dict[tuple[str, int, int], int] = {}
        for b in self.brokers()[0]:
            channel = Channel(b["host"], b["port"], "riverhead-console", self.settings.timeout)
            try:
                response = channel.request(35, 4, DescribeLogDirsRequest(topics=None))
            except Exception:  # e.g. a TLS listener: sizes are optional, never fatal
                continue
            finally:
                channel.close()
            for result in response.results:
                for topic in result.topics:
                    for p in topic.partitions:
                        out[(str(topic.name), int(p.partition_index), b["id"])] = int(
                            p.partition_size
                        )
        return out

    def topic_configs(self, name: str) -> dict[str, str]:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import (  # type: ignore[attr-defined]
            ConfigResource,
            ResourceType,
        )

        resource = ConfigResource(ResourceType.TOPIC, name)
        try:
            entries = self.admin.describe_configs([resource], request_timeout=self.settings.timeout)
            found = entries[resource].result()
        except KafkaException as exc:
            raise from_kafka_error(exc, self.settings.brokers, f"topic {name!r}") from None
        return {k: str(v.value) for k, v in sorted(found.items())}

    def create_topic(self, name: str, partitions: int, replication: int) -> None:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

        futures = self.admin.create_topics(
            [NewTopic(name, partitions, replication)], request_timeout=self.settings.timeout
        )
        try:
            futures[name].result()
        except KafkaException as exc:
            raise from_kafka_error(exc, self.settings.brokers, f"topic {name!r}") from None

    def delete_topic(self, name: str) -> None:
        from confluent_kafka import KafkaException

        futures = self.admin.delete_topics([name], request_timeout=self.settings.timeout)
        try:
            futures[name].result()
        except KafkaException as exc:
            raise from_kafka_error(exc, self.settings.brokers, f"topic {name!r}") from None

    def end_offsets(self) -> dict[tuple[str, int], int]:
        """High watermark of every non-internal partition (for throughput sampling)."""
        keys = [
            (t.name, p.id)
            for t in fetch_topics(self.admin, self.settings)
            if not t.internal
            for p in t.partitions
        ]
        return list_offsets(self.admin, self.settings, keys, _offset_spec().latest(), [])

    # ---- messages -------------------------------------------------------------------------
    def browse(
        self,
        topic: str,
        *,
        partition: int | None = None,
        offset: int | None = None,
        timestamp_ms: int | None = None,
        filters: Filters | None = None,
        limit: int = 50,
    ) -> list[Record]:
        """Records of ``topic`` (one partition or all) from ``offset``, from the first at or
        after ``timestamp_ms``, or else the newest; at most ``limit`` that match
        ``filters``, scanning at most :data:`MAX_SCAN` records."""
        info = fetch_topic(self.admin, self.settings, topic)
        ids = [p.id for p in info.partitions if partition is None or p.id == partition]
        if not ids:
            raise CliError(
                "UNKNOWN_TOPIC_OR_PARTITION",
                f"topic {topic!r} has no partition {partition}",
                "pick a partition from the topic page",
            )
        keys = [(topic, p) for p in ids]
        errors: list[CliError] = []
        specs = _offset_spec()
        starts = list_offsets(self.admin, self.settings, keys, specs.earliest(), errors)
        ends = list_offsets(self.admin, self.settings, keys, specs.latest(), errors)
        if errors:
            raise errors[0]
        filters = filters or Filters()
        filtering = bool(filters.key or filters.value or filters.header)
        positions: dict[tuple[str, int], int] = {}
        if timestamp_ms is not None:
            at = list_offsets(
                self.admin, self.settings, keys, specs.for_timestamp(timestamp_ms), []
            )
            positions = {k: at.get(k, -1) for k in keys}
            positions = {k: (v if v >= 0 else ends[k]) for k, v in positions.items()}
        elif offset is not None:
            positions = {k: min(max(offset, starts[k]), ends[k]) for k in keys}
        else:  # the newest: the last `limit` per partition, or a wide window when filtering
            back = MAX_SCAN // len(keys) if filtering else limit
            positions = {k: max(ends[k] - back, starts[k]) for k in keys}
        newest = offset is None and timestamp_ms is None
        found = self._read(positions, ends, filters, limit, keep_all_matches=newest)
        found.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
        if offset is None and timestamp_ms is None:
            found = found[-limit:]
        return found[:limit]

    def _read(
        self,
        positions: dict[tuple[str, int], int],
        ends: dict[tuple[str, int], int],
        filters: Filters,
        limit: int,
        *,
        keep_all_matches: bool = True,
    ) -> list[Record]:
        from confluent_kafka import Consumer, TopicPartition

        todo = {k for k, pos in positions.items() if pos < ends[k]}
        if not todo:
            return []
        consumer = Consumer(
            {
                **base_config(self.settings),
                "group.id": "riverhead-console",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "allow.auto.create.topics": False,
            }
        )
        found: list[Record] = []
        scanned = 0
        newest_mode = keep_all_matches
        try:
            consumer.assign([TopicPartition(t, p, positions[(t, p)]) for t, p in todo])
            deadline = time.monotonic() + max(self.settings.timeout, 5.0)
            while todo and scanned < MAX_SCAN and time.monotonic() < deadline:
                msg: Any = consumer.poll(0.5)
                if msg is None:
                    continue
                key = (str(msg.topic()), int(msg.partition()))
                if msg.error() is not None:
                    if msg.error().code() == -191:  # _PARTITION_EOF
                        todo.discard(key)
                    continue
                scanned += 1
                if int(msg.offset()) + 1 >= ends.get(key, 0):
                    todo.discard(key)
                record = record_from_message(msg)
                if filters.match(record):
                    found.append(record)
                    if not newest_mode and len(found) >= limit:
                        break
        finally:
            consumer.close()
        return found

    def trace(
        self, trace_id: str, topics: list[str] | None = None, depth: int = 2000
    ) -> list[Record]:
        """Records whose ``traceparent`` carries ``trace_id``, across ``topics`` (default:
        every non-internal topic), among the newest ``depth`` of each partition; in
        timestamp order."""
        infos = [t for t in fetch_topics(self.admin, self.settings) if not t.internal]
        if topics:
            infos = [t for t in infos if t.name in topics]
        keys = [(t.name, p.id) for t in infos for p in t.partitions]
        errors: list[CliError] = []
        specs = _offset_spec()
        starts = list_offsets(self.admin, self.settings, keys, specs.earliest(), errors)
        ends = list_offsets(self.admin, self.settings, keys, specs.latest(), errors)
        positions = {k: max(ends.get(k, 0) - depth, starts.get(k, 0)) for k in keys if k in ends}
        matching = Filters(header=f"{TRACEPARENT}=00-{trace_id}")
        found = self._read(positions, ends, matching, MAX_SCAN)
        found.sort(key=lambda r: (r.timestamp, r.topic, r.partition, r.offset))
        return found

    # ---- groups ---------------------------------------------------------------------------
    def group_ids(self) -> list[tuple[str, str]]:
        from confluent_kafka import KafkaException

        try:
            result = self.admin.list_consumer_groups(request_timeout=self.settings.timeout).result()
        except KafkaException as exc:
            raise from_kafka_error(exc, self.settings.brokers, "listing groups") from None
        return sorted(
            (str(g.group_id), group_state_name(getattr(g, "state", None))) for g in result.valid
        )

    def group(self, group_id: str) -> GroupRow:
        info = fetch_group(self.admin, self.settings, group_id)
        committed = fetch_committed(self.admin, self.settings, group_id)
        owners = {tp: m.member_id for m in info.members for tp in m.assignment}
        keys = sorted(set(committed) | set(owners))
        ends = list_offsets(self.admin, self.settings, keys, _offset_spec().latest(), [])
        lags = [
            LagRow(t, p, committed.get((t, p)), ends.get((t, p)), owners.get((t, p)))
            for t, p in keys
        ]
        return GroupRow(info.group, info.state, info.members, lags)

    def groups(self) -> list[GroupRow]:
        return [self.group(g) for g, _ in self.group_ids()]

    def reset_offsets(self, group_id: str, topic: str, to: str) -> list[LagRow]:
        """Commit new offsets for ``group_id`` on every partition of ``topic``: ``to`` is
        ``earliest``, ``latest`` or an offset. Refused while the group has members."""
        from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

        info = fetch_group(self.admin, self.settings, group_id)
        if info.members:
            raise CliError(
                "NON_EMPTY_GROUP",
                f"group {group_id!r} is {info.state} with {len(info.members)} active member(s)",
                "stop its consumers first: offsets of an active group cannot be reset",
            )
        topic_info = fetch_topic(self.admin, self.settings, topic)
        keys = [(topic, p.id) for p in topic_info.partitions]
        errors: list[CliError] = []
        specs = _offset_spec()
        starts = list_offsets(self.admin, self.settings, keys, specs.earliest(), errors)
        ends = list_offsets(self.admin, self.settings, keys, specs.latest(), errors)
        if errors:
            raise errors[0]
        if to == "earliest":
            targets = starts
        elif to == "latest":
            targets = ends
        elif to.isdigit():
            targets = {k: min(max(int(to), starts[k]), ends[k]) for k in keys}
        else:
            raise CliError(
                "INVALID_ARGUMENT", f"cannot reset to {to!r}", "use earliest, latest or an offset"
            )
        request = ConsumerGroupTopicPartitions(
            group_id, [TopicPartition(t, p, targets[(t, p)]) for t, p in keys]
        )
        try:
            futures = self.admin.alter_consumer_group_offsets(
                [request], request_timeout=self.settings.timeout
            )
            futures[group_id].result()
        except KafkaException as exc:
            raise from_kafka_error(exc, self.settings.brokers, f"group {group_id!r}") from None
        return [LagRow(t, p, targets[(t, p)], ends[(t, p)], None) for t, p in keys]


def _offset_spec() -> Any:
    from confluent_kafka.admin import OffsetSpec  # type: ignore[attr-defined]

    spec: Any = OffsetSpec  # its factory methods are untyped
    return spec
