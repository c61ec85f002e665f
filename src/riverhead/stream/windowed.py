""":class:`WindowStep`: the bolt of ``.window(...).aggregate(...)``.

Per input partition it keeps a :class:`~riverhead.stream.windowing.WindowOperator` over
the partition's store (:class:`~riverhead.stream.stateful.PartitionedState`). For each
data tuple it advances the watermark with the upstream's (carried on the tuple), counts
the record (or emits it on the ``late`` stream when all its windows are purged), fires
the windows the watermark passed, and acks the tuple once the state change is in the
changelog. Results are emitted as step tuples whose value is::

    {"key": key, "window_start": ms, "window_end": ms, "result": aggregate,
     "update": bool, "early": bool}

with ``key`` the window's key and ``ts = window_end - 1``; windows fired together go out
as one micro-batch. A micro-batch input (:mod:`riverhead.stream.microbatch`) is counted
by :meth:`~riverhead.stream.windowing.WindowOperator.add_batch` against the partition's
watermark as the batch arrives; its state changes go to the changelog in one write and
the batch is acked when they are durable. The task's channel watermarks
are saved in every owned partition's store (``("wm",)``) once a second, so a restored
partition does not count again records that were already late.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from riverhead.stream.aggregations import Aggregation
from riverhead.stream.components import Context
from riverhead.stream.operators import FIELDS, LATE_STREAM, KeyedStep
from riverhead.stream.stateful import PartitionedState, RecordingStore
from riverhead.stream.time import NO_WATERMARK
from riverhead.stream.tuples import Tuple
from riverhead.stream.windowing import WindowOperator, WindowResult, window_operator
from riverhead.stream.windows import Assigner

log = logging.getLogger("riverhead.stream.windowed")


class WindowStep(KeyedStep):
    streams = {LATE_STREAM: FIELDS}

    def __init__(self, name: str, assigner: Assigner, aggregation: Aggregation, *,
                 allowed_lateness_ms: int = 0, store: str = "memory",
                 changelog_brokers: str | None = None, state_dir: str | None = None,
                 early: bool = False, standby: bool = False, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.early = early
        self.standby = standby
        self.assigner = assigner
        self.aggregation = aggregation
        self.lateness = allowed_lateness_ms
        self.store_kind = store
        self.changelog_brokers = changelog_brokers
        self.state_dir = state_dir

    def open_step(self, context: Context) -> None:
        self.ops: dict[int, WindowOperator] = {}
        self.state = PartitionedState(context, self.store_kind, self._opened,
                                      self.changelog_brokers, self.state_dir, self.standby,
                                      self.on_partition)
        self._saved_wm: dict[int, dict[str, int]] = {}
        self._last_save = 0.0
        self.late = 0
        self.fired = 0

    def _opened(self, p: int, store: RecordingStore) -> None:
        op = window_operator(self.assigner, self.aggregation, self.lateness, store, self.early)
        op.load()
        saved = store.get(("wm",))
        if saved:  # the partition's watermark channels, as its last owner saw them
            self.tracker_of(p).restore(saved, self.now())
        self.ops[p] = op

    def on_record(self, tup: Tuple) -> None:
        key, value, ts, _wm, _c, src, off = tup.values
        p = self.state.partition(key)  # KeyedStep.process checked that p is owned
        self.state.store(p)  # restored before its operator counts
        wm = self.wm_of(p)
        if wm == NO_WATERMARK and log.isEnabledFor(logging.DEBUG):  # no watermark yet
            log.debug("%s: record %s:%s ts %d counted at partition %d watermark %d (%s)",
                      self.name, src, off, ts, p, wm, self.tracker_of(p).snapshot())
        results, late = self.ops[p].add(key, ts, value, wm, src, off)
        self._counted(p, tup, results, [(key, value, ts, src, off)] if late else [])

    def on_batch(self, tup: Tuple) -> None:
        route, (keys, values, tss, offs), _b, _wm, _c, src, _off = tup.values
        p = self.state.partition(route)  # KeyedStep.process checked that p is owned
        self.state.store(p)
        results, late = self.ops[p].add_batch(keys, values, tss, self.wm_of(p), src, offs)
        self._counted(p, tup, results, [
            (keys[i], values[i], tss[i], src, None if offs is None else offs[i])
            for i in late])

    def _counted(self, p: int, tup: Tuple, results: list[WindowResult],
                 late: list[tuple[Any, Any, int, Any, Any]]) -> None:
        """After ``tup`` was counted in partition ``p``: the late records to the side
        output, the results, windows the watermark passed; ack once durable."""
        changes = self.state.stores[p].take()
        for key, value, ts, src, off in late:
            self.late += 1
            self.out(key, value, ts, src, off, tup, stream=LATE_STREAM)
        self._emit_results(results, tup)
        self._fire(tup)
        self.ack_when_durable(p, tup, changes)
        self._drop_revoked()

    def _drop_revoked(self) -> None:
        if len(self.ops) != len(self.state.stores):
            for p in [p for p in self.ops if p not in self.state.stores]:
                del self.ops[p]

    def _fire(self, anchor: Tuple | None) -> None:
        for p, op in self.ops.items():
            results = op.advance(self.wm_of(p))
            self._emit_results(results, anchor)
            if results or op.store.changes:  # type: ignore[attr-defined]
                self.state.commit(p, _ignore)

    def _emit_results(self, results: list[WindowResult], anchor: Tuple | None) -> None:
        if not results:
            return
        self.fired += len(results)
        values = [{"key": k, "window_start": s, "window_end": e, "result": v, "update": u,
                   "early": y} for k, s, e, v, u, y in results]
        if len(results) == 1:
            r = results[0]
            self.out(r.key, values[0], r.end - 1, None, None, anchor)
            return
        self.out_batch(None, [[r.key for r in results], values,
                              [r.end - 1 for r in results], None], None, anchor)

    def on_watermark(self, tup: Tuple | None) -> None:
        self._drop_revoked()
        self._fire(tup)
        self.state.poll()
        now = time.monotonic()
        if tup is None and now - self._last_save >= 1.0:
            self._last_save = now
            snaps = {p: self.tracker_of(p).snapshot() for p in self.ops}
            log.debug("%s: watermark %d, per partition %s, open windows %d", self.name,
                      self.cur, snaps, sum(op.open_windows() for op in self.ops.values()))
            for p, op in self.ops.items():
                if snaps[p] != self._saved_wm.get(p):
                    self._saved_wm[p] = snaps[p]
                    op.store.put(("wm",), snaps[p])
                    self.state.commit(p, _ignore)

    def extra_metrics(self) -> dict[str, float]:
        ops = getattr(self, "ops", {})
        return {
            "late": getattr(self, "late", 0),
            "fired": getattr(self, "fired", 0),
            "open_windows": sum(op.open_windows() for op in list(ops.values())),
            "duplicates": sum(op.duplicates for op in list(ops.values())),
            "batched": sum(getattr(op, "batched", 0) for op in list(ops.values())),
            "restored_records": getattr(getattr(self, "state", None), "restored_records", 0),
        }

    def cleanup(self) -> None:
        self.state.close()


def _ignore(error: str | None) -> None:
    pass
