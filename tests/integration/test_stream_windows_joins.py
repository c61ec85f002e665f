"""Joins under ``riverhead stream run`` with 2 workers on the real broker: a stream-stream
join whose two inputs meet through one repartition topic (records of a pair arrive in
both orders), and a stream-table join against a compacted topic read by every worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from tests.integration.test_ecommerce_recovery import group_members, read_table, wait_for
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

APP = '''
from riverhead.stream.dsl import App


def build_topology():
    app = App("jt")
    clicks = app.source("jt-clicks", name="clicks", timestamp=lambda e: e["ts"],
                        max_out_of_orderness=600)
    buys = app.source("jt-buys", name="buys", timestamp=lambda e: e["ts"],
                      max_out_of_orderness=600)
    c = clicks.key_by("click-user", lambda e: e["user"])
    b = buys.key_by("buy-user", lambda e: e["user"])
    (c.join("click-buy", b, within=60, fn=lambda x, y: {"click": x["id"], "buy": y["id"]})
      .to("jt-pairs", key=lambda v: v["click"] + "+" + v["buy"]))
    products = app.table("jt-products")
    (buys.join_table("priced", products, key=lambda e: e["sku"],
                     fn=lambda e, row: {"buy": e["id"], "price": row["price"]})
         .to("jt-priced", key=lambda v: v["buy"]))
    return app.topology()
'''


def produce(bootstrap: str, topic: str, records: list[tuple[str, dict[str, Any]]]) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
    for key, value in records:
        p.produce(topic, key=key, value=json.dumps(value))
    assert p.flush(30) == 0


def test_stream_stream_and_stream_table_joins_across_two_workers(
        broker: BrokerProcess, tmp_path: Path) -> None:
    b = broker.bootstrap
    admin = AdminClient({"bootstrap.servers": b})
    topics = [NewTopic("jt-clicks", 3, -1), NewTopic("jt-buys", 3, -1),
              NewTopic("jt-products", 1, -1, config={"cleanup.policy": "compact"})]
    for fut in admin.create_topics(topics).values():
        fut.result(15)
    produce(b, "jt-products", [("lamp", {"price": 30}), ("mug", {"price": 8}),
                               ("lamp", {"price": 35})])  # the later row wins
    app = tmp_path / "join_app.py"
    app.write_text(APP)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    workers = [subprocess.Popen(
        [sys.executable, "-m", "riverhead.stream.worker", str(app), "--index", str(i),
         "--count", "2", "--brokers", b], stdout=subprocess.DEVNULL,
        stderr=(tmp_path / f"w{i}.log").open("wb"), env=env, start_new_session=True)
        for i in range(2)]
    try:
        wait_for("2 members in each input group", lambda:
                 group_members(b, "jt.clicks") == 2 and group_members(b, "jt.buys") == 2
                 and group_members(b, "jt.click-buy.click-buy.union.default") == 2, 90)
        time.sleep(2)  # the table spouts have read the products by now
        t0 = 1_700_000_000_000
        # users u0..u9: a click and a buy 30 s apart (a pair); the buy is written
        # before the click for odd users (the other arrival order); plus a buy 10 min
        # after the click for u0 (no pair) and a click of a user who never buys
        clicks, buys = [], []
        for i in range(10):
            clicks.append((f"u{i}", {"id": f"c{i}", "user": f"u{i}", "ts": t0 + i * 1000}))
            buy = (f"u{i}", {"id": f"b{i}", "user": f"u{i}", "ts": t0 + i * 1000 + 30_000,
                             "sku": "lamp" if i % 2 else "mug"})
            buys.append(buy)
        buys.append(("u0", {"id": "late-b", "user": "u0", "ts": t0 + 600_000, "sku": "mug"}))
        clicks.append(("u99", {"id": "c99", "user": "u99", "ts": t0}))
        produce(b, "jt-buys", [r for r in buys if int(r[0][1:]) % 2 == 1])
        produce(b, "jt-clicks", clicks)
        produce(b, "jt-buys", [r for r in buys if int(r[0][1:]) % 2 == 0])
        expected_pairs = {f"c{i}+b{i}": {"click": f"c{i}", "buy": f"b{i}"} for i in range(10)}
        expected_prices = {f"b{i}": {"buy": f"b{i}", "price": 35 if i % 2 else 8}
                           for i in range(10)}
        expected_prices["late-b"] = {"buy": "late-b", "price": 8}
        got: dict[str, Any] = {}

        def done() -> bool:
            got["pairs"] = read_table(b, "jt-pairs")
            got["priced"] = read_table(b, "jt-priced")
            return got["pairs"] == expected_pairs and got["priced"] == expected_prices

        try:
            wait_for("the joined records", done, 60)
        except AssertionError:
            print(got)
            raise
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(60)
            except subprocess.TimeoutExpired:
                w.kill()
