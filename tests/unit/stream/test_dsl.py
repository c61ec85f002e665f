"""The dataflow DSL run in one process on bounded lists (no broker)."""

from __future__ import annotations

import pytest

from riverhead.stream.aggregations import count, sum_of, top_k
from riverhead.stream.dsl import App
from riverhead.stream.errors import TopologyError
from riverhead.stream.windows import hopping, session, tumbling

pytestmark = pytest.mark.unit


def test_keyed_tumbling_sum_with_late_side_output() -> None:
    app = App("t")
    events = [{"u": "a", "ts": 1_000, "p": 2}, {"u": "b", "ts": 1_500, "p": 3},
              {"u": "a", "ts": 61_000, "p": 5}, {"u": "a", "ts": 62_000, "p": 1},
              {"u": "a", "ts": 59_000, "p": 7},   # 3 s behind: within the 5 s bound
              {"u": "a", "ts": 70_000, "p": 1},   # the watermark passes 60 s: [0, 60 s) fires
              {"u": "a", "ts": 500, "p": 100}]    # too late: its window is gone
    s = app.source("ev", items=events, timestamp=lambda e: e["ts"], max_out_of_orderness=5)
    w = (s.filter("paid", lambda e: e["p"] > 0)
          .key_by("by-user", lambda e: e["u"])
          .window("minute", tumbling(seconds=60))
          .aggregate("sum", sum_of(lambda e: e["p"])))
    w.map("row", lambda r: (r["key"], r["window_start"], r["result"])).collect("out")
    w.late().collect("late")
    out = app.run()
    assert sorted(out["out"]) == [("a", 0, 9), ("a", 60_000, 7), ("b", 0, 3)]
    assert out["late"] == [{"u": "a", "ts": 500, "p": 100}]


def test_watermarks_cross_filters_and_multiple_partitions() -> None:
    """The filter drops everything of partition 1 but its watermark still arrives
    (punctuations), and windows fire per key on 3 partitions."""
    events = [{"k": i % 4, "ts": i * 1000, "keep": i % 3 != 1} for i in range(120)]
    app = App("t")
    (app.source("ev", items=events, timestamp=lambda e: e["ts"], partitions=3)
        .filter("keep", lambda e: e["keep"])
        .key_by("k", lambda e: e["k"])
        .window("w", hopping(seconds=20, every=10))
        .aggregate("n", count())
        .collect("out"))
    out = app.run()["out"]
    expected: dict[tuple[int, int], int] = {}
    for e in events:
        if e["keep"]:
            for start in (e["ts"] // 10_000 * 10_000 - 10_000, e["ts"] // 10_000 * 10_000):
                expected[(e["k"], start)] = expected.get((e["k"], start), 0) + 1
    assert {(r["key"], r["window_start"]): r["result"] for r in out} == expected
    assert len(out) == len(expected)  # each window fired once (no updates)


def test_session_funnel_and_top_k() -> None:
    clicks = [("u1", 0, "view"), ("u1", 4_000, "cart"), ("u2", 1_000, "view"),
              ("u1", 30_000, "view"), ("u1", 9_000, "purchase")]
    app = App("t")
    src = app.source("c", items=[{"u": u, "ts": t, "type": k} for u, t, k in clicks],
                     timestamp=lambda e: e["ts"], max_out_of_orderness=30)
    (src.key_by("user", lambda e: e["u"])
        .window("sessions", session(gap=10))
        .aggregate("types", top_k(3, lambda e: e["type"]))
        .collect("out"))
    out = app.run()["out"]
    got = sorted((r["key"], r["window_start"], r["window_end"], r["result"]) for r in out)
    assert got == [
        ("u1", 0, 19_000, [["cart", 1], ["purchase", 1], ["view", 1]]),
        ("u1", 30_000, 40_000, [["view", 1]]),
        ("u2", 1_000, 11_000, [["view", 1]]),
    ]


@pytest.mark.parametrize("order", ["clicks first", "purchases first"])
def test_stream_stream_join_same_pairs_in_either_order(order: str) -> None:
    clicks = [{"u": "a", "ts": 1_000, "what": "c1"}, {"u": "a", "ts": 100_000, "what": "c2"},
              {"u": "b", "ts": 5_000, "what": "c3"}]
    buys = [{"u": "a", "ts": 3_000, "what": "p1"}, {"u": "b", "ts": 700_000, "what": "p2"}]
    tagged = [("c", e) for e in clicks] + [("p", e) for e in buys]
    if order == "purchases first":
        tagged.reverse()
    app = App("t")
    src = app.source("all", items=tagged, timestamp=lambda e: e[1]["ts"],
                     max_out_of_orderness=1000)
    c = src.filter("clicks", lambda e: e[0] == "c").map("c-v", lambda e: e[1]) \
        .key_by("c-by-user", lambda e: e["u"])
    p = src.filter("buys", lambda e: e[0] == "p").map("p-v", lambda e: e[1]) \
        .key_by("p-by-user", lambda e: e["u"])
    c.join("click-buy", p, within=60, fn=lambda a, b: (a["what"], b["what"])).collect("out")
    assert app.run()["out"] == [("c1", "p1")]


@pytest.mark.parametrize("table_first", [True, False])
def test_stream_table_join(table_first: bool) -> None:
    app = App("t")
    products = app.table("products", items=[("p1", {"name": "lamp"}), ("p2", {"name": "mug"})])
    orders = [{"product": "p1"}, {"product": "p3"}, {"product": "p2"}]
    src = app.source("orders", items=orders if table_first else [])
    src.join_table("named", products, key=lambda o: o["product"],
                   fn=lambda o, row: row["name"] if row else None, left=True).collect("out")
    out = app.run()["out"]
    assert out == (["lamp", None, "mug"] if table_first else [])


def test_step_names_are_checked() -> None:
    app = App("t")
    s = app.source("ev", items=[])
    s.filter("x", bool)
    with pytest.raises(TopologyError, match="already used"):
        s.map("x", str)
