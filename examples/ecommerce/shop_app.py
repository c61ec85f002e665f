"""The e-commerce stream app: revenue, best sellers, funnels and fraud, live.

Run it with ``riverhead stream run examples/ecommerce/shop_app.py --workers 2
-X BROKERS`` while :mod:`generator` writes ``shop-events``. It reads JSON events
(event time ``ts`` in ms, 5 s out-of-orderness, 60 s allowed lateness) and writes:

``revenue-per-minute`` (key: window start)
    ``{"window_start": ms, "window_end": ms, "revenue": float, "purchases": int}`` —
    1-minute tumbling windows over purchases (``price * quantity``, summed in cents so
    the result does not depend on arrival order).
``top-products`` (key: window start)
    ``{"window_start", "window_end", "products": [{"product_id": str, "count": int}]}``
    — the 10 most purchased products per 5-minute window, every minute (ties by id).
``funnel`` (key: ``user:session_start``)
    ``{"session_start", "session_end", "user_id", "views", "carts", "purchases"}`` — per
    shopper session (30 s inactivity gap).
``fraud-alerts`` (key: ``rule:who:ts``)
    ``{"rule", "ts", "user_id", "card", "details"}`` — rule ``burst``: more than 5
    purchases by one user in a 10 s window (hopping every second); rule
    ``shared-card``: one card used by 3 or more users in a 60 s window (every 10 s).
    ``ts`` is the window end.
``shop-events.late``
    events too late for their windows (the side outputs), unchanged.

Stateful steps keep standby copies of the partitions other workers own, so a worker that
takes over a dead one's partitions reads only the changelogs' tails.

Every output is keyed so a re-emitted window (after a crash, or an update from late
data) replaces the earlier record: read the topics as tables (last value per key).
"""

from __future__ import annotations

import os
from typing import Any

from riverhead.stream import Topology
from riverhead.stream.aggregations import aggregate, count, distinct_count, top_k
from riverhead.stream.dsl import App
from riverhead.stream.windows import hopping, session, tumbling

TYPES = ("view", "add_to_cart", "purchase")
OUT_OF_ORDERNESS = 5.0
LATENESS = 60.0


def _revenue(acc: list[int], e: dict[str, Any]) -> list[int]:
    return [acc[0] + round(e["price"] * 100) * e["quantity"], acc[1] + 1]


def _funnel(acc: list[int], e: dict[str, Any]) -> list[int]:
    acc[TYPES.index(e["type"])] += 1
    return acc


def _add_lists(a: list[int], b: list[int]) -> list[int]:
    return [x + y for x, y in zip(a, b, strict=True)]


def build_app(name: str = "shop-analytics", brokers: str | None = None,
              topic: str = "shop-events", items: list[Any] | None = None) -> App:
    app = App(name, brokers or os.environ.get("SHOP_BROKERS"), idle_timeout=30.0,
              capture=items is not None, standby=True)
    events = app.source(topic, name="events", timestamp=lambda e: e["ts"],
                        max_out_of_orderness=OUT_OF_ORDERNESS, items=items)
    activity = events.filter("activity", lambda e: e.get("type") in TYPES)
    purchases = activity.filter("purchases", lambda e: e["type"] == "purchase")

    revenue = (purchases.key_by("revenue.all", lambda e: "all")
               .window("revenue.minute", tumbling(seconds=60), allowed_lateness=LATENESS)
               .aggregate("revenue", aggregate(lambda: [0, 0], _revenue,
                                               lambda a, b: [a[0] + b[0], a[1] + b[1]])))
    revenue.map("revenue.out", lambda r: {
        "window_start": r["window_start"], "window_end": r["window_end"],
        "revenue": r["result"][0] / 100, "purchases": r["result"][1],
    }).to("revenue-per-minute", key=lambda v: str(v["window_start"]))

    top = (purchases.key_by("top.all", lambda e: "all")
           .window("top.5min", hopping(seconds=300, every=60), allowed_lateness=LATENESS)
           .aggregate("top", top_k(10, lambda e: e["product_id"])))
    top.map("top.out", lambda r: {
        "window_start": r["window_start"], "window_end": r["window_end"],
        "products": [{"product_id": p, "count": n} for p, n in r["result"]],
    }).to("top-products", key=lambda v: str(v["window_start"]))

    funnel = (activity.key_by("funnel.user", lambda e: e["user_id"])
              .window("funnel.session", session(gap=30), allowed_lateness=LATENESS)
              .aggregate("funnel", aggregate(lambda: [0, 0, 0], _funnel, _add_lists)))
    funnel.map("funnel.out", lambda r: {
        "session_start": r["window_start"], "session_end": r["window_end"],
        "user_id": r["key"], "views": r["result"][0], "carts": r["result"][1],
        "purchases": r["result"][2],
    }).to("funnel", key=lambda v: f"{v['user_id']}:{v['session_start']}")

    burst = (purchases.key_by("burst.user", lambda e: e["user_id"])
             .window("burst.10s", hopping(seconds=10, every=1), allowed_lateness=LATENESS)
             .aggregate("burst", count()))
    burst.filter("burst.over", lambda r: r["result"] > 5).map("burst.alert", lambda r: {
        "rule": "burst", "ts": r["window_end"], "user_id": r["key"], "card": None,
        "details": f"{r['result']} purchases in 10 s",
    }).to("fraud-alerts", name="burst.write", key=lambda v: f"burst:{v['user_id']}:{v['ts']}")

    card = (purchases.key_by("card.card", lambda e: e["card"])
            .window("card.60s", hopping(seconds=60, every=10), allowed_lateness=LATENESS)
            .aggregate("card", distinct_count(lambda e: e["user_id"])))
    card.filter("card.over", lambda r: r["result"] >= 3).map("card.alert", lambda r: {
        "rule": "shared-card", "ts": r["window_end"], "user_id": None, "card": r["key"],
        "details": f"{r['result']} users in 60 s",
    }).to("fraud-alerts", name="card.write", key=lambda v: f"shared-card:{v['card']}:{v['ts']}")

    for step in (revenue, top, funnel, burst, card):
        step.late().to("shop-events.late", name=f"{step.name}.late")
    return app


def build_topology() -> Topology:
    """For ``riverhead stream run``."""
    return build_app().topology()
