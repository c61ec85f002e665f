"""Broker metrics in Prometheus form: hot-path counters and a collector that reads state.

Two kinds of figure:

* **Counted on the hot path** (records/bytes in per topic, bytes out per topic, requests
  and their latency per API, request-engine busy time). Each thread that counts owns a
  :class:`ThreadStats` (a ``threading.local``), so counting takes no lock and never
  contends: a thread only ever writes its own dicts. A scrape sums every thread's stats;
  it may read a dict while its owner adds to it, so it copies each with ``dict(d)``
  (one C call, atomic under the GIL) and a value may be one request "late" — never
  lost, never double counted. Stats of threads that ended stay in the sum, so counters
  are monotonic. Produce counts once per batch (one batch per partition per request),
  fetch once per partition read, requests once per request: nothing per record.
* **Read at scrape time** from the broker's state (log sizes and segment counts, offsets,
  under-replicated/offline partitions, active controller, ISR shrinks/expands, group
  rebalances, purgatory sizes, consumer lag). Nothing is kept for them between scrapes.

Names follow Prometheus conventions under ``riverhead_``; consumer-group and topic
offsets additionally use the names of the widely used Kafka exporter
(``kafka_consumergroup_lag{consumergroup,topic,partition}`` and friends), so existing
Grafana dashboards work. Each broker reports only the groups it coordinates and the
partitions it leads, so series from several brokers never collide.

Label cardinality is bounded: ``api`` by the API keys the broker serves, ``topic`` by the
topics that exist (produce to an unknown topic is refused before counting), and series
with a ``partition`` label by ``metrics.partition.series.max``: past it the per-partition
families are left out of the scrape (their per-topic sums stay) and
``riverhead_metrics_partition_series_dropped`` says how many were left out.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from riverhead.group_lag_metrics import GroupOffsets, group_lag_families
from riverhead.protocol.apis import api_name

if TYPE_CHECKING:
    from riverhead.broker.state import BrokerState

#: Upper bounds of the request latency buckets, in seconds (then +Inf).
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_BUCKET_NS = [int(b * 1e9) for b in LATENCY_BUCKETS]
_N_BUCKETS = len(LATENCY_BUCKETS) + 1  # the last one is +Inf
# Layout of a per-API request stat: [count, sum_ns, bucket_0 .. bucket_+Inf]
_COUNT, _SUM = 0, 1
_BUSY_KEY = -1  # engine busy time, kept with the requests: [unused, ns]


class ThreadStats(threading.local):
    """Counters written by exactly one thread (its owner); read by scrapes.

    A ``threading.local``: each thread sees its own instance, made (and registered with
    ``register``) on the thread's first access, so the hot path reads its dicts with one
    attribute lookup and no lock.
    """

    def __init__(self, register: Callable[[ThreadStats], None]) -> None:
        self.produced: dict[str, list[int]] = {}  # topic -> [records, bytes, batches]
        self.bytes_out: dict[str, int] = {}  # topic -> bytes of records fetched
        self.requests: dict[int, list[int]] = {}  # api key -> [count, sum_ns, buckets...]
        register(self)


class BrokerMetrics:
    """The broker's hot-path counters; thread-safe as described in the module docstring."""

    def __init__(self, *, partition_series_max: int = 10_000) -> None:
        self.partition_series_max = partition_series_max
        self._all: list[tuple[dict[str, list[int]], dict[str, int], dict[int, list[int]]]] = []
        self._busy: list[list[int]] = []
        self._all_lock = threading.Lock()  # taken once per thread, on its first count
        self._local = ThreadStats(self._register)

    def _register(self, stats: ThreadStats) -> None:
        with self._all_lock:
            self._all.append((stats.produced, stats.bytes_out, stats.requests))

    def stats(self) -> ThreadStats:
        """The calling thread's own stats (created on first use)."""
        return self._local

    # ---- hot path -----------------------------------------------------------------------
    def produced(self, topic: str, records: int, size: int) -> None:
        """One batch of ``records`` records, ``size`` bytes, appended to ``topic``."""
        produced = self._local.produced
        entry = produced.get(topic)
        if entry is None:
            produced[topic] = [records, size, 1]
        else:
            entry[0] += records
            entry[1] += size
            entry[2] += 1

    def fetched(self, topic: str, size: int) -> None:
        """``size`` bytes of records of ``topic`` sent in a fetch response."""
        out = self._local.bytes_out
        out[topic] = out.get(topic, 0) + size

    def request(self, api_key: int, elapsed_ns: int) -> None:
        """A request of ``api_key`` answered ``elapsed_ns`` after it was read."""
        reqs = self._local.requests
        entry = reqs.get(api_key)
        if entry is None:
            entry = reqs[api_key] = [0] * (2 + _N_BUCKETS)
        entry[_COUNT] += 1
        entry[_SUM] += elapsed_ns
        entry[2 + bisect.bisect_left(_BUCKET_NS, elapsed_ns)] += 1

    def busy(self, elapsed_ns: int) -> None:
        """Engine time; kept as a per-thread "request" under a reserved key (-1)."""
        reqs = self._local.requests
        entry = reqs.get(_BUSY_KEY)
        if entry is None:
            entry = reqs[_BUSY_KEY] = [0, 0]
        entry[1] += elapsed_ns

    # ---- sums (scrape side) -------------------------------------------------------------
    def _threads(self) -> list[tuple[dict[str, list[int]], dict[str, int], dict[int, list[int]]]]:
        with self._all_lock:
            return list(self._all)

    def totals_in(self) -> dict[str, list[int]]:
        """topic -> [records, bytes, batches] summed over threads."""
        out: dict[str, list[int]] = {}
        for produced, _, _ in self._threads():
            for topic, entry in dict(produced).items():
                acc = out.setdefault(topic, [0, 0, 0])
                for i, value in enumerate(list(entry)):
                    acc[i] += value
        return out

    def totals_out(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, bytes_out, _ in self._threads():
            for topic, size in dict(bytes_out).items():
                out[topic] = out.get(topic, 0) + size
        return out

    def totals_requests(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for _, _, requests in self._threads():
            for key, entry in dict(requests).items():
                if key == _BUSY_KEY:
                    continue
                acc = out.setdefault(key, [0] * (2 + _N_BUCKETS))
                for i, value in enumerate(list(entry)):
                    acc[i] += value
        return out

    def busy_seconds(self) -> float:
        total = 0
        for _, _, requests in self._threads():
            entry = requests.get(_BUSY_KEY)
            if entry is not None:
                total += entry[1]
        return total / 1e9


class BrokerCollector:
    """A prometheus-client collector over a broker's state and :class:`BrokerMetrics`."""

    def __init__(self, state: BrokerState, metrics: BrokerMetrics, engine: Any = None) -> None:
        self.state = state
        self.metrics = metrics
        self.engine = engine  # a RequestEngine, for thread and connection counts
        self.started = time.time()

    def describe(self) -> Iterable[Metric]:
        return []  # unchecked collector: families vary with the cluster's shape

    def collect(self) -> Iterator[Metric]:
        yield from self._traffic()
        yield from self._requests()
        yield from self._engine()
        yield from self._partitions()
        yield from self._cluster()
        yield from self._groups()

    # ---- counted families ---------------------------------------------------------------
    def _traffic(self) -> Iterator[Metric]:
        records = CounterMetricFamily(
            "riverhead_topic_records_in", "Records appended to the topic", labels=["topic"]
        )
        bytes_in = CounterMetricFamily(
            "riverhead_topic_bytes_in", "Bytes of record batches appended", labels=["topic"]
        )
        batches = CounterMetricFamily(
            "riverhead_topic_batches_in", "Record batches appended", labels=["topic"]
        )
        for topic, (n, size, count) in sorted(self.metrics.totals_in().items()):
            records.add_metric([topic], n)
            bytes_in.add_metric([topic], size)
            batches.add_metric([topic], count)
        bytes_out = CounterMetricFamily(
            "riverhead_topic_bytes_out",
            "Bytes of record batches sent in fetch responses (consumers and followers)",
            labels=["topic"],
        )
        for topic, size in sorted(self.metrics.totals_out().items()):
            bytes_out.add_metric([topic], size)
        yield from (records, bytes_in, batches, bytes_out)

    def _requests(self) -> Iterator[Metric]:
        count = CounterMetricFamily("riverhead_requests", "Requests answered", labels=["api"])
        latency = HistogramMetricFamily(
            "riverhead_request_latency_seconds",
            "Time from reading a request to queueing its response (parked waits included)",
            labels=["api"],
        )
        for key, entry in sorted(self.metrics.totals_requests().items()):
            name = request_label(key)
            count.add_metric([name], entry[_COUNT])
            cumulative, buckets = 0, []
            for bound, n in zip((*LATENCY_BUCKETS, float("inf")), entry[2:], strict=True):
                cumulative += n
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            latency.add_metric([name], buckets, entry[_SUM] / 1e9)
        yield from (count, latency)

    def _engine(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "riverhead_request_engine_busy_seconds",
            "Thread-seconds the request engine spent serving connections; "
            "rate / riverhead_request_engine_threads is its utilisation",
            value=self.metrics.busy_seconds(),
        )
        engine = self.engine
        if engine is not None:
            yield GaugeMetricFamily(
                "riverhead_request_engine_threads", "Request engine threads", value=engine.threads
            )
            yield GaugeMetricFamily(
                "riverhead_request_engine_busy_threads",
                "Request engine threads serving a connection at this instant",
                value=max(engine.busy_threads, 0),
            )
            yield GaugeMetricFamily(
                "riverhead_connections", "Open client connections", value=engine.connection_count
            )
        sizes = purgatory_sizes(self.state.purgatory)
        purgatory = GaugeMetricFamily(
            "riverhead_purgatory_size",
            "Delayed operations waiting in the purgatory",
            labels=["operation"],
        )
        for operation in ("fetch", "produce", "other"):
            purgatory.add_metric([operation], sizes.get(operation, 0))
        yield purgatory

    # ---- state families -----------------------------------------------------------------
    def _partitions(self) -> Iterator[Metric]:
        parts = sorted(self.state.partitions.items())
        per_partition = len(parts) <= self.metrics.partition_series_max
        size = GaugeMetricFamily(
            "riverhead_log_size_bytes",
            "Bytes of the partition's log segments",
            labels=["topic", "partition"],
        )
        segments = GaugeMetricFamily(
            "riverhead_log_segments",
            "Segments of the partition's log",
            labels=["topic", "partition"],
        )
        start = GaugeMetricFamily(
            "riverhead_log_start_offset", "Log start offset", labels=["topic", "partition"]
        )
        end = GaugeMetricFamily(
            "riverhead_log_end_offset", "Log end offset", labels=["topic", "partition"]
        )
        hw = GaugeMetricFamily(
            "riverhead_high_watermark", "High watermark", labels=["topic", "partition"]
        )
        # Kafka exporter names, for the partitions this broker leads.
        current = GaugeMetricFamily(
            "kafka_topic_partition_current_offset",
            "Current offset (high watermark) of a partition",
            labels=["topic", "partition"],
        )
        oldest = GaugeMetricFamily(
            "kafka_topic_partition_oldest_offset",
            "Oldest offset of a partition",
            labels=["topic", "partition"],
        )
        topic_size = GaugeMetricFamily(
            "riverhead_topic_log_size_bytes",
            "Bytes of the topic's partitions held by this broker",
            labels=["topic"],
        )
        sizes: dict[str, int] = {}
        under = 0
        for (topic, index), part in parts:
            plog = part.log
            nbytes = plog.size_bytes
            sizes[topic] = sizes.get(topic, 0) + nbytes
            leader = part.is_leader
            if leader and len(part.isr) < len(part.replicas):
                under += 1
            if not per_partition:
                continue
            labels = [topic, str(index)]
            size.add_metric(labels, nbytes)
            segments.add_metric(labels, plog.segment_count)
            start.add_metric(labels, plog.log_start_offset)
            end.add_metric(labels, plog.log_end_offset)
            hw.add_metric(labels, plog.high_watermark)
            if leader:
                current.add_metric(labels, plog.high_watermark)
                oldest.add_metric(labels, plog.log_start_offset)
        for topic, nbytes in sorted(sizes.items()):
            topic_size.add_metric([topic], nbytes)
        if per_partition:
            yield from (size, segments, start, end, hw, current, oldest)
        yield topic_size
        yield GaugeMetricFamily(
            "riverhead_metrics_partition_series_dropped",
            "Partitions left out of per-partition families (metrics.partition.series.max)",
            value=0 if per_partition else len(parts),
        )
        yield GaugeMetricFamily(
            "riverhead_under_replicated_partitions",
            "Partitions this broker leads whose ISR is smaller than their replica set",
            value=under,
        )

    def _cluster(self) -> Iterator[Metric]:
        cluster = self.state.cluster
        active = 1
        offline = 0
        shrinks = expands = 0
        if cluster is not None:
            controller = cluster.controller
            active = int(controller is not None and controller.active)
            if active:  # as in Kafka, the active controller reports offline partitions
                for meta in list(cluster.metadata.topics.values()):
                    offline += sum(1 for s in meta.states.values() if s.leader < 0)
            shrinks = cluster.replicas.isr_shrinks
            expands = cluster.replicas.isr_expands
        yield GaugeMetricFamily(
            "riverhead_active_controller",
            "1 on the active controller (a single broker is its own), else 0",
            value=active,
        )
        yield GaugeMetricFamily(
            "riverhead_offline_partitions",
            "Partitions without a leader (reported by the active controller)",
            value=offline,
        )
        yield CounterMetricFamily(
            "riverhead_isr_shrinks", "ISR shrinks applied by this leader", value=shrinks
        )
        yield CounterMetricFamily(
            "riverhead_isr_expands", "ISR expansions applied by this leader", value=expands
        )

    def _groups(self) -> Iterator[Metric]:
        coordinator = self.state.groups
        yield CounterMetricFamily(
            "riverhead_group_rebalances",
            "Rebalances started by groups this broker coordinates",
            value=coordinator.rebalances,
        )
        groups = group_lag_snapshot(coordinator)
        states = GaugeMetricFamily(
            "riverhead_groups", "Groups coordinated here, by state", labels=["state"]
        )
        by_state: dict[str, int] = {}
        for g in groups:
            by_state[g.state] = by_state.get(g.state, 0) + 1
        for name, n in sorted(by_state.items()):
            states.add_metric([name], n)
        yield states
        series = sum(len(g.committed) for g in groups)
        offsets = []
        for g in groups:
            rows = []
            for (topic, index), offset in g.committed.items():
                part = self.state.partitions.get((topic, index))
                if part is not None:  # no replica here: lag unknown on this broker
                    rows.append((topic, index, offset, part.log.high_watermark))
            offsets.append(GroupOffsets(g.group, g.members, rows))
        yield from group_lag_families(offsets, series <= self.metrics.partition_series_max)


@dataclass(frozen=True)
class GroupSnapshot:
    group: str
    state: str
    members: int
    committed: dict[tuple[str, int], int]


def group_lag_snapshot(coordinator: Any) -> list[GroupSnapshot]:
    """The groups ``coordinator`` owns, copied under its lock (held only to copy)."""
    with coordinator.lock:
        return [
            GroupSnapshot(
                g.group_id,
                g.state.value,
                len(g.members),
                {tp: c.offset for tp, c in g.offsets.items()},
            )
            for g in coordinator.groups.values()
            if g.state.value != "Dead" and not coordinator.owner_error(g.group_id)
        ]


def request_label(api_key: int) -> str:
    """Kafka's request name for the ``api`` label: ``Produce``, ``ApiVersions``..."""
    return "".join(w.capitalize() for w in api_name(api_key).split("_"))


def purgatory_sizes(purgatory: Any) -> dict[str, int]:
    """Pending delayed operations by kind: ``fetch``, ``produce`` or ``other``."""
    counts: dict[str, int] = {}
    for op in purgatory.pending():
        kind = type(op).__name__
        name = "fetch" if kind == "DelayedFetch" else "produce" if kind == "DelayedProduce" else ""
        counts[name or "other"] = counts.get(name or "other", 0) + 1
    return counts
