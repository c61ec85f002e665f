"""The bolts the dataflow DSL (:mod:`riverhead.stream.dsl`) compiles to.

Every step's stream has the fields :data:`FIELDS`::

    key    the record key (None until a key_by)         value  the record (any JSON value)
    ts     event time, ms; None marks a *punctuation*   wm     the emitting task's watermark
    wch    the emitting task's watermark channel        src    source partition "topic:p"
    off    the offset in ``src`` (None after a window)

A tuple whose ``ts`` is ``"batch"`` is a *micro-batch*: many records of one source
partition as columns (:mod:`riverhead.stream.microbatch`). Sources batch when the app's
``batch_size`` is above 1 (Kafka sources: up to a poll's worth by default); every step
handles both forms (:meth:`Step.on_batch`).

**Watermarks flow with the data**: each step tracks the watermark of each upstream task
(:class:`~riverhead.stream.time.WatermarkTracker`, channel = ``wch``) and stamps its own
on what it emits. A step that emits nothing for a record (a filter dropping it) still
passes watermark progress on as a *punctuation* tuple (``ts`` None, never shown to user
functions): at once when its watermark moved by ``punctuate_ms`` since it last emitted,
and from ``tick``. :class:`KeyByStep` sends punctuations to *every* partition of the
repartition topic behind it (and every task), so each window task hears every upstream
task's progress. A bounded test source ends with the watermark :data:`MAX_WATERMARK`.

Stateful steps (:class:`WindowStep`, :class:`JoinStep`) keep one store per input
partition; under ``riverhead stream run`` each store is backed by a compacted changelog
topic, restored when the repartition topic's partition is assigned to this worker and
dropped when it is revoked (see :mod:`riverhead.stream.stateful`). All steps run on
their task's thread.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from riverhead.stream import kafka
from riverhead.stream.components import Bolt, Context, Spout
from riverhead.stream.groupings import key_bytes, stable_hash
from riverhead.stream.kafka import SPOUT_FIELDS
from riverhead.stream.microbatch import BATCH, Columns, PlaceMemo, select, split
from riverhead.stream.state.changelog import partition_for, topic_partitions
from riverhead.stream.time import MAX_WATERMARK, NO_WATERMARK, WatermarkTracker
from riverhead.stream.tuples import Tuple

log = logging.getLogger("riverhead.stream.operators")
FIELDS = ("key", "value", "ts", "wm", "wch", "src", "off")
LATE_STREAM = "late"
Fn = Callable[[Any], Any]


class Step(Bolt):
    """Base of the DSL's bolts: watermark tracking over upstream tasks, punctuations."""

    outputs = FIELDS
    tick_interval = 0.1

    def __init__(self, name: str, *, idle_timeout: float = 30.0,
                 punctuate_ms: int = 1000) -> None:
        self.name = name
        self.idle_timeout = idle_timeout
        self.punctuate_ms = punctuate_ms
        self.now: Callable[[], float] = time.monotonic
        self.inputs: list[tuple[str, bool]] = []
        """Upstream steps and whether they feed this one from every worker (keyed)."""

    def prepare(self, context: Context) -> None:
        self.context = context
        self.tracker = WatermarkTracker(0, self.idle_timeout)
        self.channel = f"{context.component_id}@{context.worker_index}.{context.task_index}"
        self.out_wm = NO_WATERMARK
        # Expected upstream channels hold the watermark back from the start (until they
        # report or go idle), so a fast input cannot run it past a slow one's backlog.
        now = self.now()
        for upstream, every_worker in self.inputs:
            workers = range(context.worker_count) if every_worker else [context.worker_index]
            for w in workers:
                self.tracker.advance(f"{upstream}@{w}.0", NO_WATERMARK, now)
        self.open_step(context)

    def open_step(self, context: Context) -> None:
        """Subclass hook, called at the end of ``prepare``."""

    @property
    def wm(self) -> int:
        """The watermark now (recomputed: see :attr:`cur` for the per-tuple value)."""
        wm = self.cur = self.tracker.current(self.now())
        return wm

    cur: int = NO_WATERMARK
    """The watermark as of the tuple being processed (computed once per tuple)."""
    data_carries_watermark = True
    """Whether an emitted record tells every downstream task the watermark (False when
    records are routed by key: only punctuations reach every partition)."""

    def process(self, tup: Tuple) -> None:
        v = tup.values
        now = self.now()
        tracker = self.tracker
        tracker.advance(v[4], v[3], now)
        self.cur = tracker.current(now)
        self.dispatch(tup)

    def dispatch(self, tup: Tuple) -> None:
        """Hand ``tup`` to :meth:`on_watermark` (a punctuation), :meth:`on_batch` or
        :meth:`on_record`, then pass watermark progress on."""
        ts = tup.values[2]
        if ts is None:
            self.on_watermark(tup)
            self.ack(tup)
        elif ts == BATCH:
            self.on_batch(tup)
        else:
            self.on_record(tup)
        self.maybe_punctuate()

    def on_record(self, tup: Tuple) -> None:
        """Handle one data tuple (must ack or fail it)."""
        raise NotImplementedError

    def on_batch(self, tup: Tuple) -> None:
        """Handle one micro-batch tuple (must ack or fail it); see
        :mod:`riverhead.stream.microbatch`."""
        raise NotImplementedError(f"{type(self).__name__} does not take micro-batches")

    def on_watermark(self, tup: Tuple | None) -> None:
        """The watermark may have moved (a punctuation arrived, or a tick)."""

    def out(self, key: Any, value: Any, ts: int | None, src: Any, off: Any,
            anchors: Tuple | None, stream: str = "default") -> None:
        wm = self.cur
        self.emit((key, value, ts, wm, self.channel, src, off), anchors=anchors, stream=stream)
        if stream == "default" and wm > self.out_wm and self.data_carries_watermark:
            self.out_wm = wm

    def out_batch(self, route: Any, cols: Columns, src: Any, anchors: Tuple | None,
                  stream: str = "default") -> None:
        """Emit the rows ``cols`` as one micro-batch routed by ``route`` (nothing if
        empty), stamped with the watermark as of before them."""
        if not cols[1]:
            return
        wm = self.cur
        self.emit((route, cols, BATCH, wm, self.channel, src, None), anchors=anchors,
                  stream=stream)
        if stream == "default" and wm > self.out_wm and self.data_carries_watermark:
            self.out_wm = wm

    def maybe_punctuate(self, force: bool = False) -> None:
        wm = self.cur
        if wm > self.out_wm and (force or wm >= self.out_wm + self.punctuate_ms
                                 or wm == MAX_WATERMARK):
            self.punctuate(wm)
            self.out_wm = wm

    def punctuate(self, wm: int) -> None:
        self.emit((None, None, None, wm, self.channel, None, None))

    def tick(self) -> None:
        self.wm  # noqa: B018  (refreshes self.cur: inputs may have gone idle)
        self.on_watermark(None)
        self.maybe_punctuate(force=True)


