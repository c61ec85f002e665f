"""Micro-batches through the DSL: the same results as record at a time (no broker)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from riverhead.stream.aggregations import count, sum_of, top_k
from riverhead.stream.dsl import App
from riverhead.stream.microbatch import PlaceMemo, select, split
from riverhead.stream.windows import hopping, session, tumbling

pytestmark = pytest.mark.unit


def _events(n: int, seed: int = 3) -> list[dict[str, Any]]:
    """Shop-like events, event time +100 ms each, up to 2 s out of order."""
    rng = random.Random(seed)
    kinds = ["view"] * 6 + ["cart"] * 2 + ["buy"]
    return [{"u": f"u{rng.randrange(12)}", "p": f"p{rng.randrange(5)}",
             "type": rng.choice(kinds), "price": rng.randrange(1, 50),
             "tags": ["x", "y"][: rng.randrange(3)],
             "ts": i * 100 - rng.randrange(2000)} for i in range(n)]


def _app(batch: int, events: list[dict[str, Any]]) -> dict[str, list[Any]]:
    app = App("mb", batch_size=batch, capture=True)
    prices = app.table("prices", items=[(f"p{i}", {"list": 10 * i}) for i in range(4)])
    src = app.source("ev", items=events, timestamp=lambda e: e["ts"],
                     max_out_of_orderness=2, partitions=2)
    buys = src.filter("buys", lambda e: e["type"] == "buy")
    (buys.key_by("buys-by-product", lambda e: e["p"])
         .window("revenue", tumbling(seconds=10), allowed_lateness=1)
         .aggregate("revenue-sum", sum_of(lambda e: e["price"]))
         .map("revenue-row", lambda r: (r["key"], r["window_start"], r["result"]))
         .collect("revenue"))
    (src.key_by("by-product", lambda e: e["p"])
        .window("top", hopping(seconds=20, every=5))
        .aggregate("top-users", top_k(2, lambda e: e["u"]))
        .map("top-row", lambda r: (r["key"], r["window_start"], r["result"]))
        .collect("top"))
    (src.flat_map("tag-items", lambda e: [{**e, "tag": t} for t in e["tags"]])
        .key_by("by-tag", lambda e: e["tag"])
        .window("tag-sessions", session(gap=3))
        .aggregate("tag-count", count())
        .map("tag-row", lambda r: (r["key"], r["window_start"], r["window_end"], r["result"]))
        .collect("tags"))
    views = src.filter("views", lambda e: e["type"] == "view").key_by("v-by-u", lambda e: e["u"])
    carts = src.filter("carts", lambda e: e["type"] == "cart").key_by("c-by-u", lambda e: e["u"])
    views.join("view-cart", carts, within=1, fn=lambda v, c: (v["ts"], c["ts"])).collect("pairs")
    (src.join_table("listed", prices, key=lambda e: e["p"],
                    fn=lambda e, row: (e["ts"], row["list"]))
        .to("listed", key=lambda pair: pair[0]))
    return app.run()


@pytest.mark.parametrize("batch", [2, 7, 64, 1000])
def test_every_step_gives_the_record_at_a_time_results(batch: int) -> None:
    """In-bound disorder, two partitions: windows (tumbling, hopping, session), filters,
    maps, flat_map, a stream-stream join, a table join and a keyed sink give the same
    results with micro-batches of any size as one record at a time."""
    events = _events(600)
    one = _app(1, events)
    many = _app(batch, events)
    assert set(one) == {"revenue", "top", "tags", "pairs", "listed"}
    for name in ("revenue", "top", "tags"):  # the last result of each window
        # (watermarks move between batches, so *updates* after in-lateness records
        # may come at other times or fold into the first result; finals are equal)
        final = {row[:-1]: row[-1] for row in one[name]}
        assert final and {row[:-1]: row[-1] for row in many[name]} == final, name
    for name in ("pairs", "listed"):
        assert one[name] and sorted(map(repr, many[name])) == sorted(map(repr, one[name]))


@pytest.mark.parametrize("batch", [1, 3, 100])
def test_flat_map_items_are_not_taken_for_replays(batch: int) -> None:
    """Items of one record share its offset: each travels with its own sub-offset, or a
    window would skip the second item of a record as a replay."""
    app = App("fm", batch_size=batch)
    src = app.source("t", items=[{"ts": i * 10, "words": ["a", "b", "a"]} for i in range(5)],
                     timestamp=lambda e: e["ts"])
    rows = (src.flat_map("split", lambda e: e["words"]).key_by("w", lambda w: w)
            .window("win", tumbling(seconds=1)).aggregate("n", count()).collect("out"))
    app.run()
    assert sorted((r["key"], r["result"]) for r in rows) == [("a", 10), ("b", 5)]


def test_columns_select_and_split() -> None:
    cols = [["k1", "k2", "k3"], [1, 2, 3], [10, 20, 30], [5, 6, 7]]
    assert select(cols, [True, False, 1]) == [["k1", "k3"], [1, 3], [10, 30], [5, 7]]
    parts = split(cols, [1, 0, 1])
    assert parts == {1: [["k1", "k3"], [1, 3], [10, 30], [5, 7]], 0: [["k2"], [2], [20], [6]]}
    assert split(cols, [4, 4, 4]) == {4: cols}
    memo = PlaceMemo(lambda k: len(str(k)) % 3, limit=2)
    # a list key (a tuple key after JSON) is placed as the tuple
    assert memo.places(["a", "bb", "a", ["x"], "cccc"]) == [1, 2, 1, 0, 1]
    assert len(memo.memo) <= 3
