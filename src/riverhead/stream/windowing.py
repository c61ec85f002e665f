"""The window operator: keyed windowed aggregation driven by a watermark.

One :class:`WindowOperator` holds the windows of the keys of one partition in a
:class:`~riverhead.stream.state.stores.Store` (one operator per partition, so a partition's
state can move to another worker through its changelog). It is pure logic: no Kafka, no
threads, no clock; the bolt (:mod:`riverhead.stream.operators`) feeds it.

Rules (Flink's, with integer milliseconds and windows ``[start, end)``):

* a window **fires** (its result is emitted) when the watermark reaches its end
  (``wm >= end``); then it stays in state until ``wm >= end + allowed_lateness``, when it
  is **purged**;
* a record is counted in each of its windows that is not purged; if a window it joins has
  fired already, an updated result is emitted at once (``update=True``);
* a record whose windows are all purged (or would be at once) is **late**: it goes back to
  the caller for the side output, never silently dropped;
* session windows of a key merge when a record's ``[ts, ts + gap)`` overlaps them; the
  merged window's accumulator is ``merge`` of theirs (in start order) plus the record;
* count windows fire when they hold ``n`` records and are then removed (no watermark);
* with ``early``, every change of a window not yet fired also emits its current result
  (``early=True``): a live, updating view before the final result.

Duplicates: with ``src`` (the source partition, e.g. ``"shop-events:3"``) and ``off`` (the
record's offset there), a window remembers the highest offset applied per source, and the
operator remembers it per partition for windows already purged: a record replayed after a
crash (at-least-once) is recognised and not counted twice. This assumes records of one
source partition reach the operator in offset order (true through repartition topics;
a replay of an earlier *failed* tuple after later ones were applied would be skipped).

Store layout: ``("w", key, start, end) -> {"a": acc, "s": {src: offset}}``;
``("c", key) -> {"a": acc, "n": count, "lo": ts, "hi": ts, "s": {...}}``;
``("seen", src) -> offset``. Whether a window fired is kept in memory only: after a
restore, windows past their end fire again (a duplicate result, same key: keyed upserts
absorb it). Not thread-safe.

Windows are indexed by end: one bucket of ``(key, start)`` per distinct end, fired when
the watermark reaches the end and purged at end + allowed lateness.

Tumbling windows, and hopping ones whose aggregation can ``merge``, get the same results
from :class:`~riverhead.stream.slicing.SlicedWindowOperator`, which keeps state per
non-overlapping slice and pre-aggregates micro-batches; :func:`window_operator` picks.
"""

from __future__ import annotations

import heapq
from typing import Any, NamedTuple

from riverhead.stream.aggregations import Aggregation
from riverhead.stream.state.stores import Store
from riverhead.stream.time import NO_WATERMARK
from riverhead.stream.windows import Assigner, Hopping, Tumbling, Window

_new = tuple.__new__


class WindowResult(NamedTuple):
    """An emitted window result; ``update`` is True for a re-emission after late data,
    ``early`` for a result emitted before the window fired."""

    key: Any
    start: int
    end: int
    value: Any
    update: bool = False
    early: bool = False


