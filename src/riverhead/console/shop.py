"""The e-commerce dashboard's data: a live tail of the stream app's output topics.

Topics and their JSON values (produced by the e-commerce stream application):

* ``revenue-per-minute``: ``{"window_start": ms, "window_end": ms, "revenue": float,
  "purchases": int}`` — a later record for the same window replaces the earlier one
  (windows may be updated by late events);
* ``top-products``: ``{"window_start": ms, "window_end": ms, "products":
  [{"product_id": str, "count": int}, ...]}`` — the newest window is shown;
* ``funnel``: ``{"session_start": ms, "session_end": ms, "user_id": str, "views": int,
  "carts": int, "purchases": int}`` — summed over the sessions seen;
* ``fraud-alerts``: ``{"rule": str, "ts": ms, "user_id": str|null, "card": str|null,
  "details": str}`` — the newest first.

:class:`ShopTail` runs one consumer (no group, no commits) in a daemon thread, assigned to
every partition of those topics that exists — from the newest ``backlog`` records of each
— and looks again for new topics or partitions every few seconds. Records that are not
JSON objects of the right shape are counted in ``skipped`` and otherwise ignored.
:meth:`ShopTail.snapshot` returns a copy under the lock (thread-safe).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from typing import Any

from riverhead.cli.client import base_config, list_offsets
from riverhead.console.kafka import ClusterView, _offset_spec

log = logging.getLogger("riverhead.console")

REVENUE, TOP, FUNNEL, FRAUD = "revenue-per-minute", "top-products", "funnel", "fraud-alerts"
TOPICS = (REVENUE, TOP, FUNNEL, FRAUD)


class ShopTail:
    def __init__(self, view: ClusterView, backlog: int = 1000, windows: int = 60) -> None:
        self.view = view
        self.backlog = backlog
        self.windows = windows
        self.lock = threading.Lock()
        self.revenue: dict[int, dict[str, Any]] = {}  # window_start -> record
        self.top: dict[str, Any] | None = None
        self.funnel = {"sessions": 0, "views": 0, "carts": 0, "purchases": 0}
        self.alerts: deque[dict[str, Any]] = deque(maxlen=50)
        self.records = 0
        self.skipped = 0
        self._assigned: set[tuple[str, int]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="console-shop", daemon=True)
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        from confluent_kafka import Consumer

        consumer = Consumer(
            {
                **base_config(self.view.settings),
                "group.id": "riverhead-console-shop",
                "enable.auto.commit": False,
                "allow.auto.create.topics": False,
            }
        )
        next_check = 0.0
        try:
            while not self._stop.is_set():
                if time.monotonic() >= next_check:
                    try:
                        self._assign(consumer)
                    except Exception as exc:
                        log.info("shop dashboard: cannot list topics: %s", exc)
                    next_check = time.monotonic() + 3.0
                if not self._assigned:
                    self._stop.wait(0.5)
                    continue
                for msg in consumer.consume(500, 0.5):
                    if msg.error() is None:
                        self.apply(str(msg.topic()), msg.value())
        finally:
            consumer.close()

    def _assign(self, consumer: Any) -> None:
        from confluent_kafka import TopicPartition

        md = self.view.metadata()
        keys = [
            (name, int(p))
            for name in TOPICS
            if name in md.topics and md.topics[name].error is None
            for p in md.topics[name].partitions
        ]
        new = [k for k in keys if k not in self._assigned]
        if not new:
            return
        ends = list_offsets(self.view.admin, self.view.settings, new, _offset_spec().latest(), [])
        starts = list_offsets(
            self.view.admin, self.view.settings, new, _offset_spec().earliest(), []
        )
        adds = [
            TopicPartition(t, p, max(ends.get((t, p), 0) - self.backlog, starts.get((t, p), 0)))
            for t, p in new
        ]
        consumer.incremental_assign(adds)
        self._assigned.update(new)

    def apply(self, topic: str, value: bytes | None) -> None:
        """Fold one record into the dashboard (public for unit tests)."""
        try:
            data = json.loads(value or b"")
            if not isinstance(data, dict):
                raise ValueError("not an object")
            with self.lock:
                if topic == REVENUE:
                    start = int(data["window_start"])
                    self.revenue[start] = {
                        "window_start": start,
                        "window_end": int(data["window_end"]),
                        "revenue": float(data["revenue"]),
                        "purchases": int(data["purchases"]),
                    }
                    for old in sorted(self.revenue)[: -self.windows]:
                        del self.revenue[old]
                elif topic == TOP:
                    start = int(data["window_start"])
                    if self.top is None or start >= int(self.top["window_start"]):
                        products: list[dict[str, Any]] = [
                            {"product_id": str(p["product_id"]), "count": int(p["count"])}
                            for p in data["products"]
                        ]
                        products.sort(key=lambda p: -int(p["count"]))
                        self.top = {
                            "window_start": start,
                            "window_end": int(data["window_end"]),
                            "products": products[:10],
                        }
                elif topic == FUNNEL:
                    views, carts = int(data["views"]), int(data["carts"])
                    purchases = int(data["purchases"])
                    self.funnel["sessions"] += 1
                    self.funnel["views"] += views
                    self.funnel["carts"] += carts
                    self.funnel["purchases"] += purchases
                elif topic == FRAUD:
                    self.alerts.appendleft(
                        {
                            "rule": str(data["rule"]),
                            "ts": int(data["ts"]),
                            "user_id": data.get("user_id"),
                            "card": data.get("card"),
                            "details": str(data.get("details", "")),
                        }
                    )
                self.records += 1  # only once the record was understood
        except (ValueError, KeyError, TypeError):
            with self.lock:
                self.skipped += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            revenue = [self.revenue[k] for k in sorted(self.revenue)]
            return {
                "revenue": revenue,
                "top": self.top,
                "funnel": dict(self.funnel),
                "alerts": list(self.alerts)[:20],
                "records": self.records,
                "skipped": self.skipped,
                "topics": sorted({t for t, _ in self._assigned}),
            }
