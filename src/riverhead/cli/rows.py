"""Rows for the topic and group commands, computed apart from printing (pure functions, no I/O).

Each ``*_table`` function returns ``(headers, rows)`` for :func:`riverhead.cli.output.print_table`
and each ``*_json`` function the document ``--format json`` prints; both are derived from
the same inputs so the two formats can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from riverhead.cli.client import GroupInfo, GroupMember, TopicInfo, TopicPartitionKey
from riverhead.cli.errors import CliError
from riverhead.cli.offsets import OffsetSpec, resolve
from riverhead.cli.output import Row, status_json, status_text

Table = tuple[list[str], list[Row]]


@dataclass(frozen=True)
class OffsetRange:
    """A partition's log start offset and high watermark (None when unknown)."""

    log_start: int | None
    high_watermark: int | None


@dataclass(frozen=True)
class ConfigInfo:
    """One topic config as DescribeConfigs reports it."""

    name: str
    value: str | None
    source: str
    sensitive: bool = False

    @property
    def shown_value(self) -> str | None:
        return "(sensitive)" if self.sensitive else self.value


@dataclass(frozen=True)
class ItemStatus:
    """The outcome of one item (a topic) in a multi-item command."""

    name: str
    error: CliError | None = None


# ---- topic list -------------------------------------------------------------------------


def visible_topics(topics: Sequence[TopicInfo], include_internal: bool) -> list[TopicInfo]:
    return [t for t in topics if include_internal or not t.internal]


def topic_list_table(topics: Sequence[TopicInfo]) -> Table:
    rows: list[Row] = [(t.name, len(t.partitions), t.replication_factor) for t in topics]
    return ["NAME", "PARTITIONS", "REPLICAS"], rows


def topic_list_json(topics: Sequence[TopicInfo]) -> list[dict[str, Any]]:
    return [
        {"name": t.name, "partitions": len(t.partitions), "replicas": t.replication_factor}
        for t in topics
    ]


# ---- topic describe ---------------------------------------------------------------------


def summary_table(topic: TopicInfo) -> Table:
    rows: list[Row] = [
        ("NAME", topic.name),
        ("INTERNAL", topic.internal),
        ("PARTITIONS", len(topic.partitions)),
        ("REPLICAS", topic.replication_factor),
    ]
    return ["KEY", "VALUE"], rows


def partition_table(topic: TopicInfo, offsets: Mapping[int, OffsetRange]) -> Table:
    headers = ["PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START-OFFSET", "HIGH-WATERMARK"]
    rows: list[Row] = []
    for p in topic.partitions:
        off = offsets.get(p.id, OffsetRange(None, None))
        rows.append(
            (
                p.id,
                p.leader if p.leader >= 0 else None,
                _ids(p.replicas),
                _ids(p.isr),
                off.log_start,
                off.high_watermark,
            )
        )
    return headers, rows


def config_table(configs: Sequence[ConfigInfo]) -> Table:
    rows: list[Row] = [(c.name, c.shown_value, c.source) for c in sorted_configs(configs)]
    return ["KEY", "VALUE", "SOURCE"], rows


def describe_json(
    topic: TopicInfo,
    offsets: Mapping[int, OffsetRange],
    configs: Sequence[ConfigInfo] | None,
) -> dict[str, Any]:
    partitions = []
    for p in topic.partitions:
        off = offsets.get(p.id, OffsetRange(None, None))
        partitions.append(
            {
                "partition": p.id,
                "leader": p.leader if p.leader >= 0 else None,
                "replicas": list(p.replicas),
                "isr": list(p.isr),
                "log_start_offset": off.log_start,
                "high_watermark": off.high_watermark,
            }
        )
    return {
        "name": topic.name,
        "internal": topic.internal,
        "partitions": partitions,
        "replicas": topic.replication_factor,
        "configs": None
        if configs is None
        else [
            {"name": c.name, "value": c.shown_value, "source": c.source}
            for c in sorted_configs(configs)
        ],
    }


def sorted_configs(configs: Sequence[ConfigInfo]) -> list[ConfigInfo]:
    return sorted(configs, key=lambda c: c.name)


def _ids(ids: Sequence[int]) -> str:
    return ",".join(str(i) for i in ids) if ids else "-"


# ---- per-item status (create, delete) ---------------------------------------------------


def status_table(items: Sequence[ItemStatus], header: str = "TOPIC") -> Table:
    rows: list[Row] = [(item.name, status_text(item.error)) for item in items]
    return [header, "STATUS"], rows


def status_list_json(items: Sequence[ItemStatus], key: str = "topic") -> list[dict[str, Any]]:
    return [{key: item.name, **status_json(item.error)} for item in items]


def any_failed(items: Sequence[ItemStatus]) -> bool:
    return any(item.error is not None for item in items)


# ---- group list -------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupListing:
    """One group as ListGroups reports it (``protocol_type`` None for simple groups)."""

    group: str
    state: str
    protocol_type: str | None


def group_list_table(groups: Sequence[GroupListing]) -> Table:
    rows: list[Row] = [(g.group, g.state, g.protocol_type) for g in groups]
    return ["GROUP", "STATE", "PROTOCOL-TYPE"], rows


def group_list_json(groups: Sequence[GroupListing]) -> list[dict[str, Any]]:
    return [{"group": g.group, "state": g.state, "protocol_type": g.protocol_type} for g in groups]


