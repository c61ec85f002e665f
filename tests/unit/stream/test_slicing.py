"""The sliced window operator and micro-batches: the same results as the per-window
operator, record by record or in batches (no broker)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riverhead.stream.aggregations import aggregate, count, max_of, mean_of, sum_of, top_k
from riverhead.stream.slicing import SlicedWindowOperator
from riverhead.stream.state.stores import MemoryStore
from riverhead.stream.time import MAX_WATERMARK, NO_WATERMARK
from riverhead.stream.windowing import WindowOperator, window_operator
from riverhead.stream.windows import hopping, session, tumbling

pytestmark = pytest.mark.unit

AGGS = {"count": count, "sum": lambda: sum_of(lambda v: v), "max": lambda: max_of(),
        "mean": lambda: mean_of(), "top2": lambda: top_k(2)}
ASSIGNERS = {"tumbling": lambda: tumbling(ms=20), "hopping": lambda: hopping(ms=20, every_ms=5),
             "hopping-odd": lambda: hopping(ms=15, every_ms=6)}

# (event time, key, value); arrival order is the list order
events = st.lists(st.tuples(st.integers(0, 300), st.sampled_from("abc"), st.integers(0, 9)),
                  max_size=80)


def _run(op: WindowOperator, evs: list[tuple[int, str, int]], ooo: int,
         batches: list[int] | None = None) -> tuple[dict[Any, Any], list[int], list[Any]]:
    """Feed ``evs`` (with offsets, source "t:0") record by record or in batches of the
    given sizes, one watermark per batch (max seen - ooo before it); returns the final
    result per window, the late records' indexes and every update emitted."""
    final: dict[Any, Any] = {}
    late: list[int] = []
    updates: list[Any] = []
    max_ts: int | None = None
    sizes = batches or [1] * len(evs)
    i = 0
    while i < len(evs):
        n = max(1, sizes[0] if sizes else 1)
        sizes = sizes[1:] or [n]
        chunk = evs[i:i + n]
        wm = NO_WATERMARK if max_ts is None else max_ts - ooo
        out, late_idx = op.add_batch([k for _, k, _ in chunk], [v for *_, v in chunk],
                                     [t for t, _, _ in chunk], wm, "t:0",
                                     list(range(i, i + len(chunk))))
        late += [i + j for j in late_idx]
        for ts, _, _ in chunk:
            max_ts = ts if max_ts is None else max(max_ts, ts)
        assert max_ts is not None
        for r in out + op.advance(max_ts - ooo):
            final[(r.key, r.start, r.end)] = r.value
            if r.update:
                updates.append((r.key, r.start, r.end, r.value))
        i += len(chunk)
    for r in op.advance(MAX_WATERMARK):
        final[(r.key, r.start, r.end)] = r.value
    return final, late, updates


@settings(max_examples=120, deadline=None)
@given(events, st.integers(0, 20), st.integers(0, 15), st.sampled_from(sorted(ASSIGNERS)),
       st.sampled_from(sorted(AGGS)), st.lists(st.integers(1, 12), min_size=1, max_size=8))
def test_sliced_equals_per_window_record_by_record_and_in_batches(
        evs: list[tuple[int, str, int]], ooo: int, lateness: int, kind: str, agg: str,
        batches: list[int]) -> None:
    """Out-of-order input with late records: the sliced operator, fed one record at a
    time or in micro-batches, gives the per-window operator's results, late records and
    updates (batches judged against one watermark each, for both)."""
    def make(cls: type[WindowOperator]) -> WindowOperator:
        return cls(ASSIGNERS[kind](), AGGS[agg](), lateness, MemoryStore())

    for sizes in (None, batches):
        expected = _run(make(WindowOperator), evs, ooo, sizes)
        assert _run(make(SlicedWindowOperator), evs, ooo, sizes) == expected


