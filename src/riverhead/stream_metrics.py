"""Prometheus metrics of a running stream application (``riverhead stream run
--metrics-listener http://host:port``).

The supervisor merges the per-component stats its workers report every
``--stats-interval`` seconds (:class:`riverhead.stream.metrics.ComponentStats`); this
collector turns the latest merge into families labelled by ``component`` (bounded by the
topology's components) and ``kind`` (spout or bolt):

counters ``riverhead_stream_emitted_total``, ``_executed_total``, ``_acked_total``,
``_failed_total``, ``_errors_total``; gauges ``riverhead_stream_tasks``,
``_process_latency_seconds`` and ``_complete_latency_seconds`` (means),
``_queue``, ``_max_queue``, ``_pending``; and ``riverhead_stream_workers``.

Served by :class:`riverhead.broker.metrics_server.MetricsServer`: ``/metrics`` and
``/v1/status/ready`` (ready once a worker has reported). Thread-safe: the stats callable
returns a fresh merge each time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

Stats = Callable[[], dict[str, Any]]  # component -> ComponentStats

_COUNTERS = (
    ("emitted", "Tuples emitted"),
    ("executed", "Input tuples processed (bolts)"),
    ("acked", "Tuples acked (bolts) or trees completed (spouts)"),
    ("failed", "Tuples failed (bolts) or trees failed or timed out (spouts)"),
    ("errors", "Exceptions raised by the component's tasks"),
)
_GAUGES = (
    ("tasks", "Tasks of the component over all workers", "tasks", 1.0),
    ("queue", "Tuples waiting in the component's input queues", "queue", 1.0),
    ("max_queue", "Largest input queue seen", "max_queue", 1.0),
    ("pending", "Spout trees in flight", "pending", 1.0),
    ("process_latency_seconds", "Mean time of process() per tuple", "process_latency_ms", 1e-3),
    ("complete_latency_seconds", "Mean emit-to-completion time", "complete_latency_ms", 1e-3),
)


class StreamCollector:
    def __init__(self, stats: Stats, workers: int) -> None:
        self.stats = stats
        self.workers = workers

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        stats = sorted(self.stats().values(), key=lambda c: c.component)
        yield GaugeMetricFamily(
            "riverhead_stream_workers", "Worker processes started", value=self.workers
        )
        labels = ["component", "kind"]
        for name, text in _COUNTERS:
            family = CounterMetricFamily(f"riverhead_stream_{name}", text, labels=labels)
            for c in stats:
                family.add_metric([c.component, c.kind], getattr(c, name))
            yield family
        for name, text, attr, scale in _GAUGES:
            gauge = GaugeMetricFamily(f"riverhead_stream_{name}", text, labels=labels)
            for c in stats:
                value = getattr(c, attr)
                if value is not None:
                    gauge.add_metric([c.component, c.kind], value * scale)
            yield gauge


def serve(listener: str, stats: Stats, workers: int) -> Any:
    """Start ``/metrics`` and ``/v1/status/ready`` on ``listener`` (http://host:port);
    returns the running :class:`~riverhead.broker.metrics_server.MetricsServer`.
    Raises :class:`~riverhead.broker.metrics_server.MetricsError` for a bad listener."""
    from prometheus_client import CollectorRegistry

    from riverhead.broker.metrics_server import MetricsError, MetricsServer, parse_listener

    address = parse_listener(listener)
    if address is None:
        raise MetricsError("--metrics-listener is empty: write e.g. http://127.0.0.1:9645")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StreamCollector(stats, workers))

    def readiness() -> str | None:
        return None if stats() else "no worker has reported yet"

    server = MetricsServer(registry, readiness)
    server.start(*address)
    return server
