"""Window slicing: tumbling and hopping windows kept as non-overlapping slices.

A hopping window of ``size`` every ``every`` ms shares records with its neighbours, so
one accumulator per (key, window) makes each record update ``size / every`` of them.
:class:`SlicedWindowOperator` keeps one accumulator per (key, *slice*) instead: slices
are ``[s, s + step)`` with ``step = gcd(size, every)``, so every record of a slice lies
in the same windows, and a window's result is ``merge`` of its slices' accumulators,
computed when it fires ("panes", Li et al. 2005; Flink's and Scotty's window slicing).
A tumbling window is its own single slice (its result needs no ``merge``).

Its rules and results are those of :class:`~riverhead.stream.windowing.WindowOperator`
(the tests run both on the same inputs); what differs:

* store layout: ``("w", key, s, s + step) -> {"a": acc, "s": {src: offset}}`` per slice
  (for tumbling windows, the window itself) and ``("seen", src) -> offset``; duplicates
  are counted per slice;
* a slice is purged with the last window containing it (``wm >= end + lateness``);
* a window fires when the watermark reaches its end, for every key with a slice in it;
  a record for a window that fired already (within the allowed lateness) emits its new
  result at once (``update=True``) when the key had records there before, else the
  key's first result of that window comes at the next :meth:`advance`;
* with ``early``, a change emits the current result of each not yet fired window of the
  slice.

**Micro-batches** (:meth:`SlicedWindowOperator.add_batch`): when no record of the batch
can be late or a duplicate and there are no early results, the batch is pre-aggregated
per (key, slice) with ``init``/``add`` and each slice gets ``merge(acc, partial)``, so the
aggregation must be mergeable (every built-in is; a custom ``aggregate`` without
``merge`` goes record by record). A slice the batch touches records the batch's last
offset as applied: all the batch's records of that slice are. ``("seen", src)`` is
written before the slices, so a changelog holding any slice change of a batch also holds
its ``seen`` and a replay of that batch goes record by record (exact per-slice checks).

``merge`` may mutate and return its first argument (never the second): a window's result
starts from ``merge(init(), first slice)`` and copies a mutable accumulator that merge
returned unchanged. Not thread-safe.
"""

from __future__ import annotations

import copy
import heapq
import math
from collections import Counter
from typing import Any

from riverhead.stream.aggregations import Aggregation, counts_records, plain_result
from riverhead.stream.state.stores import Store
from riverhead.stream.windowing import WindowOperator, WindowResult
from riverhead.stream.windows import Assigner, Hopping, Tumbling

_MISSING: Any = object()
_new = tuple.__new__


