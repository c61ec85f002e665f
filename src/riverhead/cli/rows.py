"""Rows for the topic commands, computed apart from printing (pure functions, no I/O).

Each ``*_table`` function returns ``(headers, rows)`` for :func:`riverhead.cli.output.print_table`
and each ``*_json`` function the document ``--format json`` prints; both are derived from
the same inputs so the two formats can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from riverhead.cli.client import TopicInfo
from riverhead.cli.errors import CliError
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