class WindowOperator:
    """Windowed aggregation of one partition's keys (see the module docstring)."""

    def __init__(self, assigner: Assigner, aggregation: Aggregation,
                 allowed_lateness_ms: int, store: Store, early: bool = False) -> None:
        if allowed_lateness_ms < 0:
            raise ValueError("allowed_lateness must be >= 0")
        self.early = early
        self.assigner = assigner
        self.agg = aggregation
        self.lateness = int(allowed_lateness_ms)
        self.store = store
        self._fired: dict[tuple[Any, int, int], bool] = {}
        self._by_key: dict[Any, set[tuple[int, int]]] = {}
        self._ends: dict[int, list[tuple[Any, int]]] = {}  # end -> [(key, start)]
        self._fire_heap: list[int] = []  # ends not fired yet
        self._purge_heap: list[int] = []  # ends not purged yet
        self._fired_through = NO_WATERMARK
        self._refire: list[tuple[Any, int, int]] = []  # new windows of fired ends
        self.late = 0
        self.duplicates = 0

    # ---- state -----------------------------------------------------------------------

    def load(self) -> int:
        """Index the windows found in the store (after a restore); returns how many."""
        n = 0
        for skey, _ in self.store.items():
            if skey[0] == "w":
                self._index(skey[1], skey[2], skey[3])
                n += 1
        return n

    def _index(self, key: Any, start: int, end: int) -> None:
        """A new window, not fired: fired when the watermark reaches ``end``."""
        self._fired[(key, start, end)] = False
        if self.assigner.merging:
            self._by_key.setdefault(key, set()).add((start, end))
        bucket = self._ends.get(end)
        if bucket is None:
            bucket = self._ends[end] = []
            heapq.heappush(self._purge_heap, end)
            if end > self._fired_through:
                heapq.heappush(self._fire_heap, end)
        bucket.append((key, start))
        if end <= self._fired_through:
            self._refire.append((key, start, end))

    def _drop(self, key: Any, start: int, end: int) -> None:
        self._fired.pop((key, start, end), None)
        if self.assigner.merging:
            spans = self._by_key.get(key)
            if spans is not None:
                spans.discard((start, end))
                if not spans:
                    del self._by_key[key]
        self.store.delete(("w", key, start, end))

    def _seen(self, src: str | None, off: int | None) -> bool:
        if src is None or off is None:
            return False
        last = self.store.get(("seen", src))
        return last is not None and last >= off

    def _mark(self, src: str | None, off: int | None) -> None:
        if src is not None and off is not None:
            last = self.store.get(("seen", src))
            if last is None or off > last:
                self.store.put(("seen", src), off)

    def open_windows(self) -> int:
        return len(self._fired)

    # ---- records -----------------------------------------------------------------------

    def add(self, key: Any, ts: int, value: Any, wm: int, src: str | None = None,
            off: int | None = None) -> tuple[list[WindowResult], bool]:
        """Count a record; returns (results emitted now, late). ``late`` records changed
        nothing and belong in the side output."""
        if self.assigner.counting:
            return self._add_count(key, ts, value, src, off), False
        if self.assigner.merging:
            return self._add_session(key, ts, value, wm, src, off)
        results: list[WindowResult] = []
        live = [w for w in self.assigner.assign(ts) if wm < w.end + self.lateness]
        if not live:
            self.late += 1
            return results, True
        add, agg = self.agg.add, self.agg
        for w in live:
            skey = ("w", key, w.start, w.end)
            state = self.store.get(skey)
            if state is None:
                if self._seen(src, off):
                    self.duplicates += 1
                    continue
                state = {"a": agg.init(), "s": {}}
                self._index(key, w.start, w.end)
            elif src is not None and state["s"].get(src, -1) >= off:
                self.duplicates += 1
                continue
            state["a"] = add(state["a"], value)
            if src is not None:
                state["s"][src] = off
            self.store.put(skey, state)
            if self._fired.get((key, w.start, w.end)):
                results.append(WindowResult(key, w.start, w.end, agg.result(state["a"]), True))
            elif self.early:
                results.append(WindowResult(key, w.start, w.end, agg.result(state["a"]),
                                            early=True))
        self._mark(src, off)
        return results, False

    def _add_session(self, key: Any, ts: int, value: Any, wm: int, src: str | None,
                     off: int | None) -> tuple[list[WindowResult], bool]:
        new = self.assigner.assign(ts)[0]
        merged = new
        overlapping = []
        for start, end in sorted(self._by_key.get(key, ())):
            w = Window(start, end)
            if w.overlaps(new):
                overlapping.append(w)
                merged = merged.cover(w)
        if wm >= merged.end + self.lateness:
            self.late += 1
            return [], True
        states = [self.store.get(("w", key, w.start, w.end)) for w in overlapping]
        if src is not None and off is not None and (
                any(s["s"].get(src, -1) >= off for s in states)
                or (not states and self._seen(src, off))):
                self.duplicates += 1
                return [], False
        acc = self.agg.init()
        seen: dict[str, int] = {}
        was_fired = False
        for w, state in zip(overlapping, states, strict=True):
            acc = self.agg.merge(acc, state["a"])
            for s, o in state["s"].items():
                seen[s] = max(o, seen.get(s, o))
            was_fired = was_fired or bool(self._fired.get((key, w.start, w.end)))
            self._drop(key, w.start, w.end)
        acc = self.agg.add(acc, value)
        if src is not None:
            seen[src] = off  # type: ignore[assignment]
        self.store.put(("w", key, merged.start, merged.end), {"a": acc, "s": seen})
        self._index(key, merged.start, merged.end)
        self._mark(src, off)
        results = []
        if was_fired and wm >= merged.end:
            self._fired[(key, merged.start, merged.end)] = True
            results.append(WindowResult(key, merged.start, merged.end, self.agg.result(acc),
                                        True))
        elif self.early:
            results.append(WindowResult(key, merged.start, merged.end, self.agg.result(acc),
                                        early=True))
        return results, False

    def _add_count(self, key: Any, ts: int, value: Any, src: str | None,
                   off: int | None) -> list[WindowResult]:
        skey = ("c", key)
        state = self.store.get(skey)
        if state is None:
            if self._seen(src, off):
                self.duplicates += 1
                return []
            state = {"a": self.agg.init(), "n": 0, "lo": ts, "hi": ts, "s": {}}
        elif src is not None and state["s"].get(src, -1) >= off:
            self.duplicates += 1
            return []
        state["a"] = self.agg.add(state["a"], value)
        state["n"] += 1
        state["lo"] = min(state["lo"], ts)
        state["hi"] = max(state["hi"], ts)
        if src is not None:
            state["s"][src] = off
        self._mark(src, off)
        n = getattr(self.assigner, "n", 1)
        if state["n"] >= n:
            self.store.delete(skey)
            return [WindowResult(key, state["lo"], state["hi"] + 1, self.agg.result(state["a"]))]
        self.store.put(skey, state)
        if self.early:
            return [WindowResult(key, state["lo"], state["hi"] + 1,
                                 self.agg.result(state["a"]), early=True)]
        return []

    # ---- time ------------------------------------------------------------------------

    def advance(self, wm: int) -> list[WindowResult]:
        """The watermark is ``wm``: fire windows that ended, purge expired ones."""
        out: list[WindowResult] = []
        fired, get, result = self._fired, self.store.get, self.agg.result
        if self._refire:
            again, self._refire = self._refire, []
            for key, start, end in again:
                if fired.get((key, start, end)) is False and end <= wm:
                    state = get(("w", key, start, end))
                    if state is not None:
                        fired[(key, start, end)] = True
                        out.append(WindowResult(key, start, end, result(state["a"])))
        fire_heap, lateness = self._fire_heap, self.lateness
        delete, pop = self.store.delete, fired.pop
        merging = self.assigner.merging
        while fire_heap and fire_heap[0] <= wm:
            end = heapq.heappop(fire_heap)
            if not merging and end + lateness <= wm:  # fire and purge in one pass
                for key, start in self._ends.pop(end, ()):
                    was = pop((key, start, end), None)
                    if was is None:
                        continue
                    skey = ("w", key, start, end)
                    if was is False:
                        state = get(skey)
                        if state is not None:
                            out.append(_new(WindowResult, (key, start, end,
                                                           result(state["a"]), False, False)))
                    delete(skey)
                continue
            for key, start in self._ends.get(end, ()):
                ident = (key, start, end)
                if fired.get(ident) is False:
                    state = get(("w", key, start, end))
                    if state is not None:
                        fired[ident] = True
                        out.append(_new(WindowResult, (key, start, end, result(state["a"]),
                                                       False, False)))
        if wm > self._fired_through:
            self._fired_through = wm
        purge_heap = self._purge_heap
        while purge_heap and purge_heap[0] + lateness <= wm:
            end = heapq.heappop(purge_heap)
            if merging:
                for key, start in self._ends.pop(end, ()):
                    if (key, start, end) in fired:
                        self._drop(key, start, end)
                continue
            for key, start in self._ends.pop(end, ()):
                if pop((key, start, end), None) is not None:
                    delete(("w", key, start, end))
        return out

    # ---- micro-batches -------------------------------------------------------------------

    def add_batch(self, keys: list[Any], values: list[Any], tss: list[int], wm: int,
                  src: str | None = None, offs: list[int] | None = None,
                  ) -> tuple[list[WindowResult], list[int]]:
        """Count a micro-batch (records of one source partition in offset order), all
        judged against watermark ``wm``; returns (results emitted now, indexes of the
        late records). Here record by record; the sliced operator pre-aggregates."""
        results: list[WindowResult] = []
        late = []
        for i, key in enumerate(keys):
            r, is_late = self.add(key, tss[i], values[i], wm, src,
                                  None if offs is None else offs[i])
            results += r
            if is_late:
                late.append(i)
        return results, late


def window_operator(assigner: Assigner, aggregation: Aggregation, allowed_lateness_ms: int,
                    store: Store, early: bool = False) -> WindowOperator:
    """The operator for ``assigner``: sliced (:mod:`riverhead.stream.slicing`) for
    tumbling windows and for hopping ones with a mergeable aggregation; per window
    otherwise (sessions, count windows, hopping without ``merge``)."""
    from riverhead.stream.slicing import SlicedWindowOperator

    if isinstance(assigner, Tumbling) or (isinstance(assigner, Hopping)
                                          and aggregation.mergeable):
        return SlicedWindowOperator(assigner, aggregation, allowed_lateness_ms, store, early)
    return WindowOperator(assigner, aggregation, allowed_lateness_ms, store, early)