class SlicedWindowOperator(WindowOperator):
    """Tumbling or hopping windows of one partition's keys, stored per slice."""

    def __init__(self, assigner: Assigner, aggregation: Aggregation,
                 allowed_lateness_ms: int, store: Store, early: bool = False) -> None:
        if not isinstance(assigner, (Tumbling, Hopping)):
            raise TypeError(f"slicing needs tumbling or hopping windows, not {assigner!r}")
        super().__init__(assigner, aggregation, allowed_lateness_ms, store, early)
        self.size = assigner.size
        self.every = assigner.every if isinstance(assigner, Hopping) else assigner.size
        self.offset = assigner.offset
        self.step = math.gcd(self.size, self.every)
        if self.step != self.size and not aggregation.mergeable:
            raise ValueError("sliced hopping windows need an aggregation with merge")
        self._counting = counts_records(aggregation)
        self._keys: dict[int, dict[Any, None]] = {}  # slice start -> keys holding it
        self._end_heap: list[int] = []  # window ends to fire
        self._pending: set[int] = set()  # the ends in _end_heap
        self._slice_heap: list[tuple[int, int]] = []  # (purge at, slice start)
        self._open = 0
        self._first_late: dict[tuple[Any, int], None] = {}  # (key, window start) to fire
        self.batched = 0
        """Records counted through the pre-aggregated micro-batch path."""

    # ---- slices ----------------------------------------------------------------------

    def _starts(self, s: int) -> range:
        """Starts of the windows containing slice ``s``, ascending."""
        last = s - (s - self.offset) % self.every
        first = last - (last - (s - self.size)) // self.every * self.every
        if first <= s - self.size:
            first += self.every
        return range(first, last + 1, self.every)

    def _new_slice(self, key: Any, s: int) -> None:
        keys = self._keys.get(s)
        if keys is None:
            keys = self._keys[s] = {}
            starts = self._starts(s)
            heapq.heappush(self._slice_heap, (starts[-1] + self.size + self.lateness, s))
            for w in starts:
                end = w + self.size
                if end > self._fired_through and end not in self._pending:
                    self._pending.add(end)
                    heapq.heappush(self._end_heap, end)
        keys[key] = None
        self._open += 1

    def load(self) -> int:
        n = 0
        for skey, _ in self.store.items():
            if skey[0] == "w":
                self._new_slice(skey[1], skey[2])
                n += 1
        return n

    def open_windows(self) -> int:
        """Slices held (each tumbling window is one)."""
        return self._open

    def _first(self, acc: Any) -> Any:
        out = self.agg.merge(self.agg.init(), acc)
        return copy.deepcopy(out) if out is acc and isinstance(out, (list, dict)) else out

    def _window_acc(self, key: Any, w: int) -> Any:
        """``key``'s accumulator of window ``[w, w + size)`` (``_MISSING``: no records)."""
        get, step = self.store.get, self.step
        if step == self.size:
            state = get(("w", key, w, w + step))
            return _MISSING if state is None else state["a"]
        acc = _MISSING
        for s in range(w, w + self.size, step):
            state = get(("w", key, s, s + step))
            if state is not None:
                acc = self._first(state["a"]) if acc is _MISSING else self.agg.merge(
                    acc, state["a"])
        return acc

    def _changed(self, key: Any, s: int, wm: int, had: bool) -> list[WindowResult]:
        """Results due now that ``key``'s slice ``s`` changed (``had``: it held records
        before): windows fired already, and with ``early`` the others."""
        out: list[WindowResult] = []
        result = self.agg.result
        for w in self._starts(s):
            end = w + self.size
            if end + self.lateness <= wm:
                continue  # purged: never updated
            fired = end <= self._fired_through
            if not fired and not self.early:
                continue
            acc = self._window_acc(key, w)
            if acc is _MISSING:
                continue
            if fired:
                if (key, w) in self._first_late:
                    continue  # its first result is due at the next advance
                if had or any(self.store.get(("w", key, x, x + self.step)) is not None
                              for x in range(w, end, self.step) if x != s):
                    out.append(WindowResult(key, w, end, result(acc), True))
                else:
                    self._first_late[(key, w)] = None
            else:
                out.append(WindowResult(key, w, end, result(acc), early=True))
        return out

    # ---- records -----------------------------------------------------------------------

    def add(self, key: Any, ts: int, value: Any, wm: int, src: str | None = None,
            off: int | None = None) -> tuple[list[WindowResult], bool]:
        s = ts - (ts - self.offset) % self.step
        if wm >= self._starts(s)[-1] + self.size + self.lateness:
            self.late += 1
            return [], True
        skey = ("w", key, s, s + self.step)
        state = self.store.get(skey)
        had = state is not None
        if state is None:
            if self._seen(src, off):
                self.duplicates += 1
                return [], False
            state = {"a": self.agg.init(), "s": {}}
        elif src is not None and state["s"].get(src, -1) >= off:
            self.duplicates += 1
            return [], False
        state["a"] = self.agg.add(state["a"], value)
        if src is not None:
            state["s"][src] = off
        self.store.put(skey, state)
        if not had:
            self._new_slice(key, s)
        self._mark(src, off)
        return self._changed(key, s, wm, had), False

    def add_batch(self, keys: list[Any], values: list[Any], tss: list[int], wm: int,
                  src: str | None = None, offs: list[int] | None = None,
                  ) -> tuple[list[WindowResult], list[int]]:
        if not self._batchable(tss, wm, src, offs):
            return super().add_batch(keys, values, tss, wm, src, offs)
        self.batched += len(tss)
        step, offset = self.step, self.offset
        lo, hi = min(tss), max(tss)
        lo -= (lo - offset) % step
        partial: dict[tuple[Any, int], Any]
        if hi - lo < step:  # one slice (the usual case of in-order input): key alone
            if self._counting:
                partial = {(k, lo): n for k, n in Counter(keys).items()}
            else:
                partial = {(k, lo): acc for k, acc in self._fold(keys, values).items()}
        else:
            slices = ([t - (t - offset) % step for t in tss] if offset
                      else [t - t % step for t in tss])
            groups = list(zip(keys, slices, strict=True))
            partial = Counter(groups) if self._counting else self._fold(groups, values)
        last = None
        if src is not None and offs is not None:
            last = offs[-1]  # the batch's offsets ascend
            self._mark(src, last)  # before the slices: see the module docstring
        return self._merge_partials(partial, src, last, wm), []

    def _fold(self, groups: list[Any], values: list[Any]) -> dict[Any, Any]:
        """``init``/``add`` of ``values`` per group (``groups[i]`` is value ``i``'s)."""
        out: dict[Any, Any] = {}
        init, add = self.agg.init, self.agg.add
        for group, value in zip(groups, values, strict=True):
            acc = out.get(group, _MISSING)
            out[group] = add(init() if acc is _MISSING else acc, value)
        return out

    def _batchable(self, tss: list[int], wm: int, src: str | None,
                   offs: list[int] | None) -> bool:
        """Whether a batch may be pre-aggregated: a mergeable aggregation, no early
        results, no duplicate, no record late for any of its windows."""
        if self.early or not self.agg.mergeable or not tss:
            return False
        if src is not None and offs is not None:
            seen = self.store.get(("seen", src))
            if seen is not None and seen >= offs[0]:  # the batch's offsets ascend
                return False
        first = min(tss)
        first -= (first - self.offset) % self.step
        return wm < self._starts(first)[0] + self.size + self.lateness

    def _merge_partials(self, partial: dict[tuple[Any, int], Any], src: str | None,
                        last: int | None, wm: int) -> list[WindowResult]:
        merge = self.agg.merge
        get, put = self.store.get, self.store.put
        step = self.step
        all_keys = self._keys
        out: list[WindowResult] = []
        fired_at: dict[int, bool] = {}  # slice -> whether a window of it fired
        for (key, s), acc in partial.items():
            skey = ("w", key, s, s + step)
            state = get(skey)
            if state is None:  # the partial is a fresh accumulator: keep it
                put(skey, {"a": acc, "s": {} if last is None else {src: last}})
                keys = all_keys.get(s)
                if keys is None:
                    self._new_slice(key, s)
                else:  # _new_slice's common case, inlined
                    keys[key] = None
                    self._open += 1
                had = False
            else:
                state["a"] = merge(state["a"], acc)
                if last is not None:
                    state["s"][src] = last
                put(skey, state)
                had = True
            fired = fired_at.get(s)
            if fired is None:
                fired = fired_at[s] = self._starts(s)[0] + self.size <= self._fired_through
            if fired:
                out += self._changed(key, s, wm, had)
        return out

    # ---- time ------------------------------------------------------------------------

    def advance(self, wm: int) -> list[WindowResult]:
        out: list[WindowResult] = []
        if self._first_late:
            due, self._first_late = self._first_late, {}
            for key, w in due:
                acc = self._window_acc(key, w)
                if acc is not _MISSING:
                    out.append(WindowResult(key, w, w + self.size, self.agg.result(acc)))
        heap = self._end_heap
        while heap and heap[0] <= wm:
            end = heapq.heappop(heap)
            self._pending.discard(end)
            out += self._fire(end - self.size, end)
        if wm > self._fired_through:
            self._fired_through = wm
        slices, delete, step = self._slice_heap, self.store.delete, self.step
        while slices and slices[0][0] <= wm:
            _, s = heapq.heappop(slices)
            keys = self._keys.pop(s, {})
            for key in keys:
                delete(("w", key, s, s + step))
            self._open -= len(keys)
        return out

    def _fire(self, w: int, end: int) -> list[WindowResult]:
        get, step, result = self.store.get, self.step, self.agg.result
        if step == self.size:  # tumbling: the window is its slice
            out = []
            for key in self._keys.get(w, ()):
                state = get(("w", key, w, end))
                if state is not None:
                    out.append(_new(WindowResult, (key, w, end, result(state["a"]),
                                                   False, False)))
            return out
        accs: dict[Any, Any] = {}
        counting, merge = self._counting, self.agg.merge
        for s in range(w, end, step):
            keys = self._keys.get(s)
            if not keys:
                continue
            t = s + step
            if counting:
                for key in keys:
                    state = get(("w", key, s, t))
                    if state is not None:
                        accs[key] = accs.get(key, 0) + state["a"]
                continue
            for key in keys:
                state = get(("w", key, s, t))
                if state is not None:
                    acc = accs.get(key, _MISSING)
                    accs[key] = (self._first(state["a"]) if acc is _MISSING
                                 else merge(acc, state["a"]))
        if plain_result(self.agg):
            return [_new(WindowResult, (key, w, end, acc, False, False))
                    for key, acc in accs.items()]
        return [_new(WindowResult, (key, w, end, result(acc), False, False))
                for key, acc in accs.items()]