@pytest.mark.parametrize("kind", sorted(ASSIGNERS))
@pytest.mark.parametrize("agg", sorted(AGGS))
def test_in_order_batches_take_the_pre_aggregated_path(kind: str, agg: str) -> None:
    rng = random.Random(7)
    evs = [(t + rng.randrange(4), rng.choice("abcdef"), rng.randrange(10))
           for t in range(0, 3000, 3)]
    def make(cls: type[WindowOperator]) -> WindowOperator:
        return cls(ASSIGNERS[kind](), AGGS[agg](), 2, MemoryStore())

    sliced = make(SlicedWindowOperator)
    assert _run(sliced, evs, 5, [50]) == _run(make(WindowOperator), evs, 5)
    assert isinstance(sliced, SlicedWindowOperator) and sliced.batched == len(evs)


def test_batch_replay_is_not_counted_twice() -> None:
    op = SlicedWindowOperator(hopping(ms=10, every_ms=5), count(), 0, MemoryStore())
    keys, tss = ["k", "k", "j"], [1, 7, 8]
    op.add_batch(keys, [None] * 3, tss, NO_WATERMARK, "t:0", [0, 1, 2])
    # a replay from offset 1 (after a crash), cut into other batches
    op.add_batch(keys[1:], [None] * 2, tss[1:], NO_WATERMARK, "t:0", [1, 2])
    op.add_batch(["k"], [None], [9], NO_WATERMARK, "t:0", [3])
    assert op.duplicates == 2
    fired = sorted((r.key, r.start, r.value) for r in op.advance(MAX_WATERMARK))
    assert fired == [("j", 0, 1), ("j", 5, 1), ("k", -5, 1), ("k", 0, 3), ("k", 5, 2)]


def test_late_batch_record_goes_to_the_side_output() -> None:
    op = SlicedWindowOperator(tumbling(ms=10), count(), 5, MemoryStore())
    op.add_batch(["k"], [None], [25], NO_WATERMARK, "t:0", [0])
    op.advance(20)
    results, late = op.add_batch(["k", "k", "k"], [None] * 3, [3, 12, 26], 20, "t:0",
                                 [1, 2, 3])
    assert late == [0]  # [0,10) was purged at 15; [10,20) fired at 20, not purged
    assert results == []  # k's first result of [10,20) comes at the next advance
    results, late = op.add_batch(["k"], [None], [13], 20, "t:0", [4])
    assert results == [] and late == []
    assert sorted((r.start, r.value, r.update) for r in op.advance(MAX_WATERMARK)) == [
        (10, 2, False), (20, 2, False)]


def test_early_results_of_sliced_hopping_windows() -> None:
    op = SlicedWindowOperator(hopping(ms=10, every_ms=5), count(), 0, MemoryStore(),
                              early=True)
    out = op.add("k", 6, None, NO_WATERMARK)[0]
    assert sorted((r.start, r.value, r.early) for r in out) == [(0, 1, True), (5, 1, True)]
    out = op.add("k", 8, None, NO_WATERMARK)[0]
    assert sorted((r.start, r.value) for r in out) == [(0, 2), (5, 2)]


def test_merge_returning_its_argument_does_not_alias_state() -> None:
    """reduce-like merges return their second argument when the first is empty: a
    window's result must not then mutate the slice's stored accumulator."""
    def merge(a: Any, b: Any) -> Any:
        if a is None:
            return b
        a.extend(b)  # mutates its first argument, as allowed
        return a

    agg = aggregate(lambda: None, lambda a, v: [v] if a is None else [*a, v], merge)
    op = SlicedWindowOperator(hopping(ms=10, every_ms=5), agg, 0, MemoryStore())
    for ts in (1, 6):
        op.add("k", ts, ts, NO_WATERMARK)
    fired = sorted((r.start, r.value) for r in op.advance(MAX_WATERMARK))
    assert fired == [(-5, [1]), (0, [1, 6]), (5, [6])]


def test_window_operator_picks_slicing_where_it_applies() -> None:
    assert type(window_operator(tumbling(ms=10), count(), 0, MemoryStore())) \
        is SlicedWindowOperator
    assert type(window_operator(hopping(ms=10, every_ms=5), sum_of(), 0, MemoryStore())) \
        is SlicedWindowOperator
    no_merge = aggregate(list, lambda a, v: [*a, v])
    assert type(window_operator(hopping(ms=10, every_ms=5), no_merge, 0, MemoryStore())) \
        is WindowOperator
    assert type(window_operator(session(gap_ms=5), count(), 0, MemoryStore())) \
        is WindowOperator
