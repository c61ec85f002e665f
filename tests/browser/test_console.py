"""End-to-end: every console page against a live broker with data, in headless chromium."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from riverhead.tracing import TRACEPARENT, TraceContext
from tests.browser.conftest import Console, shot
from tests.support.broker_process import BrokerProcess

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def _create(broker: BrokerProcess, *topics: tuple[str, int]) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fresh = [
        NewTopic(name, n, 1)
        for name, n in topics
        if name not in admin.list_topics(timeout=5).topics
    ]
    if fresh:
        for future in admin.create_topics(fresh).values():
            future.result(10)


def _producer(broker: BrokerProcess) -> Producer:
    return Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})


def _exists(broker: BrokerProcess, topic: str) -> bool:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    return topic in admin.list_topics(timeout=5).topics


def test_overview_shows_brokers_and_partitions(
    shop_broker: BrokerProcess, console: Console, page: Any
) -> None:
    _create(shop_broker, ("orders", 3))
    p = _producer(shop_broker)
    for i in range(30):
        p.produce("orders", key=f"user-{i % 5}", value=json.dumps({"order": i}).encode())
    assert p.flush(10) == 0
    page.goto(console.url + "/")
    assert page.locator("#broker-count").inner_text() == "1"
    assert page.locator("#controller").inner_text() == "0"
    rows = page.locator("table.partitions tr[data-topic='orders']")
    assert rows.count() == 3
    assert page.locator("#under-count").inner_text() == "0"
    ends = [int(rows.nth(i).locator("td").nth(6).inner_text()) for i in range(3)]
    assert sum(ends) == 30


def test_topics_create_browse_configs_and_delete(
    shop_broker: BrokerProcess, console: Console, page: Any
) -> None:
    page.goto(console.url + "/topics")
    page.fill("#create-topic input[name=name]", "made-in-browser")
    page.fill("#create-topic input[name=partitions]", "2")
    page.click("#create-topic button")
    page.wait_for_url(re.compile(r".*/topics/made-in-browser$"))
    assert page.locator("#topic-name").inner_text() == "made-in-browser"
    assert page.locator("table.partitions tbody tr").count() == 2
    assert "retention.ms" in page.locator("#configs").inner_text()
    shot(page, "topic-page")
    assert _exists(shop_broker, "made-in-browser")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#delete-topic button")
    page.wait_for_url(re.compile(r".*/topics\?deleted=made-in-browser$"))
    assert "Deleted topic made-in-browser" in page.locator("#notice").inner_text()
    assert not _exists(shop_broker, "made-in-browser")


def test_message_browser_finds_a_record_by_value_and_follows_its_trace(
    shop_broker: BrokerProcess, console: Console, page: Any
) -> None:
    _create(shop_broker, ("clicks", 2), ("purchases", 1))
    root = TraceContext.new()
    child = root.child()
    p = _producer(shop_broker)
    for i in range(300):
        p.produce("clicks", key=f"k{i}", value=json.dumps({"n": i, "page": f"/p/{i}"}).encode())
    p.produce(
        "clicks",
        key="needle-key",
        value=json.dumps({"n": -1, "page": "/needle-xyz"}).encode(),
        headers=[(TRACEPARENT, root.format().encode()), ("source", b"browser-test")],
    )
    p.produce(
        "purchases",
        key="needle-key",
        value=json.dumps({"item": "book", "price": 12.5}).encode(),
        headers=[(TRACEPARENT, child.format().encode())],
    )
    for i in range(300, 400):
        p.produce("clicks", key=f"k{i}", value=json.dumps({"n": i}).encode())
    assert p.flush(10) == 0

    page.goto(console.url + "/topics/clicks/messages")
    assert page.locator("tr.record").count() == 50  # the newest 50
    page.fill("#browse input[name=value]", "needle-xyz")
    page.click("#browse button")
    page.wait_for_load_state()
    rows = page.locator("tr.record")
    assert rows.count() == 1
    row = rows.first
    assert row.locator("td.key").inner_text() == "needle-key"
    pretty = row.locator("pre.json").inner_text()
    assert json.loads(pretty) == {"n": -1, "page": "/needle-xyz"}
    assert "\n" in pretty  # pretty-printed, not one line
    assert "source: browser-test" in row.locator("td.headers").inner_text()
    shot(page, "message-browser-filtered")

    row.locator("a.trace-link").click()
    page.wait_for_url(re.compile(rf".*/trace/{root.trace_id}$"))
    spans = page.locator("tr.span")
    assert spans.count() == 2
    assert [spans.nth(i).get_attribute("data-topic") for i in range(2)] == ["clicks", "purchases"]
    text = page.locator("#trace").inner_text()
    assert root.span_id in text and child.span_id in text


def test_message_browser_from_offset_and_by_header(
    shop_broker: BrokerProcess, console: Console, page: Any
) -> None:
    _create(shop_broker, ("clicks", 2), ("purchases", 1))
    page.goto(console.url + "/topics/purchases/messages?partition=0&offset=0&limit=5")
    assert page.locator("tr.record").first.get_attribute("data-offset") == "0"
    page.goto(console.url + "/topics/clicks/messages?header=source%3Dbrowser-test")
    assert page.locator("tr.record").count() == 1


def test_message_browser_from_a_time(
    shop_broker: BrokerProcess, console: Console, page: Any
) -> None:
    _create(shop_broker, ("timed", 1))
    p = _producer(shop_broker)
    base = 1_700_000_000_000
    for i in range(10):
        p.produce("timed", value=b"at %d" % i, partition=0, timestamp=base + i * 60_000)
    assert p.flush(10) == 0
    page.goto(console.url + "/topics/timed/messages")
    page.fill("#browse input[name=time]", "2023-11-14T22:16:20")  # base + 3 minutes
    page.click("#browse button")
    page.wait_for_load_state()
    rows = page.locator("tr.record")
    assert rows.count() == 7
    assert rows.first.get_attribute("data-offset") == "3"
    assert rows.first.locator("td.time").inner_text() == "2023-11-14 22:16:20.000Z"
    page.goto(console.url + "/topics/timed/messages?time=yesterday")
    assert "INVALID_ARGUMENT" in page.locator("#error").inner_text()


def test_groups_page_shows_the_lag_and_resets_offsets(
    shop_broker: BrokerProcess, console: Console, page: Any
) -> None:
    _create(shop_broker, ("payments", 2))
    p = _producer(shop_broker)
    for i in range(40):
        p.produce("payments", value=b"%d" % i, partition=i % 2)  # 20 per partition
    assert p.flush(10) == 0
    c = Consumer({"bootstrap.servers": shop_broker.bootstrap, "group.id": "billing"})
    c.commit(
        offsets=[TopicPartition("payments", 0, 5), TopicPartition("payments", 1, 18)],
        asynchronous=False,
    )
    c.close()

    page.goto(console.url + "/groups")
    assert page.locator("tr[data-group=billing] td.lag").inner_text() == "17"
    page.click("tr[data-group=billing] a")
    page.wait_for_url(re.compile(r".*/groups/billing$"))
    lags = {
        page.locator("#lag tbody tr").nth(i).get_attribute("data-partition"): page.locator(
            "#lag tbody tr"
        )
        .nth(i)
        .locator("td.lag")
        .inner_text()
        for i in range(page.locator("#lag tbody tr").count())
    }
    assert lags == {"0": "15", "1": "2"}
    # The lag-over-time chart fills from the console's samples.
    page.wait_for_function(
        "(document.querySelector(\"#lag-chart polyline[data-series='total lag']\")"
        " || {getAttribute: () => ''}).getAttribute('points').split(' ').length >= 3",
        timeout=15000,
    )
    assert page.locator("#lag-chart polyline[data-series='payments-0']").count() == 1
    assert "payments-1 2" in page.locator("#lag-legend").inner_text()  # per partition lag
    shot(page, "group-page")
    page.fill("#reset-offsets input[name=to]", "latest")
    page.click("#reset-offsets button")
    page.wait_for_url(re.compile(r".*/groups/billing\?reset=payments$"))
    assert page.locator("#total-lag").inner_text() == "0"


def test_read_only_console_refuses_a_delete_on_the_server(
    shop_broker: BrokerProcess, read_only_console: Console, page: Any
) -> None:
    _create(shop_broker, ("keep-me", 1))
    page.goto(read_only_console.url + "/topics/keep-me")
    assert page.locator("#read-only").is_visible()
    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda r: r.url.endswith("/topics/keep-me/delete")) as info:
        page.click("#delete-topic button")
    assert info.value.status == 403
    message = page.locator("#error").inner_text()
    assert "READ_ONLY" in message and "--read-only" in message and "keep-me" in message
    assert _exists(shop_broker, "keep-me")
    # Not just the page: a direct POST is refused too.
    status = page.evaluate(
        "fetch('/topics', {method: 'POST', body: new URLSearchParams({name: 'sneaky'})})"
        ".then(r => r.status)"
    )
    assert status == 403
    assert not _exists(shop_broker, "sneaky")


def test_throughput_page_charts_live_traffic(
    shop_broker: BrokerProcess, console: Console, page: Any
) -> None:
    _create(shop_broker, ("ticks", 1))
    stop = threading.Event()

    def generate() -> None:
        p = _producer(shop_broker)
        while not stop.is_set():
            for _ in range(20):
                p.produce("ticks", value=b"tick")
            p.flush(5)
            time.sleep(0.1)

    worker = threading.Thread(target=generate, daemon=True)
    worker.start()
    try:
        page.goto(console.url + "/throughput")
        page.wait_for_selector("#topic-chart polyline[data-series=ticks]", timeout=20000)
        page.wait_for_function(
            "document.getElementById('topic-legend').textContent.includes('ticks')"
        )
        # Broker byte rates come from the broker's own /metrics.
        page.wait_for_selector("#broker-chart polyline[data-series='broker 0 bytes in']")
    finally:
        stop.set()
        worker.join(10)


def _window(start: int, revenue: float, purchases: int) -> bytes:
    return json.dumps(
        {
            "window_start": start,
            "window_end": start + 60_000,
            "revenue": revenue,
            "purchases": purchases,
        }
    ).encode()


def test_shop_dashboard_updates_while_events_arrive(
    shop_broker: BrokerProcess, console: Console, page: Any
) -> None:
    _create(
        shop_broker,
        ("revenue-per-minute", 1),
        ("top-products", 1),
        ("funnel", 1),
        ("fraud-alerts", 1),
    )
    base = 1_700_000_000_000
    p = _producer(shop_broker)
    for i in range(3):
        p.produce("revenue-per-minute", value=_window(base + i * 60_000, 100.0 + i, 3 + i))
    p.produce(
        "top-products",
        value=json.dumps(
            {
                "window_start": base,
                "window_end": base + 60_000,
                "products": [{"product_id": "p-7", "count": 4}, {"product_id": "p-2", "count": 9}],
            }
        ).encode(),
    )
    for views, carts, buys in ((5, 2, 1), (3, 1, 0)):
        p.produce(
            "funnel",
            value=json.dumps(
                {
                    "session_start": base,
                    "session_end": base + 1,
                    "user_id": "u",
                    "views": views,
                    "carts": carts,
                    "purchases": buys,
                }
            ).encode(),
        )
    p.produce("funnel", value=b"not json")  # skipped, never breaks the page
    assert p.flush(10) == 0

    page.goto(console.url + "/shop")
    page.wait_for_function("document.getElementById('latest-revenue').textContent === '102.00'")
    assert page.locator("#latest-purchases").inner_text() == "5"
    assert page.locator("#revenue-chart").get_attribute("data-points") == "3"
    top = page.locator("#top-products tbody tr")
    assert top.count() == 2
    assert top.first.inner_text().split() == ["1", "p-2", "9"]  # ordered by count
    assert page.locator("#funnel tbody").inner_text().split() == [
        "views",
        "8",
        "carts",
        "3",
        "37.5%",
        "purchases",
        "1",
        "33.3%",
    ]
    assert page.locator("#funnel-sessions").inner_text() == "2"
    shot(page, "shop-before")

    # The generator keeps running: new windows, an update of the last one, an alert.
    stop = threading.Event()

    def generate() -> None:
        q = _producer(shop_broker)
        n = 3
        while not stop.is_set() and n < 8:
            q.produce("revenue-per-minute", value=_window(base + n * 60_000, 200.0 + n, 10))
            q.flush(5)
            n += 1
            time.sleep(0.2)
        q.produce(
            "fraud-alerts",
            value=json.dumps(
                {
                    "rule": "velocity",
                    "ts": base,
                    "user_id": "u-9",
                    "card": None,
                    "details": "12 purchases in 60 s",
                }
            ).encode(),
        )
        q.flush(5)

    worker = threading.Thread(target=generate, daemon=True)
    worker.start()
    try:
        page.wait_for_function(
            "document.getElementById('revenue-chart').getAttribute('data-points') === '8'",
            timeout=20000,
        )
        page.wait_for_selector("#fraud-alerts tbody tr")
        alert = page.locator("#fraud-alerts tbody tr").first.inner_text()
        assert "velocity" in alert and "u-9" in alert and "12 purchases in 60 s" in alert
        assert page.locator("#latest-revenue").inner_text() == "207.00"
    finally:
        stop.set()
        worker.join(10)


def test_group_with_a_live_member_shows_its_assignment_and_refuses_a_reset(
    shop_broker: BrokerProcess, console: Console, page: Any
) -> None:
    _create(shop_broker, ("shipments", 2))
    stop = threading.Event()
    joined = threading.Event()

    def member() -> None:
        c = Consumer(
            {
                "bootstrap.servers": shop_broker.bootstrap,
                "group.id": "shippers",
                "client.id": "shipper-1",
                "session.timeout.ms": 6000,
            }
        )
        c.subscribe(["shipments"], on_assign=lambda _c, _parts: joined.set())
        while not stop.is_set():
            c.poll(0.2)
        c.close()

    worker = threading.Thread(target=member, daemon=True)
    worker.start()
    try:
        assert joined.wait(30), "the consumer never got its assignment"
        page.goto(console.url + "/groups/shippers")
        page.wait_for_function("document.getElementById('group-state').textContent === 'Stable'")
        row = page.locator("#members tbody tr")
        assert row.count() == 1
        cells = row.first.inner_text()
        assert "shipper-1" in cells and "shipments-0" in cells and "shipments-1" in cells
        page.click("#reset-offsets button")
        assert "NON_EMPTY_GROUP" in page.locator("#error").inner_text()
        shot(page, "group-reset-refused")
    finally:
        stop.set()
        worker.join(15)