# ---- group describe ---------------------------------------------------------------------


@dataclass(frozen=True)
class GroupPartition:
    """One partition a group has committed an offset for or has assigned to a member."""

    topic: str
    partition: int
    committed: int | None
    offsets: OffsetRange
    member: GroupMember | None = None

    @property
    def lag(self) -> int | None:
        """Records between the committed offset and the log end (None if either is unknown)."""
        if self.committed is None or self.offsets.high_watermark is None:
            return None
        return max(0, self.offsets.high_watermark - self.committed)


def group_partitions(
    group: GroupInfo,
    committed: Mapping[TopicPartitionKey, int],
    offsets: Mapping[TopicPartitionKey, OffsetRange],
) -> list[GroupPartition]:
    """Committed and assigned partitions, sorted by topic then partition."""
    owners = {tp: m for m in group.members for tp in m.assignment}
    keys = sorted(set(committed) | set(owners))
    return [
        GroupPartition(
            topic=t,
            partition=p,
            committed=committed.get((t, p)),
            offsets=offsets.get((t, p), OffsetRange(None, None)),
            member=owners.get((t, p)),
        )
        for t, p in keys
    ]


def total_lag(parts: Sequence[GroupPartition]) -> int:
    return sum(p.lag or 0 for p in parts)


def group_summary_table(group: GroupInfo, parts: Sequence[GroupPartition]) -> Table:
    rows: list[Row] = [
        ("GROUP", group.group),
        ("STATE", group.state),
        ("COORDINATOR", group.coordinator),
        ("PROTOCOL", group.protocol),
        ("MEMBERS", len(group.members)),
        ("TOTAL-LAG", total_lag(parts)),
    ]
    return ["KEY", "VALUE"], rows


def group_partition_table(parts: Sequence[GroupPartition]) -> Table:
    headers = [
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-START-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "MEMBER-ID",
        "CLIENT-ID",
        "HOST",
    ]
    rows: list[Row] = [
        (
            p.topic,
            p.partition,
            p.committed,
            p.offsets.log_start,
            p.offsets.high_watermark,
            p.lag,
            p.member.member_id if p.member else None,
            p.member.client_id if p.member else None,
            p.member.host if p.member else None,
        )
        for p in parts
    ]
    return headers, rows


def group_describe_json(group: GroupInfo, parts: Sequence[GroupPartition]) -> dict[str, Any]:
    return {
        "group": group.group,
        "state": group.state,
        "coordinator": group.coordinator,
        "protocol": group.protocol,
        "members": [
            {
                "member_id": m.member_id,
                "client_id": m.client_id,
                "host": m.host,
                "assignment": [{"topic": t, "partition": p} for t, p in m.assignment],
            }
            for m in group.members
        ],
        "total_lag": total_lag(parts),
        "partitions": [
            {
                "topic": p.topic,
                "partition": p.partition,
                "current_offset": p.committed,
                "log_start_offset": p.offsets.log_start,
                "log_end_offset": p.offsets.high_watermark,
                "lag": p.lag,
                "member_id": p.member.member_id if p.member else None,
                "client_id": p.member.client_id if p.member else None,
                "host": p.member.host if p.member else None,
            }
            for p in parts
        ],
    }


# ---- group seek -------------------------------------------------------------------------


@dataclass(frozen=True)
class SeekTarget:
    """A partition's committed offset now and the offset ``group seek`` would commit."""

    topic: str
    partition: int
    current: int | None
    new: int


def seek_targets(
    spec: OffsetSpec,
    partitions: Sequence[TopicPartitionKey],
    committed: Mapping[TopicPartitionKey, int],
    offsets: Mapping[TopicPartitionKey, OffsetRange],
    by_time: Mapping[TopicPartitionKey, int] | None = None,
) -> list[SeekTarget]:
    """New offsets for ``partitions`` (sorted); each must have both offsets in ``offsets``."""
    targets = []
    for t, p in sorted(set(partitions)):
        off = offsets[(t, p)]
        if off.log_start is None or off.high_watermark is None:
            raise ValueError(f"no offsets for {t}/{p}")
        new = resolve(spec, off.log_start, off.high_watermark, (by_time or {}).get((t, p)))
        targets.append(SeekTarget(t, p, committed.get((t, p)), new))
    return targets


def seek_table(
    targets: Sequence[SeekTarget],
    results: Mapping[TopicPartitionKey, CliError | None] | None = None,
) -> Table:
    """The preview (TOPIC, PARTITION, CURRENT, NEW), plus STATUS once executed."""
    headers = ["TOPIC", "PARTITION", "CURRENT", "NEW"]
    rows: list[Row] = []
    for s in targets:
        row: list[Any] = [s.topic, s.partition, s.current, s.new]
        if results is not None:
            row.append(status_text(results.get((s.topic, s.partition))))
        rows.append(tuple(row))
    return headers + (["STATUS"] if results is not None else []), rows


def seek_json(
    targets: Sequence[SeekTarget],
    results: Mapping[TopicPartitionKey, CliError | None] | None = None,
) -> dict[str, Any]:
    partitions = []
    for s in targets:
        item: dict[str, Any] = {
            "topic": s.topic,
            "partition": s.partition,
            "current": s.current,
            "new": s.new,
        }
        if results is not None:
            item.update(status_json(results.get((s.topic, s.partition))))
        partitions.append(item)
    return {"executed": results is not None, "partitions": partitions}