class KeyedStep(Step):
    """Base of stateful steps fed through a repartition topic (or a fields grouping).

    Order holds only per partition of that topic, and an upstream task's punctuations go
    to every partition: a punctuation read from partition 0 says nothing about records
    still queued in partition 1. And state lives per partition. So each owned partition
    ``p`` has its own watermark (:meth:`wm_of`): the minimum over the upstream tasks'
    channels *as read from p*, expected from the moment ``p`` is assigned. Lateness and
    firing of ``p``'s windows use it; the task's own watermark (stamped on what it emits)
    is the minimum over its partitions. Subclasses set ``self.state`` (a
    :class:`~riverhead.stream.stateful.PartitionedState`) in ``open_step``, passing
    :meth:`on_partition`.
    """

    state: Any

    def prepare(self, context: Context) -> None:
        inputs, self.inputs = self.inputs, []  # channels are registered per partition
        self.partition_wm: dict[int, WatermarkTracker] = {}
        super().prepare(context)
        self.inputs = inputs
        if self.state.assigned is None:  # one partition, always owned
            self.on_partition(0, True)

    def expected_channels(self) -> list[str]:
        context = self.context
        out = []
        for upstream, every_worker in self.inputs:
            workers = range(context.worker_count) if every_worker else [context.worker_index]
            out += [f"{upstream}@{w}.0" for w in workers]
        return out

    def on_partition(self, p: int, assigned: bool) -> None:
        # A revoked partition's tracker is kept: if the partition comes back (an eager
        # rebalance revokes and reassigns everything), its watermark must not restart
        # from nothing, or an upstream worker that died would hold it there until idle.
        if not assigned:
            return
        tracker = self.partition_wm.get(p) or WatermarkTracker(0, self.idle_timeout)
        now = self.now()
        for channel in self.expected_channels():
            tracker.advance(channel, NO_WATERMARK, now)
        self.partition_wm[p] = tracker

    def tracker_of(self, p: int) -> WatermarkTracker:
        tracker = self.partition_wm.get(p)
        if tracker is None:
            self.on_partition(p, True)
            tracker = self.partition_wm[p]
        return tracker

    def wm_of(self, p: int) -> int:
        """Partition ``p``'s watermark now."""
        return self.tracker_of(p).current(self.now())

    @property
    def wm(self) -> int:
        now = self.now()
        owns = self.state.owns
        wms = [t.current(now) for p, t in self.partition_wm.items() if owns(p)]
        wm = min(wms) if wms else NO_WATERMARK
        if wm > self.cur:
            self.cur = wm
        return self.cur

    def process(self, tup: Tuple) -> None:
        v = tup.values
        state = self.state
        p = state.partition(v[0])
        if not state.owns(p):
            state.skipped += 1
            self.ack(tup)
            return
        self.tracker_of(p).advance(v[4], v[3], self.now())
        self.wm  # noqa: B018  (refreshes self.cur)
        self.dispatch(tup)

    def ack_when_durable(self, p: int, tup: Tuple, changes: list[Any]) -> None:
        """Ack ``tup`` once partition ``p``'s ``changes`` are in its changelog (at once
        when there are none); fail it if the write fails."""
        if not changes:
            self.ack(tup)
            return

        def done(error: str | None) -> None:
            if error is None:
                self.ack(tup)
            else:
                self.fail(tup, error)

        self.state.send(p, changes, done)


