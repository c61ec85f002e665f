"""Watermarks, window assigners, the window operator and aggregations (no broker)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riverhead.stream.aggregations import (
    aggregate,
    count,
    distinct_count,
    max_of,
    mean_of,
    min_of,
    reduce,
    sum_of,
    top_k,
)
from riverhead.stream.state.stores import MemoryStore, SqliteStore
from riverhead.stream.time import MAX_WATERMARK, NO_WATERMARK, WatermarkTracker
from riverhead.stream.windowing import WindowOperator
from riverhead.stream.windows import Window, count_window, hopping, session, tumbling

pytestmark = pytest.mark.unit


def test_tumbling_and_hopping_assign() -> None:
    assert tumbling(seconds=60).assign(61_000) == [Window(60_000, 120_000)]
    assert tumbling(ms=10).assign(-1) == [Window(-10, 0)]
    assert hopping(seconds=10, every=5).assign(12_000) == [
        Window(5_000, 15_000), Window(10_000, 20_000)]
    assert len(hopping(seconds=300, every=60).assign(1)) == 5
    with pytest.raises(ValueError, match="gaps"):
        hopping(seconds=1, every=2)
    with pytest.raises(ValueError, match="exactly one"):
        tumbling()


def test_watermark_min_over_channels_idle_and_monotonic() -> None:
    wm = WatermarkTracker(max_out_of_orderness_ms=100, idle_timeout=5.0)
    assert wm.current(0.0) == NO_WATERMARK
    wm.observe("p0", 1_000, now=0.0)
    wm.observe("p1", 5_000, now=0.0)
    assert wm.current(0.0) == 900  # min over partitions, minus the disorder bound
    wm.observe("p0", 500, now=1.0)  # out of order: the channel does not go back
    assert wm.current(1.0) == 900
    wm.observe("p1", 6_000, now=4.0)
    # p0 silent for 5 s: idle, it no longer holds the watermark back
    assert wm.current(6.5) == 5_900
    wm.observe("p0", 2_000, now=7.0)  # p0 is back, behind: the watermark never decreases
    assert wm.current(7.0) == 5_900
    wm2 = WatermarkTracker(0, 1.0)
    wm2.restore(wm.snapshot(), now=7.0)
    assert wm2.channel("p1") == 5_900


def test_all_idle_channels_give_the_maximum() -> None:
    wm = WatermarkTracker(0, idle_timeout=1.0)
    wm.advance("a", 10, 0.0)
    wm.advance("b", 20, 0.0)
    assert wm.current(0.5) == 10
    assert wm.current(2.0) == 20


def _op(assigner, agg=None, lateness=0, store=None) -> WindowOperator:  # type: ignore[no-untyped-def]
    return WindowOperator(assigner, agg or count(), lateness,
                          MemoryStore() if store is None else store)


def test_tumbling_out_of_order_exact_and_late_to_side_output() -> None:
    op = _op(tumbling(ms=10), lateness=5)
    results = []
    for ts, wm in [(1, 0), (12, 0), (3, 2), (9, 8)]:
        out, late = op.add("k", ts, None, wm)
        assert not late
        results += out + op.advance(wm)
    results += op.advance(10)  # [0,10) fires with 3 records
    assert [(r.start, r.end, r.value, r.update) for r in results] == [(0, 10, 3, False)]
    out, late = op.add("k", 4, None, 12)  # within lateness: an updated result at once
    assert not late and [(r.value, r.update) for r in out] == [(4, True)]
    assert op.advance(15) == []  # purged at end + lateness
    out, late = op.add("k", 5, None, 15)
    assert late and out == []
    assert [(r.start, r.value) for r in op.advance(MAX_WATERMARK)] == [(10, 1)]


def test_session_windows_merge() -> None:
    op = _op(session(gap_ms=10), sum_of())
    assert op.add("u", 0, 1, NO_WATERMARK) == ([], False)
    op.add("u", 25, 10, NO_WATERMARK)
    op.add("u", 5, 100, NO_WATERMARK)  # joins [0,10): [0,15)
    op.add("v", 3, 1000, NO_WATERMARK)
    assert op.open_windows() == 3
    op.add("u", 15, 5, NO_WATERMARK)  # [15,25) touches [0,15) and [25,35)
    assert op.open_windows() == 2
    fired = sorted((r.key, r.start, r.end, r.value) for r in op.advance(MAX_WATERMARK))
    assert fired == [("u", 0, 35, 116), ("v", 3, 13, 1000)]


def test_count_windows() -> None:
    op = _op(count_window(3), sum_of())
    out = []
    for i in range(7):
        out += op.add("k", 100 + i, i, NO_WATERMARK)[0]
    assert [(r.start, r.end, r.value) for r in out] == [(100, 103, 3), (103, 106, 12)]


def test_replayed_records_are_not_counted_twice() -> None:
    op = _op(hopping(ms=10, every_ms=5))
    for off, ts in enumerate([1, 2, 7]):
        op.add("k", ts, None, NO_WATERMARK, "t:0", off)
    for off, ts in enumerate([1, 2, 7]):  # the same offsets again (a replay)
        op.add("k", ts, None, NO_WATERMARK, "t:0", off)
    op.add("k", 8, None, NO_WATERMARK, "t:1", 0)  # another partition, same offset
    assert op.duplicates == 6  # counted per window: each record is in two windows
    fired = {(r.start, r.value) for r in op.advance(MAX_WATERMARK)}
    assert fired == {(-5, 2), (0, 4), (5, 2)}


def test_window_state_survives_a_store_reload_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = SqliteStore(tmp_path / "s.sqlite")
    op = _op(tumbling(ms=10), sum_of(), store=store)
    op.add("k", 1, 5, NO_WATERMARK, "t:0", 0)
    op.add("k", 2, 6, NO_WATERMARK, "t:0", 1)
    store.close()
    again = _op(tumbling(ms=10), sum_of(), store=SqliteStore(tmp_path / "s.sqlite"))
    assert again.load() == 1
    again.add("k", 2, 6, NO_WATERMARK, "t:0", 1)  # replay: skipped
    assert [r.value for r in again.advance(MAX_WATERMARK)] == [11]


events = st.lists(st.tuples(st.integers(0, 200), st.sampled_from("abc"), st.integers(0, 30)),
                  max_size=60)


@settings(max_examples=150, deadline=None)
@given(events, st.integers(0, 20), st.integers(0, 15),
       st.sampled_from(["tumbling", "hopping"]))
def test_property_in_lateness_records_counted_in_exactly_their_windows(
        evs: list[tuple[int, str, int]], ooo: int, lateness: int, kind: str) -> None:
    """Arrival order is the list order (event times out of order by up to 30); the
    watermark is max seen - ooo. Each record is counted in exactly those of its windows
    not purged when it arrived; a record with no such window is reported late (never
    silently dropped); every window fires exactly once more than its updates."""
    assigner = tumbling(ms=20) if kind == "tumbling" else hopping(ms=20, every_ms=5)
    op = _op(assigner, lateness=lateness)
    expected: Counter[tuple[str, int, int]] = Counter()
    late_expected = late_seen = 0
    final: dict[tuple[str, int, int], int] = {}
    max_ts = None
    for base, key, back in evs:
        ts = base - back
        wm = NO_WATERMARK if max_ts is None else max_ts - ooo
        live = [w for w in assigner.assign(ts) if wm < w.end + lateness]
        for w in live:
            expected[(key, w.start, w.end)] += 1
        late_expected += not live
        out, late = op.add(key, ts, None, wm)
        late_seen += late
        max_ts = ts if max_ts is None else max(max_ts, ts)
        for r in out + op.advance(max_ts - ooo):
            final[(r.key, r.start, r.end)] = r.value
    for r in op.advance(MAX_WATERMARK):
        final[(r.key, r.start, r.end)] = r.value
    assert late_seen == late_expected
    assert final == dict(expected)


def test_aggregations() -> None:
    values = [3, 1, 4, 1, 5]

    def run(agg):  # type: ignore[no-untyped-def]
        acc = agg.init()
        for v in values[:2]:
            acc = agg.add(acc, v)
        other = agg.init()
        for v in values[2:]:
            other = agg.add(other, v)
        return agg.result(agg.merge(acc, other))

    assert run(count()) == 5
    assert run(sum_of()) == 14
    assert run(min_of()) == 1 and run(max_of()) == 5
    assert run(mean_of()) == pytest.approx(2.8)
    assert run(distinct_count()) == 4
    assert run(top_k(2)) == [[1, 2], [3, 1]]
    assert run(reduce(lambda a, b: a * b)) == 60
    assert run(aggregate(list, lambda a, v: [*a, v], lambda a, b: a + b, sorted)) == [
        1, 1, 3, 4, 5]
    assert sum_of(lambda v: None if v > 3 else v).add(0, 10) == 0
    with pytest.raises(TypeError, match="merge"):
        aggregate(list, lambda a, v: a).merge([], [])


def test_early_results_before_the_final_one() -> None:
    op = WindowOperator(tumbling(ms=10), count(), 0, MemoryStore(), early=True)
    out = op.add("k", 1, None, NO_WATERMARK)[0] + op.add("k", 2, None, NO_WATERMARK)[0]
    assert [(r.value, r.early) for r in out] == [(1, True), (2, True)]
    assert [(r.value, r.early) for r in op.advance(10)] == [(2, False)]
    sessions = WindowOperator(session(gap_ms=5), count(), 0, MemoryStore(), early=True)
    sessions.add("u", 0, None, NO_WATERMARK)
    assert [(r.start, r.end, r.value) for r in sessions.add("u", 3, None, NO_WATERMARK)[0]] \
        == [(0, 8, 2)]
