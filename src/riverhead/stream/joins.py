"""Joins: stream-stream within a time bound, and stream-table (a compacted topic).

:class:`JoinStep` — both inputs keyed the same way arrive through one union step
(:class:`UnionStep`, which tags each value with its side and sends punctuations to every
partition), so one repartition topic co-partitions them. Per key and side it buffers
``[ts, value, src, off]`` in the partition's store (``("j", side, key)``). A record
joins every buffered record of the other side with ``|ts - ts_other| <= within``; the
pair is emitted once, when its second record arrives, whichever side that is, as
``fn(left, right)`` with ``ts = max`` of the two. Records with ``ts < wm - lateness`` are
late (side output); buffered records leave once ``ts < wm - within - lateness``. So
every pair of non-late records within the bound is emitted exactly once, in either
arrival order. A record replayed after a crash is found in its side's buffer and
skipped.

:class:`TableJoinStep` — the table is a compacted topic read whole by every worker
(:class:`TableSpout`, no consumer group: a *global* table); each stream record is joined
with the table's current value for ``key(value)`` (``None`` when absent: dropped by an
inner join, passed as ``None`` by a left join). So the result depends on whether the
table update arrived before the record: that is the meaning of a stream-table join.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from riverhead.stream.components import Context, Spout
from riverhead.stream.formats import Format, check_format, decode
from riverhead.stream.kafka import resolve_brokers
from riverhead.stream.microbatch import Columns
from riverhead.stream.operators import FIELDS, LATE_STREAM, KeyByStep, KeyedStep, Step
from riverhead.stream.stateful import PartitionedState, RecordingStore
from riverhead.stream.time import NO_WATERMARK
from riverhead.stream.tuples import Tuple

TABLE_FIELDS = ("key", "value")


class UnionStep(KeyByStep):
    """Tags values with their side: ``[side, value]`` (0 = left, 1 = right)."""

    def __init__(self, name: str, left: str, downstream: Sequence[str], **kw: Any) -> None:
        super().__init__(name, _identity, downstream, **kw)
        self.left = left

    def on_record(self, tup: Tuple) -> None:
        key, value, ts, _wm, _c, src, off = tup.values
        side = 0 if tup.source == self.left else 1
        self.out(key, [side, value], ts, src, off, tup)
        self.ack(tup)

    def on_batch(self, tup: Tuple) -> None:
        _route, (keys, values, tss, offs), _b, _wm, _c, src, _off = tup.values
        side = 0 if tup.source == self.left else 1
        self.emit_keyed(keys, [keys, [[side, v] for v in values], tss, offs], src, tup)
        self.ack(tup)


def _identity(value: Any) -> Any:
    return value


class JoinStep(KeyedStep):
    streams = {LATE_STREAM: FIELDS}

    def __init__(self, name: str, within_ms: int, fn: Callable[[Any, Any], Any], *,
                 allowed_lateness_ms: int = 0, store: str = "memory",
                 changelog_brokers: str | None = None, standby: bool = False,
                 **kw: Any) -> None:
        super().__init__(name, **kw)
        self.standby = standby
        self.within = within_ms
        self.fn = fn
        self.lateness = allowed_lateness_ms
        self.store_kind = store
        self.changelog_brokers = changelog_brokers

    def open_step(self, context: Context) -> None:
        self.state = PartitionedState(context, self.store_kind, self._opened,
                                      self.changelog_brokers, standby=self.standby,
                                      on_partition=self.on_partition)
        self.late = 0
        self.joined = 0
        self._purged_at = NO_WATERMARK

    def _opened(self, p: int, store: RecordingStore) -> None:
        saved = store.get(("wm",))
        if saved:  # the partition's watermark channels, as its last owner saw them
            self.tracker_of(p).restore(saved, self.now())

    def on_record(self, tup: Tuple) -> None:
        key, (side, value), ts, _wm, _c, src, off = tup.values
        p = self.state.partition(key)
        self._finish(p, tup, self._join(p, key, side, value, ts, src, off, tup))

    def on_batch(self, tup: Tuple) -> None:
        route, (keys, values, tss, offs), _b, _wm, _c, src, _off = tup.values
        p = self.state.partition(route)  # every record's, by the union's routing
        changed = False
        for i, key in enumerate(keys):
            side, value = values[i]
            changed = self._join(p, key, side, value, tss[i], src,
                                 None if offs is None else offs[i], tup) or changed
        self._finish(p, tup, changed)

    def _finish(self, p: int, tup: Tuple, changed: bool) -> None:
        """Ack ``tup`` now, or once partition ``p``'s changes are durable."""
        self.ack_when_durable(p, tup, self.state.stores[p].take() if changed else [])

    def _join(self, p: int, key: Any, side: int, value: Any, ts: int, src: Any, off: Any,
              tup: Tuple) -> bool:
        """Join one record; returns whether partition ``p``'s store changed."""
        state = self.state
        if state.owns(p):
            state.store(p)  # restored first: its saved watermark judges lateness
        wm = self.wm_of(p)
        if ts < wm - self.lateness:
            self.late += 1
            self.out(key, value, ts, src, off, tup, stream=LATE_STREAM)
            return False
        if not state.owns(p):
            state.skipped += 1
            return False
        store = state.store(p)
        mine = store.get(("j", side, key)) or []
        if src is not None and any(e[2] == src and e[3] == off for e in mine):
            return False
        for other_ts, other, _s, _o in store.get(("j", 1 - side, key)) or []:
            if abs(other_ts - ts) <= self.within:
                left, right = (value, other) if side == 0 else (other, value)
                self.joined += 1
                self.out(key, self.fn(left, right), max(ts, other_ts), None, None, tup)
        store.put(("j", side, key), [*mine, [ts, value, src, off]])
        return True

    def on_watermark(self, tup: Tuple | None) -> None:
        wm = self.cur
        self.state.poll()
        if tup is not None or wm <= self._purged_at:
            return
        self._purged_at = wm
        for p, store in list(self.state.stores.items()):
            horizon = self.wm_of(p) - self.within - self.lateness
            # a restored partition keeps judging lateness alike
            store.put(("wm",), self.tracker_of(p).snapshot())
            for skey, entries in store.items():
                if skey[0] != "j":
                    continue
                keep = [e for e in entries if e[0] >= horizon]
                if not keep:
                    store.delete(skey)
                elif len(keep) != len(entries):
                    store.put(skey, keep)
            self.state.commit(p, lambda error: None)

    def extra_metrics(self) -> dict[str, float]:
        return {"late": getattr(self, "late", 0), "joined": getattr(self, "joined", 0)}

    def cleanup(self) -> None:
        self.state.close()


