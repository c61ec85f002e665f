"""Per-log configuration: the topic-level settings that shape a partition's log.

Keys follow Kafka's topic config names (``segment.bytes``, ``retention.ms``...). The broker
builds the defaults from its ``log.*`` keys (:meth:`BrokerConfig.log_defaults`); a topic's
own configs override them through :meth:`LogConfig.with_topic_configs`.

Immutable; safe to share between threads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

LONG_MAX = 2**63 - 1


class InvalidConfig(ValueError):
    """A topic config value is not valid for its key."""


@dataclass(frozen=True)
class LogConfig:
    segment_bytes: int = 1 << 30
    segment_ms: int = 7 * 24 * 3_600_000
    segment_index_bytes: int = 10 << 20
    index_interval_bytes: int = 4096
    retention_ms: int = 7 * 24 * 3_600_000  # -1: keep forever
    retention_bytes: int = -1  # -1: no size limit
    flush_interval_messages: int = LONG_MAX
    flush_interval_ms: int = LONG_MAX
    file_delete_delay_ms: int = 60_000
    cleanup_policy: str = "delete"  # "delete", "compact" or "compact,delete"
    message_timestamp_type: str = "CreateTime"  # or "LogAppendTime"
    max_message_bytes: int = 1_048_588
    min_insync_replicas: int = 1
    compression_type: str = "producer"
    preallocate: bool = False
    delete_retention_ms: int = 86_400_000
    message_timestamp_before_max_ms: int = LONG_MAX
    message_timestamp_after_max_ms: int = 3_600_000
    min_cleanable_dirty_ratio: float = 0.5  # compaction: clean when dirty/total >= this
    min_compaction_lag_ms: int = 0  # compaction: never clean records younger than this

    def with_topic_configs(self, configs: Mapping[str, str]) -> LogConfig:
        """Return a copy with topic-level overrides applied; raises :class:`InvalidConfig`."""
        changes: dict[str, object] = {}
        for key, raw in configs.items():
            spec = TOPIC_CONFIGS.get(key)
            if spec is None:
                raise InvalidConfig(f"unknown topic config {key!r}")
            attr, kind = spec
            changes[attr] = _parse(key, raw, kind)
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def topic_value(self, key: str) -> str:
        """The value of a topic config key as Kafka prints it (for DescribeConfigs)."""
        attr, kind = TOPIC_CONFIGS[key]
        value = getattr(self, attr)
        if kind is bool:
            return "true" if value else "false"
        return str(value)


def _parse(key: str, raw: str, kind: type) -> object:
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise InvalidConfig(f"{key}={raw!r} is not an integer") from None
    if kind is float:
        try:
            value = float(raw)
        except ValueError:
            raise InvalidConfig(f"{key}={raw!r} is not a number") from None
        if key == "min.cleanable.dirty.ratio" and not 0.0 <= value <= 1.0:
            raise InvalidConfig(f"{key}={raw!r} must be between 0 and 1")
        return value
    if kind is bool:
        if raw.lower() not in ("true", "false"):
            raise InvalidConfig(f"{key}={raw!r} is not true or false")
        return raw.lower() == "true"
    if key == "cleanup.policy":
        parts = sorted(p.strip() for p in raw.split(",") if p.strip())
        if not parts or any(p not in ("delete", "compact") for p in parts):
            raise InvalidConfig(f"cleanup.policy={raw!r}: use delete, compact or compact,delete")
        return ",".join(parts)
    if key == "message.timestamp.type" and raw not in ("CreateTime", "LogAppendTime"):
        raise InvalidConfig(f"message.timestamp.type={raw!r}: use CreateTime or LogAppendTime")
    if key == "compression.type" and raw not in (
        "producer",
        "uncompressed",
        "gzip",
        "snappy",
        "lz4",
        "zstd",
    ):
        raise InvalidConfig(f"compression.type={raw!r} is not a known codec")
    return raw


# topic config key -> (LogConfig attribute, type)
TOPIC_CONFIGS: dict[str, tuple[str, type]] = {
    "segment.bytes": ("segment_bytes", int),
    "segment.ms": ("segment_ms", int),
    "segment.index.bytes": ("segment_index_bytes", int),
    "index.interval.bytes": ("index_interval_bytes", int),
    "retention.ms": ("retention_ms", int),
    "retention.bytes": ("retention_bytes", int),
    "flush.messages": ("flush_interval_messages", int),
    "flush.ms": ("flush_interval_ms", int),
    "file.delete.delay.ms": ("file_delete_delay_ms", int),
    "cleanup.policy": ("cleanup_policy", str),
    "message.timestamp.type": ("message_timestamp_type", str),
    "max.message.bytes": ("max_message_bytes", int),
    "min.insync.replicas": ("min_insync_replicas", int),
    "compression.type": ("compression_type", str),
    "preallocate": ("preallocate", bool),
    "delete.retention.ms": ("delete_retention_ms", int),
    "message.timestamp.before.max.ms": ("message_timestamp_before_max_ms", int),
    "message.timestamp.after.max.ms": ("message_timestamp_after_max_ms", int),
    "min.cleanable.dirty.ratio": ("min_cleanable_dirty_ratio", float),
    "min.compaction.lag.ms": ("min_compaction_lag_ms", int),
}