class SourceStep(Step):
    """Kafka spout tuples to step tuples: event time from ``timestamp(value)`` (default:
    the record timestamp), watermark per source partition = max event time seen minus
    ``max_out_of_orderness_ms``; partition ``-1`` marks the end of a bounded input.

    For a topic, the watermark of a partition also waits for the records whose tuple
    trees have not completed (:func:`~riverhead.stream.kafka.lowest_pending`): it stays
    below the smallest event time of the records emitted at or above the lowest pending
    offset. So a record that fails and is replayed (a failed micro-batch is replayed
    record by record) meets a watermark that has not passed it, and counts as it would
    have the first time. Per partition, ``(last offset, min event time)`` of each emitted
    run is kept in a deque with ascending event times (a sliding-window minimum), and
    the watermark is recomputed on each tuple and on each tick."""

    def __init__(self, name: str, timestamp: Fn | None = None,
                 max_out_of_orderness_ms: int = 0, topics: Sequence[str] = (),
                 channels: Sequence[str] = (), **kw: Any) -> None:
        super().__init__(name, **kw)
        self.timestamp = timestamp
        self.ooo = max_out_of_orderness_ms
        self.topics = set(topics)
        self.channels = list(channels)
        """Partitions (``topic:p``) of a bounded source, expected from the start."""

    def open_step(self, context: Context) -> None:
        self.partitions = WatermarkTracker(self.ooo, self.idle_timeout)
        for channel in self.channels:  # as a Kafka partition is from its assignment
            self.partitions.advance(channel, NO_WATERMARK, self.now())
        self._flight: dict[str, deque[tuple[int, int]]] = {}  # (last offset, min ts)
        self._max_ts: dict[str, int] = {}
        self._last_off: dict[str, int] = {}
        self._tp: dict[str, tuple[str, int]] = {}
        if self.topics:
            kafka.ASSIGNMENT_LISTENERS.append(self._on_assignment)

    def _on_assignment(self, group: str, parts: list[tuple[str, int]], assigned: bool) -> None:
        # A newly assigned partition holds the watermark back until its first record
        # (or its idle timeout): a consumer may fetch one partition's whole backlog first.
        now = self.now()
        for topic, p in parts:
            if topic in self.topics:
                channel = f"{topic}:{p}"
                for table in (self._flight, self._max_ts, self._last_off, self._tp):
                    table.pop(channel, None)
                if assigned:
                    self.partitions.advance(channel, NO_WATERMARK, now)
                else:  # read elsewhere now: holding the watermark back would stall it
                    self.partitions.forget(channel)

    def _observe(self, src: str, topic: str, partition: int, last_off: int, min_ts: int,
                 max_ts: int, now: float) -> None:
        """Records up to ``last_off`` with these event times were emitted."""
        if last_off > self._last_off.get(src, -1):  # not a replay
            self._last_off[src] = last_off
            runs = self._flight.get(src)
            if runs is None:
                runs = self._flight[src] = deque()
                self._tp[src] = (topic, partition)
            while runs and runs[-1][1] >= min_ts:
                runs.pop()
            runs.append((last_off, min_ts))
        if max_ts > self._max_ts.get(src, NO_WATERMARK):
            self._max_ts[src] = max_ts
        self._advance(src, now)

    def _advance(self, src: str, now: float) -> None:
        wm = self._max_ts[src] - self.ooo
        runs = self._flight[src]
        if runs:
            low = kafka.lowest_pending(*self._tp[src])
            while runs and (low is None or runs[0][0] < low):
                runs.popleft()  # completed (or no longer read here)
            if runs:
                wm = min(wm, runs[0][1] - 1)
        self.partitions.advance(src, wm, now)

    def tick(self) -> None:
        now = self.now()
        for src, runs in self._flight.items():
            if runs:
                self._advance(src, now)
        super().tick()

    def cleanup(self) -> None:
        if self._on_assignment in kafka.ASSIGNMENT_LISTENERS:
            kafka.ASSIGNMENT_LISTENERS.remove(self._on_assignment)

    @property
    def wm(self) -> int:
        wm = self.cur = self.partitions.current(self.now())
        return wm

    def process(self, tup: Tuple) -> None:
        key, value, _h, topic, partition, offset, rts = tup.values
        if partition == -1:  # end of a bounded input
            self.partitions.advance(f"{topic}:eoi", MAX_WATERMARK, 0.0)
            for ch in list(self.partitions.snapshot()):
                self.partitions.advance(ch, MAX_WATERMARK, self.now())
            self.wm  # noqa: B018  (refreshes self.cur)
            self.ack(tup)
            self.maybe_punctuate()
            return
        if type(offset) is list:
            self._batch(key, value, topic, partition, offset, rts, tup)
            return
        ts = rts if self.timestamp is None else self.timestamp(value)
        if not isinstance(ts, int):
            raise ValueError(f"{self.name}: event time must be an int (ms), got {ts!r}")
        src = f"{topic}:{partition}"
        now = self.now()
        if self.topics:
            self._observe(src, topic, partition, offset, ts, ts, now)
        else:
            self.partitions.observe(src, ts, now)
        self.cur = self.partitions.current(now)
        self.out(key, value, ts, src, offset, tup)
        self.ack(tup)
        self.maybe_punctuate()

    def _batch(self, keys: list[Any], values: list[Any], topic: str, partition: int,
               offsets: list[int], rtss: list[Any], tup: Tuple) -> None:
        tss = rtss if self.timestamp is None else list(map(self.timestamp, values))
        if not tss:
            self.ack(tup)
            return
        if set(map(type, tss)) != {int}:
            bad = next(t for t in tss if type(t) is not int)
            raise ValueError(f"{self.name}: event time must be an int (ms), got {bad!r}")
        src = f"{topic}:{partition}"
        now = self.now()
        self.cur = self.partitions.current(now)  # the batch carries the watermark before it
        self.out_batch(None, [keys, values, tss, offsets], src, tup)
        if self.topics:
            self._observe(src, topic, partition, offsets[-1], min(tss), max(tss), now)
        else:
            self.partitions.observe(src, max(tss), now)
        self.cur = self.partitions.current(now)
        self.ack(tup)
        self.maybe_punctuate()