class TableJoinStep(Step):
    """Joins each record with ``table[key(value)]``; ``table`` is the TableSpout's id."""

    def __init__(self, name: str, table: str, key: Callable[[Any], Any],
                 fn: Callable[[Any, Any], Any], left: bool = False, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.table = table
        self.key = key
        self.fn = fn
        self.left = left

    def open_step(self, context: Context) -> None:
        self.rows: dict[Any, Any] = {}

    def process(self, tup: Tuple) -> None:
        if tup.source == self.table:
            key, value = tup.values
            if value is None:
                self.rows.pop(key, None)
            else:
                self.rows[key] = value
            self.ack(tup)
            return
        super().process(tup)

    def on_record(self, tup: Tuple) -> None:
        key, value, ts, _wm, _c, src, off = tup.values
        row = self.rows.get(self.key(value))
        if row is not None or self.left:
            self.out(key, self.fn(value, row), ts, src, off, tup)
        self.ack(tup)

    def on_batch(self, tup: Tuple) -> None:
        route, (keys, values, tss, offs), _b, _wm, _c, src, _off = tup.values
        rows, key_of, fn = self.rows, self.key, self.fn
        out: Columns = [[], [], [], None if offs is None else []]
        for i, value in enumerate(values):
            row = rows.get(key_of(value))
            if row is not None or self.left:
                out[0].append(keys[i])
                out[1].append(fn(value, row))
                out[2].append(tss[i])
                if offs is not None:
                    out[3].append(offs[i])
        self.out_batch(route, out, src, tup)
        self.ack(tup)


class TableSpout(Spout):
    """Reads every partition of compacted ``topic`` from the start, without a consumer
    group, emitting ``(key, value)`` (value ``None``: a tombstone); untracked."""

    outputs = TABLE_FIELDS

    def __init__(self, topic: str, value_format: str = "json", brokers: str | None = None,
                 key_format: str = "string") -> None:
        self.topic = topic
        self.value_format: Format = check_format(value_format)
        self.key_format: Format = check_format(key_format)
        self.brokers = brokers

    def open(self, context: Context) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        brokers = resolve_brokers(self.brokers, context)
        self._consumer = Consumer({
            "bootstrap.servers": brokers, "group.id": f"{context.topology}.table.unused",
            "enable.auto.commit": False, "enable.partition.eof": False,
        })
        md = self._consumer.list_topics(self.topic, timeout=10)
        parts = md.topics[self.topic].partitions if self.topic in md.topics else {}
        self._consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING)
                               for p in parts])

    def next_tuple(self) -> None:
        for msg in self._consumer.consume(num_messages=200, timeout=0):
            if msg.error() is not None:
                continue
            self.emit((decode(self.key_format, msg.key()),
                       decode(self.value_format, msg.value())))

    def close(self) -> None:
        self._consumer.close()


class ItemsTableSpout(Spout):
    """A table from ``(key, value)`` items, emitted once, in order, all in its first
    ``next_tuple`` (a table loaded at start; tests)."""

    outputs = TABLE_FIELDS

    def __init__(self, items: Sequence[tuple[Any, Any]]) -> None:
        self.items = list(items)

    def open(self, context: Context) -> None:
        self._done = False

    def next_tuple(self) -> None:
        if not self._done:
            self._done = True
            for item in self.items:
                self.emit(tuple(item))
