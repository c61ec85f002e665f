"""The console's ``/metrics``: the Kafka exporter's families, computed as a client.

Riverhead brokers serve consumer lag themselves (:mod:`riverhead.broker.metrics`); this
collector gives the same names for *any* Kafka-compatible cluster the console points at
(as the widely used Kafka exporter does), from Metadata, ListOffsets, ListGroups,
DescribeGroups and OffsetFetch at scrape time:

``kafka_brokers``; ``kafka_topic_partitions{topic}``;
``kafka_topic_partition_current_offset|oldest_offset|in_sync_replica|leader|replicas|
under_replicated_partition|leader_is_preferred{topic,partition}``;
``kafka_consumergroup_current_offset|lag{consumergroup,topic,partition}``,
``kafka_consumergroup_current_offset_sum|lag_sum{consumergroup,topic}``,
``kafka_consumergroup_members{consumergroup}``.

Lag is the partition's high watermark minus the group's committed offset (partitions
without a commit have no lag series). Internal topics are left out. A scrape that cannot
reach the cluster yields no families (Prometheus then sees the gap).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from riverhead.cli.errors import CliError
from riverhead.console.kafka import ClusterView
from riverhead.group_lag_metrics import GroupOffsets, group_lag_families

log = logging.getLogger("riverhead.console")

TP = ["topic", "partition"]


class ExporterCollector:
    def __init__(self, view: ClusterView) -> None:
        self.view = view

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except CliError as exc:
            log.info("exporter scrape failed: %s", exc)

    def _collect(self) -> Iterator[Metric]:
        brokers, _ = self.view.brokers()
        yield GaugeMetricFamily("kafka_brokers", "Brokers in the cluster", value=len(brokers))
        topics = self.view.topics(sizes=False)
        fams = {
            name: GaugeMetricFamily(f"kafka_topic_partition_{name}", text, labels=TP)
            for name, text in (
                ("current_offset", "Current offset (high watermark) of a partition"),
                ("oldest_offset", "Oldest offset of a partition"),
                ("in_sync_replica", "In-sync replicas of a partition"),
                ("leader", "Leader broker of a partition"),
                ("replicas", "Replicas of a partition"),
                ("under_replicated_partition", "1 if the partition is under-replicated"),
                ("leader_is_preferred", "1 if the leader is the preferred replica"),
            )
        }
        counts = GaugeMetricFamily(
            "kafka_topic_partitions", "Partitions of a topic", labels=["topic"]
        )
        ends: dict[tuple[str, int], int] = {}
        for t in topics:
            counts.add_metric([t.name], len(t.partitions))
            for p in t.partitions:
                labels = [t.name, str(p.partition)]
                if p.end is not None:
                    fams["current_offset"].add_metric(labels, p.end)
                    ends[(t.name, p.partition)] = p.end
                if p.start is not None:
                    fams["oldest_offset"].add_metric(labels, p.start)
                fams["in_sync_replica"].add_metric(labels, len(p.isr))
                fams["leader"].add_metric(labels, p.leader)
                fams["replicas"].add_metric(labels, len(p.replicas))
                fams["under_replicated_partition"].add_metric(labels, int(p.under_replicated))
                preferred = bool(p.replicas) and p.replicas[0] == p.leader
                fams["leader_is_preferred"].add_metric(labels, int(preferred))
        yield counts
        yield from fams.values()
        yield from self._groups(ends)

    def _groups(self, ends: dict[tuple[str, int], int]) -> Iterator[Metric]:
        offsets = [
            GroupOffsets(group.group, len(group.members), [
                (row.topic, row.partition, row.committed, ends[(row.topic, row.partition)])
                for row in group.lags
                if row.committed is not None and (row.topic, row.partition) in ends
            ])
            for group in self.view.groups()
        ]
        yield from group_lag_families(offsets)


def exporter_metrics(view: ClusterView) -> bytes:
    """One scrape in the Prometheus text format."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(view))
    data: Any = generate_latest(registry)
    return bytes(data)
