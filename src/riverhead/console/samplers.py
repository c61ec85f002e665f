"""Background sampling for the console's charts: throughput and consumer lag over time.

One daemon thread wakes every ``interval`` seconds and records

* per topic, records/s in: the change of the sum of its partitions' high watermarks
  since the previous sample (works against any Kafka cluster);
* per broker, bytes/s in and out and requests/s, from its ``/metrics`` when it has one
  (Riverhead brokers; found through DescribeConfigs' ``metrics.listener``);
* per consumer group, its total lag and per partition lag.

Each series keeps the last ``keep`` points (a deque), so memory is bounded by topics +
groups + brokers times ``keep``. Readers get copies taken under ``lock``. Failures of a
sample (a broker down) are skipped, never fatal: the chart shows a gap.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections import deque
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from riverhead.console.kafka import ClusterView

log = logging.getLogger("riverhead.console")

Point = tuple[float, float]  # (unix seconds, value)
MAX_PARTITION_SERIES = 16  # per group: more lines would not be readable anyway


class Sampler:
    def __init__(self, view: ClusterView, interval: float = 2.0, keep: int = 300) -> None:
        self.view = view
        self.interval = interval
        self.keep = keep
        self.lock = threading.Lock()
        self.topic_rates: dict[str, deque[Point]] = {}
        self.broker_rates: dict[str, deque[Point]] = {}  # "<id> bytes in" etc.
        self.group_lag: dict[str, deque[Point]] = {}
        # group -> "topic-p" -> lag over time (charted for up to MAX_PARTITION_SERIES)
        self.partition_lag: dict[str, dict[str, deque[Point]]] = {}
        self._last_ends: dict[str, int] = {}
        self._last_metrics: dict[str, float] = {}
        self._last_time = 0.0
        self.metrics_urls: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="console-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception as exc:  # a broker down: a gap in the charts
                log.info("sampling failed: %s", exc)
            self._stop.wait(self.interval)

    def _append(self, store: dict[str, deque[Point]], name: str, point: Point) -> None:
        series = store.get(name)
        if series is None:
            series = store[name] = deque(maxlen=self.keep)
        series.append(point)

    def sample(self) -> None:
        """Take one sample of everything (also called directly by tests)."""
        now = time.time()
        ends = self.view.end_offsets()
        by_topic: dict[str, int] = {}
        for (topic, _), end in ends.items():
            by_topic[topic] = by_topic.get(topic, 0) + end
        metrics = self._scrape_brokers()
        lags = {g.group: g for g in self.view.groups()}
        with self.lock:
            elapsed = now - self._last_time if self._last_time else 0.0
            if elapsed > 0:
                for topic, total in by_topic.items():
                    before = self._last_ends.get(topic)
                    if before is not None:
                        rate = max(total - before, 0) / elapsed
                        self._append(self.topic_rates, topic, (now, rate))
                for name, value in metrics.items():
                    before_m = self._last_metrics.get(name)
                    if before_m is not None:
                        rate = max(value - before_m, 0) / elapsed
                        self._append(self.broker_rates, name, (now, rate))
            self._last_ends = by_topic
            self._last_metrics = metrics
            self._last_time = now
            for group, row in lags.items():
                self._append(self.group_lag, group, (now, float(row.total_lag)))
                series = self.partition_lag.setdefault(group, {})
                for r in row.lags[:MAX_PARTITION_SERIES]:
                    self._append(series, f"{r.topic}-{r.partition}", (now, float(r.lag or 0)))

    def _scrape_brokers(self) -> dict[str, float]:
        from riverhead.cli.health import metrics_urls

        if not self.metrics_urls:
            brokers, _ = self.view.brokers()
            self.metrics_urls = metrics_urls(
                self.view.admin, {b["id"]: b["host"] for b in brokers}, self.view.settings.timeout
            )
        out: dict[str, float] = {}
        for node, url in sorted(self.metrics_urls.items()):
            try:
                with urllib.request.urlopen(f"{url}/metrics", timeout=2) as response:
                    text = response.read().decode()
            except OSError:
                continue
            sums = {"bytes in": 0.0, "bytes out": 0.0, "requests": 0.0}
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "riverhead_topic_bytes_in_total":
                        sums["bytes in"] += sample.value
                    elif sample.name == "riverhead_topic_bytes_out_total":
                        sums["bytes out"] += sample.value
                    elif sample.name == "riverhead_requests_total":
                        sums["requests"] += sample.value
            for what, value in sums.items():
                out[f"broker {node} {what}"] = value
        return out

    # ---- readers (copies) ---------------------------------------------------------------
    def throughput(self) -> dict[str, Any]:
        with self.lock:
            return {
                "topics": {k: list(v) for k, v in sorted(self.topic_rates.items())},
                "brokers": {k: list(v) for k, v in sorted(self.broker_rates.items())},
            }

    def lag_history(self, group: str) -> list[Point]:
        with self.lock:
            return list(self.group_lag.get(group, ()))

    def partition_lag_history(self, group: str) -> dict[str, list[Point]]:
        with self.lock:
            return {k: list(v) for k, v in sorted(self.partition_lag.get(group, {}).items())}
