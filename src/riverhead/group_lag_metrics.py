"""Consumer-group lag under the names of the widely used Kafka exporter, so existing
Grafana dashboards work: ``kafka_consumergroup_members{consumergroup}``,
``kafka_consumergroup_current_offset|lag{consumergroup,topic,partition}`` and
``kafka_consumergroup_current_offset_sum|lag_sum{consumergroup,topic}``.

Shared by the broker's ``/metrics`` (groups it coordinates, lag against its own high
watermarks) and the console's exporter (any Kafka-compatible cluster, as a client).
Lag is ``end - committed``, never negative; the ``_sum`` families add a group's partitions
of one topic. Pure: builds metric families from plain values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric

GTP = ["consumergroup", "topic", "partition"]


@dataclass(frozen=True)
class GroupOffsets:
    """One group: its member count and ``(topic, partition, committed, end)`` rows, only
    for partitions whose end offset (high watermark) is known."""

    group: str
    members: int
    rows: list[tuple[str, int, int, int]]


def group_lag_families(groups: Iterable[GroupOffsets], per_partition: bool = True) -> list[Metric]:
    """The exporter's group families; without ``per_partition`` only the members and the
    per-topic sums (bounded label cardinality on large clusters)."""
    members = GaugeMetricFamily(
        "kafka_consumergroup_members", "Members of a consumer group", labels=["consumergroup"]
    )
    current = GaugeMetricFamily(
        "kafka_consumergroup_current_offset",
        "Committed offset of a consumer group in a partition",
        labels=GTP,
    )
    lag = GaugeMetricFamily(
        "kafka_consumergroup_lag",
        "Lag of a consumer group in a partition: high watermark - committed offset",
        labels=GTP,
    )
    current_sum = GaugeMetricFamily(
        "kafka_consumergroup_current_offset_sum",
        "Sum of the group's committed offsets over a topic's partitions",
        labels=["consumergroup", "topic"],
    )
    lag_sum = GaugeMetricFamily(
        "kafka_consumergroup_lag_sum",
        "Sum of the group's lag over a topic's partitions",
        labels=["consumergroup", "topic"],
    )
    for g in groups:
        members.add_metric([g.group], g.members)
        sums: dict[str, list[int]] = {}
        for topic, partition, committed, end in sorted(g.rows):
            behind = max(end - committed, 0)
            acc = sums.setdefault(topic, [0, 0])
            acc[0] += committed
            acc[1] += behind
            if per_partition:
                labels = [g.group, topic, str(partition)]
                current.add_metric(labels, committed)
                lag.add_metric(labels, behind)
        for topic, (offsets, behind) in sorted(sums.items()):
            current_sum.add_metric([g.group, topic], offsets)
            lag_sum.add_metric([g.group, topic], behind)
    families: list[Metric] = [members]
    if per_partition:
        families += [current, lag]
    return [*families, current_sum, lag_sum]