FANOUT = 1 << 20
"""Items a ``flat_map`` may make of one record. Item ``i`` of the record at offset ``o``
travels with offset ``o * FANOUT + i``: still ascending per source partition and unique,
so stateful steps downstream tell a replayed item from the record's other items."""


def _fanout(off: Any, i: int) -> Any:
    if i >= FANOUT:
        raise ValueError(f"flat_map made more than {FANOUT} items of one record")
    return None if off is None else off * FANOUT + i


class MapStep(Step):
    """``fn(value) -> iterable of values`` (``flat_map``) or ``-> value`` (``map``);
    ``filter`` keeps values for which ``fn`` is true; ``map_key`` sets the key."""

    def __init__(self, name: str, fn: Fn, mode: str, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.fn = fn
        self.mode = mode

    def on_record(self, tup: Tuple) -> None:
        key, value, ts, _wm, _c, src, off = tup.values
        mode = self.mode
        if mode == "filter":
            if self.fn(value):
                self.out(key, value, ts, src, off, tup)
        elif mode == "map":
            self.out(key, self.fn(value), ts, src, off, tup)
        elif mode == "flat_map":
            for i, item in enumerate(self.fn(value)):
                self.out(key, item, ts, src, _fanout(off, i), tup)
        elif mode == "map_key":
            self.out(self.fn(value), value, ts, src, off, tup)
        self.ack(tup)

    def on_batch(self, tup: Tuple) -> None:
        route, cols, _b, _wm, _c, src, _off = tup.values
        keys, values, tss, offs = cols
        mode, fn = self.mode, self.fn
        if mode == "filter":
            self.out_batch(route, select(cols, list(map(fn, values))), src, tup)
        elif mode == "map":
            self.out_batch(route, [keys, list(map(fn, values)), tss, offs], src, tup)
        elif mode == "flat_map":
            out: Columns = [[], [], [], None if offs is None else []]
            for i, value in enumerate(values):
                for j, item in enumerate(fn(value)):
                    out[0].append(keys[i])
                    out[1].append(item)
                    out[2].append(tss[i])
                    if offs is not None:
                        out[3].append(_fanout(offs[i], j))
            self.out_batch(route, out, src, tup)
        else:
            self.emit_keyed(list(map(fn, values)), cols, src, tup)
        self.ack(tup)

    def emit_keyed(self, keys: list[Any], cols: Columns, src: Any, tup: Tuple) -> None:
        """Emit ``cols`` with their keys set to ``keys``."""
        self.out_batch(None, [keys, cols[1], cols[2], cols[3]], src, tup)


class KeyByStep(MapStep):
    """Sets the key; punctuations go to every partition and task downstream."""

    data_carries_watermark = False

    def __init__(self, name: str, fn: Fn, downstream: Sequence[str], **kw: Any) -> None:
        super().__init__(name, fn, "map_key", **kw)
        self.downstream = list(downstream)

    def open_step(self, context: Context) -> None:
        keys: set[str] = set()
        brokers = context.config.get("brokers")
        placements: set[tuple[str, int]] = set()
        for target in self.downstream:
            rp = f"__rp-out.{target}.{context.component_id}.default"
            if rp in context.component_tasks and brokers:
                topic = f"{context.topology}.{target}.{context.component_id}.default.repartition"
                n = topic_partitions(str(brokers), topic)
                placements.add(("kafka", n))
                keys.update(_covering_keys(n, _kafka_place(n)).values())
            elif target in context.component_tasks:
                n = len(context.tasks_of(target))
                placements.add(("task", n))
                keys.update(_covering_keys(n, _task_place(n)).values())
        self.routing_keys = sorted(keys) or ["__wm"]
        # A micro-batch is split by the place (task or repartition partition) of each
        # record's key and each part routed by a covering key of that place. Targets
        # placing keys differently get records one by one instead.
        self._memo: PlaceMemo | None = None
        self._route: dict[int, str] = {}
        if len(placements) == 1:
            kind, n = placements.pop()
            place = _kafka_place(n) if kind == "kafka" else _task_place(n)
            self._route = _covering_keys(n, place)
            self._memo = PlaceMemo(place) if n > 1 else None
        self._split = bool(self.downstream) and not self._route
        log.info("%s: punctuations to %s reach every task/partition of %s",
                 context.component_id, self.routing_keys, self.downstream)

    def punctuate(self, wm: int) -> None:
        for key in self.routing_keys:
            self.emit((key, None, None, wm, self.channel, None, None))

    def emit_keyed(self, keys: list[Any], cols: Columns, src: Any, tup: Tuple) -> None:
        cols = [keys, cols[1], cols[2], cols[3]]
        if self._split:  # no common placement: one record at a time
            offs = cols[3]
            for i, key in enumerate(keys):
                self.out(key, cols[1][i], cols[2][i], src,
                         None if offs is None else offs[i], tup)
            return
        if self._memo is None:
            self.out_batch(next(iter(self._route.values()), None), cols, src, tup)
            return
        for p, part in split(cols, self._memo.places(keys)).items():
            self.out_batch(self._route[p], part, src, tup)


def _kafka_place(n: int) -> Callable[[str], int]:
    return lambda key: partition_for(key_bytes([key]), n)


def _task_place(n: int) -> Callable[[str], int]:
    return lambda key: stable_hash(key) % n


def _covering_keys(n: int, place: Callable[[str], int]) -> dict[int, str]:
    """Strings ``__wm<i>`` that together reach each of ``n`` places, by place."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < n and i < 100_000:
        key = f"__wm{i}"
        found.setdefault(place(key), key)
        i += 1
    return found


class EndOfInput:
    """Marker item of :class:`ItemsSpout`'s end."""


class ItemsSpout(Spout):
    """A bounded in-memory source shaped like a Kafka spout: ``items`` are values (or
    ``(key, value)`` with ``keyed``), spread over ``partitions`` round robin, with offsets
    per partition and record timestamps equal to the item's index. ``items`` may also be
    a function returning an iterable, called in ``open`` (large inputs, not kept in
    memory). Ends with a tuple of partition ``-1``: the end of input, where the
    watermark goes to the maximum. With ``batch_size`` > 1 it emits micro-batches of up
    to that many items per partition (:mod:`riverhead.stream.microbatch`)."""

    outputs = SPOUT_FIELDS

    def __init__(self, topic: str, items: Sequence[Any] | Callable[[], Iterable[Any]],
                 partitions: int = 1, keyed: bool = False, batch_size: int = 1) -> None:
        self.topic = topic
        self.items = items if callable(items) else list(items)
        self.partitions = partitions
        self.keyed = keyed
        self.batch_size = max(1, int(batch_size))

    def open(self, context: Context) -> None:
        self._i = 0
        self._offsets = [0] * self.partitions
        self._iter = iter(self.items() if callable(self.items) else self.items)
        self._done = False

    def next_tuple(self) -> None:
        if self._done:
            return
        if self.batch_size > 1:
            self._next_batch()
            return
        try:
            item = next(self._iter)
        except StopIteration:
            self._done = True
            self.emit((None, None, [], self.topic, -1, -1, None), msg_id=("eoi",))
            return
        key, value = item if self.keyed else (None, item)
        p = self._i % self.partitions
        off = self._offsets[p]
        self._offsets[p] += 1
        self.emit((key, value, [], self.topic, p, off, self._i), msg_id=(p, off))
        self._i += 1

    def _next_batch(self) -> None:
        n = self.partitions
        chunk = list(itertools.islice(self._iter, self.batch_size * n))
        if not chunk:
            self._done = True
            self.emit((None, None, [], self.topic, -1, -1, None), msg_id=("eoi",))
            return
        if self.keyed:
            keys, values = [k for k, _ in chunk], [v for _, v in chunk]
        else:
            keys, values = [None] * len(chunk), chunk
        first = self._i
        for j in range(min(n, len(chunk))):  # item i goes to partition i % n
            p = (first + j) % n
            rows = range(j, len(chunk), n)
            off = self._offsets[p]
            self._offsets[p] += len(rows)
            self.emit((keys[j::n] if n > 1 else keys, values[j::n] if n > 1 else values,
                       [[]] * len(rows), self.topic, p, list(range(off, off + len(rows))),
                       list(range(first + j, first + len(chunk), n))),
                      msg_id=(p, off, len(rows)))
        self._i += len(chunk)
