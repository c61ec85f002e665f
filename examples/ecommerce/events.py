"""Seeded sample e-commerce events: shoppers viewing products, adding to carts, buying.

:func:`generate_events` is deterministic for a given seed (``random.Random(seed)``, a
fixed start time), so the demo prints the same story every run. Each event is a JSON
object keyed by its user id, so all of one shopper's events land on one partition and
stay in order::

    {"event_id": 7, "type": "add_to_cart", "user_id": "carol", "product_id": "sku-104",
     "product": "Trail running shoes", "price": 89.0, "quantity": 1,
     "ts": "2024-03-01T09:00:41Z"}

A ``purchase`` carries the order ``amount`` (sum of price x quantity over the cart) and
the ``items`` bought, and empties that shopper's cart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC)

PRODUCTS: dict[str, tuple[str, float]] = {
    "sku-101": ("Espresso beans 1kg", 24.5),
    "sku-102": ("Ceramic pour-over", 31.0),
    "sku-103": ("Wool socks (3-pack)", 18.0),
    "sku-104": ("Trail running shoes", 89.0),
    "sku-105": ("Insulated bottle", 27.5),
    "sku-106": ("Headlamp", 42.0),
    "sku-107": ("Rain jacket", 129.0),
}
# Keys hash (murmur2, as Java clients and `riverhead topic produce` do) two to each of
# the demo's 3 partitions.
USERS = ["alice", "bob", "carol", "dave", "erin", "frank"]


@dataclass
class Shopper:
    cart: dict[str, int] = field(default_factory=dict)
    viewed: list[str] = field(default_factory=list)


def generate_events(count: int = 50, seed: int = 42) -> list[dict[str, Any]]:
    """``count`` events telling a plausible story: views, cart additions, purchases."""
    rng = random.Random(seed)
    shoppers = {user: Shopper() for user in USERS}
    clock = START
    events: list[dict[str, Any]] = []
    while len(events) < count:
        user = rng.choice(USERS)
        shopper = shoppers[user]
        clock += timedelta(seconds=rng.randint(3, 40))
        event: dict[str, Any] = {"event_id": len(events) + 1, "user_id": user}
        roll = rng.random()
        if shopper.cart and roll < 0.25:
            cart = sorted(shopper.cart.items())
            items = [
                {"product_id": sku, "quantity": qty, "price": PRODUCTS[sku][1]} for sku, qty in cart
            ]
            amount = round(sum(PRODUCTS[sku][1] * qty for sku, qty in cart), 2)
            event |= {"type": "purchase", "items": items, "amount": amount}
            shopper.cart.clear()
        elif shopper.viewed and roll < 0.6:
            sku = rng.choice(shopper.viewed)
            qty = rng.choice([1, 1, 1, 2])
            shopper.cart[sku] = shopper.cart.get(sku, 0) + qty
            name, price = PRODUCTS[sku]
            event |= {
                "type": "add_to_cart",
                "product_id": sku,
                "product": name,
                "price": price,
                "quantity": qty,
            }
        else:
            sku = rng.choice(sorted(PRODUCTS))
            shopper.viewed.append(sku)
            name, price = PRODUCTS[sku]
            event |= {"type": "view", "product_id": sku, "product": name, "price": price}
        event["ts"] = clock.strftime("%Y-%m-%dT%H:%M:%SZ")
        events.append(event)
    return events


def as_produce_lines(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events as ``riverhead topic produce --format json`` input objects."""
    return [{"key": e["user_id"], "value": e, "headers": {"event-type": e["type"]}} for e in events]
