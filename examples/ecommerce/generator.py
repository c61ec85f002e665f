"""Live shop events for the stream app: sessions, skew, disorder, late data and fraud.

``python examples/ecommerce/generator.py --brokers HOST:PORT [--rate 200] [--duration 60]
[--seed 7] [--topic shop-events] [--partitions 4] [--no-pace]`` writes JSON events keyed
by ``user_id`` (so a shopper's events stay in order on one partition)::

    {"event_id": 17, "type": "view" | "add_to_cart" | "purchase", "user_id": "u0042",
     "product_id": "p017", "price": 24.5, "quantity": 1, "card": "c-u0042" | null,
     "ts": 1709283601234}

``ts`` is event time in ms. The stream is deterministic for a seed, rate and duration
(:func:`generate`): event time advances ``1000 / rate`` ms per event on average from a
fixed start (2024-03-01 09:00 UTC), independent of how fast records are written
(``--no-pace`` writes as fast as possible; otherwise at ``--rate`` per second).

* **Sessions**: a shopper views 1-8 products, may add some to the cart, may buy (one
  purchase per session, of the cart); sessions of many shoppers interleave.
* **Skew**: shoppers and products are Zipf-distributed (a few are very popular).
* **Disorder**: 5 % of views and cart additions carry a time up to 3 s in the past
  (within the app's 5 s out-of-orderness bound: never late).
* **Late data**: 0.2 % of events (after the first 200) are a day old (a phone flushing a
  stale buffer): beyond any allowed lateness, they go to the app's late side output.
* **Fraud**: now and then a *burst* (one shopper buying 7 times in about 8 s) and a
  *shared card* (one card used by 3-4 shoppers within 40 s).

At the end one ``{"type": "heartbeat", "ts": last + 10 min}`` per partition moves every
partition's watermark past all windows (end of input), so the app's last windows fire.
Purchases are never delayed, so fraud windows only ever fire once.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

START_MS = 1_709_283_600_000  # 2024-03-01T09:00:00Z
DAY_MS = 86_400_000
USERS = [f"u{i:04d}" for i in range(2000)]
PRODUCTS = {f"p{i:03d}": round(3 + (i * 37 % 200) + (i % 4) * 0.25, 2) for i in range(200)}
PRODUCT_IDS = sorted(PRODUCTS)


def _zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1 / (i + 1) ** s for i in range(n)]


@dataclass
class Session:
    user: str
    views_left: int
    cart: dict[str, int] = field(default_factory=dict)
    viewed: list[str] = field(default_factory=list)
    buys: bool = False


def generate(seed: int = 7, rate: float = 200.0, duration: float = 60.0
             ) -> Iterator[dict[str, Any]]:
    """The events, in write order (deterministic for the arguments), heartbeat excluded."""
    rng = random.Random(seed)
    total = int(rate * duration)
    step = 1000.0 / rate
    user_w = _zipf_weights(len(USERS), 0.8)
    prod_w = _zipf_weights(len(PRODUCT_IDS))
    sessions: list[Session] = []
    clock = float(START_MS)
    pending: list[dict[str, Any]] = []  # fraud events waiting for their time
    n = 0

    def event(kind: str, user: str, product: str, ts: int, qty: int = 1,
              card: str | None = None) -> dict[str, Any]:
        return {"event_id": n + 1, "type": kind, "user_id": user, "product_id": product,
                "price": PRODUCTS[product], "quantity": qty, "card": card, "ts": ts}

    while n < total:
        clock += rng.expovariate(1.0 / step)
        now = int(clock)
        if pending and pending[0]["ts"] <= now:
            e = pending.pop(0)
            e["event_id"] = n + 1
            n += 1
            yield e
            continue
        roll = rng.random()
        if roll < 0.0015 and n > 200 and not pending:
            user = rng.choice(USERS)  # a burst: 7 purchases in about 8 s
            pending = [event("purchase", user, rng.choice(PRODUCT_IDS), now + i * 1150 + 50,
                             card=f"c-{user}") for i in range(7)]
            continue
        if roll < 0.003 and n > 200 and not pending:
            card = f"c-stolen-{n}"  # one card, 3-4 shoppers, within 40 s
            users = rng.sample(USERS, rng.choice([3, 4]))
            pending = [event("purchase", u, rng.choice(PRODUCT_IDS), now + i * 9_000 + 100,
                             card=card) for i, u in enumerate(users)]
            continue
        if len(sessions) < 40 or rng.random() < 0.05:
            user = rng.choices(USERS, user_w)[0]
            if not any(s.user == user for s in sessions):
                sessions.append(Session(user, rng.randint(1, 8), buys=rng.random() < 0.3))
        s = rng.choice(sessions)
        if s.views_left > 0:
            product = rng.choices(PRODUCT_IDS, prod_w)[0]
            s.viewed.append(product)
            s.views_left -= 1
            e = event("view", s.user, product, now)
            if rng.random() < 0.4:
                s.cart[product] = s.cart.get(product, 0) + 1
                s.views_left = max(s.views_left, 1)
                pending_cart = event("add_to_cart", s.user, product, now)
                e = pending_cart if rng.random() < 0.5 else e
        elif s.cart and s.buys:
            product = sorted(s.cart)[0]
            e = event("purchase", s.user, product, now, qty=sum(s.cart.values()),
                      card=f"c-{s.user}")
            sessions.remove(s)
        else:
            sessions.remove(s)
            continue
        if e["type"] != "purchase":
            if rng.random() < 0.05:
                e["ts"] = now - rng.randint(1, 3000)  # out of order, within bounds
            elif n > 200 and rng.random() < 0.002:
                e["ts"] = now - DAY_MS  # a day late
        n += 1
        yield e


def is_day_late(event: dict[str, Any]) -> bool:
    """Ground truth: the generator's day-old events (beyond any allowed lateness)."""
    return bool(event["ts"] < START_MS - DAY_MS // 2)


def heartbeat_ts(events: list[dict[str, Any]]) -> int:
    return max(e["ts"] for e in events) + 600_000


def produce(brokers: str, topic: str, events: Iterator[dict[str, Any]], partitions: int,
            rate: float | None, stop: threading.Event | None = None) -> list[dict[str, Any]]:
    """Write ``events`` (paced at ``rate`` per second unless None) until they end or
    ``stop`` is set, then one heartbeat per partition; returns the events written. The
    topic is created with ``partitions`` unless it exists."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": brokers})
    fut = admin.create_topics([NewTopic(topic, partitions, -1)])[topic]
    try:
        fut.result(15)
    except Exception as exc:  # an existing topic is fine
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise
    md = admin.list_topics(topic, timeout=10).topics[topic]
    partitions = len(md.partitions) or partitions  # an existing topic keeps its count
    producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True,
                         "linger.ms": 5, "partitioner": "murmur2_random"})
    written: list[dict[str, Any]] = []
    started = time.monotonic()
    for e in events:
        if stop is not None and stop.is_set():
            break
        if rate:
            ahead = len(written) / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        while True:
            try:
                producer.produce(topic, key=e["user_id"], value=json.dumps(e))
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        written.append(e)
    beat = {"type": "heartbeat", "ts": heartbeat_ts(written) if written else START_MS}
    for p in range(partitions):
        producer.produce(topic, value=json.dumps(beat), partition=p)
    if producer.flush(30):
        raise RuntimeError("some events were not acknowledged by the broker")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--brokers", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="shop-events")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of events")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-pace", action="store_true", help="write as fast as possible")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0:
        print("error: --rate and --duration must be > 0", file=sys.stderr)
        return 2
    events = generate(args.seed, args.rate, args.duration)
    written = produce(args.brokers, args.topic, events, args.partitions,
                      None if args.no_pace else args.rate)
    print(f"wrote {len(written)} events to {args.topic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
