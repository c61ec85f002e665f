from __future__ import annotations

import json
from typing import Any

import pytest

from riverhead.console.app import parse_time
from riverhead.console.shop import FRAUD, FUNNEL, REVENUE, TOP, ShopTail

pytestmark = pytest.mark.unit


def _tail() -> ShopTail:
    return ShopTail(view=None, windows=3)  # type: ignore[arg-type]  # apply() needs no cluster


def _j(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def test_revenue_windows_are_replaced_and_bounded() -> None:
    tail = _tail()
    for start, revenue in ((0, 1.0), (60, 2.0), (0, 5.0), (120, 3.0), (180, 4.0)):
        tail.apply(
            REVENUE,
            _j(
                {
                    "window_start": start,
                    "window_end": start + 60,
                    "revenue": revenue,
                    "purchases": 1,
                }
            ),
        )
    snap = tail.snapshot()
    assert [w["window_start"] for w in snap["revenue"]] == [60, 120, 180]  # the last 3
    assert [w["revenue"] for w in snap["revenue"]] == [2.0, 3.0, 4.0]


def test_top_products_keep_the_newest_window_sorted() -> None:
    tail = _tail()
    tail.apply(
        TOP,
        _j(
            {
                "window_start": 60,
                "window_end": 120,
                "products": [{"product_id": "a", "count": 1}, {"product_id": "b", "count": 5}],
            }
        ),
    )
    tail.apply(TOP, _j({"window_start": 0, "window_end": 60, "products": []}))  # older: ignored
    top = tail.snapshot()["top"]
    assert top["window_start"] == 60
    assert [p["product_id"] for p in top["products"]] == ["b", "a"]


def test_funnel_sums_and_alerts_newest_first_and_bad_records_skipped() -> None:
    tail = _tail()
    for views, carts, buys in ((3, 1, 1), (2, 2, 0)):
        tail.apply(
            FUNNEL,
            _j(
                {
                    "session_start": 0,
                    "session_end": 1,
                    "user_id": "u",
                    "views": views,
                    "carts": carts,
                    "purchases": buys,
                }
            ),
        )
    tail.apply(FRAUD, _j({"rule": "r1", "ts": 1, "user_id": None, "card": "c", "details": "d"}))
    tail.apply(FRAUD, _j({"rule": "r2", "ts": 2, "user_id": "u", "card": None, "details": "d"}))
    tail.apply(FUNNEL, b"not json")
    tail.apply(REVENUE, _j({"window_start": 0}))  # missing fields
    tail.apply(FRAUD, b"[1, 2]")
    snap = tail.snapshot()
    assert snap["funnel"] == {"sessions": 2, "views": 5, "carts": 3, "purchases": 1}
    assert [a["rule"] for a in snap["alerts"]] == ["r2", "r1"]
    assert snap["skipped"] == 3 and snap["records"] == 4


def test_parse_time() -> None:
    assert parse_time("1700000000000") == 1_700_000_000_000
    assert parse_time("2023-11-14T22:13:20") == 1_700_000_000_000
    assert parse_time("2023-11-14T23:13:20+01:00") == 1_700_000_000_000
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("yesterday")
