"""End-to-end: the real e-commerce generator and stream app against a broker while the
console's shop dashboard, open in headless chromium, updates; at the end the page shows
exactly what the app wrote to its output topics.

The app runs as ``riverhead stream run examples/ecommerce/shop_app.py`` (a worker
process); the generator is ``examples/ecommerce/generator.py``'s ``generate``/``produce``
in a thread, with event time 30x faster than the wall clock (as ``make demo`` does), so a
one-minute window passes every two seconds.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.browser.conftest import Console, shot
from tests.integration.test_stream_workers import Run
from tests.support.broker_process import BrokerProcess

pytestmark = [pytest.mark.integration, pytest.mark.browser]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ecommerce"
RATE, SPEEDUP = 200.0, 30.0  # events per wall second; event time per wall time


def read_table(bootstrap: str, topic: str) -> dict[str, dict[str, Any]]:
    """``topic`` (one partition) read to its end as a table: last value per key."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "shop-live-check"})
    try:
        tp = TopicPartition(topic, 0)
        _low, high = c.get_watermark_offsets(tp, timeout=10)
        c.assign([TopicPartition(topic, 0, 0)])
        rows: dict[str, dict[str, Any]] = {}
        seen = 0
        deadline = time.monotonic() + 30
        while seen < high and time.monotonic() < deadline:
            for msg in c.consume(500, 0.5):
                if msg.error() is None:
                    seen = msg.offset() + 1
                    rows[msg.key().decode()] = json.loads(msg.value())
        assert seen >= high, f"{topic}: read {seen} of {high}"
        return rows
    finally:
        c.close()


def points(page: Any) -> int:
    return int(page.locator("#revenue-chart").get_attribute("data-points") or 0)


def test_dashboard_follows_the_real_generator_and_stream_app(
    shop_broker: BrokerProcess, console: Console, page: Any, tmp_path: Path
) -> None:
    sys.path.insert(0, str(EXAMPLE))
    try:
        from generator import generate, produce
        from live import create_topics
    finally:
        sys.path.remove(str(EXAMPLE))
    bootstrap = shop_broker.bootstrap
    create_topics(bootstrap)  # the app's compacted output topics, as make demo does
    app = Run(bootstrap, EXAMPLE / "shop_app.py", 1)
    stop = threading.Event()
    written: list[dict[str, Any]] = []

    def write() -> None:
        events = generate(seed=11, rate=RATE / SPEEDUP, duration=86_400)
        written.extend(produce(bootstrap, "shop-events", events, 4, RATE, stop))

    writer = threading.Thread(target=write, name="generator", daemon=True)
    try:
        writer.start()
        page.goto(console.url + "/shop")
        # Windows fire as event time passes: the chart grows while the generator runs.
        page.wait_for_function(
            "Number(document.getElementById('revenue-chart').getAttribute('data-points')) >= 2",
            timeout=60_000,
        )
        before = points(page)
        shot(page, "shop-live-first-windows")
        page.wait_for_function(
            "Number(document.getElementById('revenue-chart')"
            f".getAttribute('data-points')) > {before}",
            timeout=60_000,
        )
        assert writer.is_alive(), "the page updated while the generator was writing"
        page.wait_for_selector("#top-products tbody tr", timeout=30_000)
        page.wait_for_function(
            "Number(document.getElementById('funnel-sessions').textContent) > 0", timeout=30_000
        )
        shot(page, "shop-live-running")
        stop.set()  # the generator ends with heartbeats: every window fires
        writer.join(60)
        assert not writer.is_alive()
        assert len(written) > 0

        # The page converges on exactly what the app wrote.
        deadline = time.monotonic() + 90
        while True:
            revenue = read_table(bootstrap, "revenue-per-minute")
            alerts = read_table(bootstrap, "fraud-alerts")
            latest = revenue[max(revenue, key=int)] if revenue else None
            shown = page.locator("#latest-revenue").inner_text()
            rows = page.locator("#fraud-alerts tbody tr").count()
            if (
                latest is not None
                and points(page) == len(revenue)
                and shown == f"{latest['revenue']:.2f}"
                and rows == min(20, len(alerts))
                and read_table(bootstrap, "revenue-per-minute") == revenue
            ):
                break
            assert time.monotonic() < deadline, (
                f"page: {points(page)} windows, latest {shown}, {rows} alerts; "
                f"topics: {len(revenue)} windows, latest {latest}, {len(alerts)} alerts"
            )
            time.sleep(1.0)
        assert page.locator("#latest-purchases").inner_text() == str(latest["purchases"])
        # Every purchase the generator wrote on time is in some revenue window.
        on_time = [
            e for e in written if e["type"] == "purchase" and e["ts"] >= min(map(int, revenue))
        ]
        assert sum(r["purchases"] for r in revenue.values()) == len(on_time)
        shot(page, "shop-live-final")
        assert app.stop() == 0, app.lines
    finally:
        stop.set()
        writer.join(60)
        if app.proc.poll() is None:
            app.kill()
