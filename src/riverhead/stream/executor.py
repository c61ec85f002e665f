"""Tasks and their collectors: the per-tuple hot path of every runner.

:func:`build_tasks` turns a validated :class:`~riverhead.stream.Topology` into
:class:`Task` objects: one deep copy of each component per task, an input queue (a plain
list) per bolt task, and per task a specialised ``emit``/``ack``/``fail`` set on the
instance. Emitting routes a tuple straight into the target tasks' input lists (no
scheduler hop): routes are precomputed per (task, stream) as one of

* ``ROUTE_NEXT``: a C-level ``itertools.cycle`` over the targets' ``list.append``
  (shuffle, local-or-shuffle);
* ``ROUTE_KEYED``: a function of the values returning the target's ``append`` (fields),
  memoised per key value in a dict the fast path reads directly;
* ``ROUTE_ALL``: a list of appends (all, global).

With acking on, each anchored child gets a fresh 64-bit edge id per anchor (Storm's
``BoltOutputCollector.boltEmit``); acks update the in-process
:class:`~riverhead.stream.acker.Acker`'s records inline. With acking off or no anchors,
one untracked :class:`~riverhead.stream.tuples.Tuple` is shared by every target.

The default stream's ``emit`` is specialised when it has at most one route and no
collection (the common case and the benchmark's): no per-call stream lookup, route kind
decided once, memo lookup inlined. Every other case takes the generic path.

Everything here runs on the runner's thread and is not thread-safe.
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from riverhead.stream.acker import Acker
from riverhead.stream.components import Component, Context, Failure
from riverhead.stream.errors import StreamError
from riverhead.stream.groupings import GroupingKind, Subscription, stable_hash
from riverhead.stream.metrics import TaskMetrics
from riverhead.stream.topology import ComponentSpec, Topology
from riverhead.stream.traces import tagging, traced_components
from riverhead.stream.tuples import DEFAULT_STREAM, Origin, Tuple

ROUTE_NEXT, ROUTE_KEYED, ROUTE_ALL = 0, 1, 2
KEY_MEMO_LIMIT = 1 << 16

Append = Callable[[Tuple], None]
# (kind, chooser, key position or -1, memo or None)
Route = tuple[int, Any, int, dict[Any, Any] | None]
# (origin, width, routes, direct targets by task id, collector append or None)
StreamEntry = tuple[Origin, int, list[Route], dict[int, Append], Callable[[Any], None] | None]


class Task:
    """One task: a component instance, its context, input queue and metrics."""

    __slots__ = (
        "active", "component", "context", "inbox", "instance", "is_spout", "metrics",
        "next_tick", "slot", "spec", "task_id", "tick_interval",
    )

    def __init__(
        self, spec: ComponentSpec, instance: Component, task_id: int, context: Context, slot: int
    ) -> None:
        self.spec = spec
        self.component = spec.id
        self.instance = instance
        self.task_id = task_id
        self.context = context
        self.is_spout = spec.is_spout
        self.slot = slot
        self.inbox: list[Tuple] = []
        self.metrics = TaskMetrics(spec.id, task_id, spec.is_spout)
        self.active = True
        self.tick_interval = instance.tick_interval
        self.next_tick = 0.0

    def __repr__(self) -> str:
        return f"Task({self.component}[{self.task_id}])"


@dataclass
class Wiring:
    """What collectors share: the acker, random source, clock box and collection lists."""

    acker: Acker | None
    rng: random.Random
    now: list[float]  # a one-element box the runner updates each round
    immediate_acks: list[tuple[int, Any]]  # (slot, msg_id) acked at once (acking off)
    collected: dict[tuple[str, str], list[Any]] | None
    collect_components: frozenset[str] | None  # None: all components
    # [anchors, span] of the traced emit in progress (see traces.tagging)
    trace_box: list[Any] = field(default_factory=lambda: [None, None])


def _unknown_stream(component: str, stream: str, table: dict[str, StreamEntry]) -> StreamError:
    return StreamError(
        f"{component} emitted on undeclared stream {stream!r} (declared: {', '.join(table)})"
    )


def _width_error(origin: Origin, values: Sequence[Any]) -> StreamError:
    return StreamError(
        f"{origin.component} emitted {len(values)} values on {origin.stream}, which has "
        f"fields {origin.fields}: {tuple(values)!r}"
    )


def build_tasks(
    topology: Topology,
    wiring: Wiring,
    config: dict[str, Any],
    worker_index: int = 0,
    worker_count: int = 1,
) -> list[Task]:
    """Instantiate every task of ``topology`` and wire its collectors (see module doc)."""
    topology.validate()
    tasks: list[Task] = []
    ids: dict[str, tuple[int, ...]] = {}
    next_id = 0
    for spec in topology.components.values():
        ids[spec.id] = tuple(range(next_id, next_id + spec.parallelism))
        next_id += spec.parallelism
    slot = 0
    for spec in topology.components.values():
        for index, task_id in enumerate(ids[spec.id]):
            ctx = Context(
                topology.name, spec.id, task_id, index, spec.parallelism,
                {**config, **spec.config}, worker_index, worker_count, ids,
            )
            instance = copy.deepcopy(spec.component)
            tasks.append(Task(spec, instance, task_id, ctx, slot if spec.is_spout else -1))
            if spec.is_spout:
                slot += 1
    by_id = {t.task_id: t for t in tasks}
    memos: dict[Subscription, dict[Any, Append]] = {}
    traced = traced_components(topology) if config.get("tracing", True) else set()
    box = wiring.trace_box
    for task in tasks:
        is_traced = task.component in traced
        table: dict[str, StreamEntry] = {}
        for stream, sdef in task.spec.streams.items():
            origin = Origin(task.spec.alias or task.component, stream, task.task_id,
                            sdef.fields, sdef.direct)
            routes: list[Route] = []
            direct: dict[int, Append] = {}
            for sub in topology.subscribers(task.component, stream):
                targets = [by_id[i] for i in ids[sub.target]]
                appends = [t.inbox.append for t in targets]
                if is_traced:
                    appends = [tagging(app, box) for app in appends]
                if sub.kind is GroupingKind.DIRECT:
                    direct.update({t.task_id: app for t, app in zip(targets, appends, strict=True)})
                else:
                    memo = memos.setdefault(sub, {})
                    routes.append(_route(sub, appends, origin, memo, wiring.rng))
            collect = None
            if wiring.collected is not None and (
                wiring.collect_components is None or task.component in wiring.collect_components
            ):
                collect = wiring.collected.setdefault((task.component, stream), []).append
            table[stream] = (origin, len(sdef.fields), routes, direct, collect)
        _bind(task, table, wiring, is_traced)
    return tasks


def _route(
    sub: Subscription,
    appends: list[Append],
    origin: Origin,
    memo: dict[Any, Append],
    rng: random.Random,
) -> Route:
    kind = sub.kind
    if kind in (GroupingKind.SHUFFLE, GroupingKind.LOCAL_OR_SHUFFLE):
        start = rng.randrange(len(appends))
        return ROUTE_NEXT, itertools.cycle(appends[start:] + appends[:start]).__next__, -1, None
    if kind is GroupingKind.GLOBAL:
        return ROUTE_ALL, [appends[0]], -1, None
    if kind is GroupingKind.ALL:
        return ROUTE_ALL, appends, -1, None
    # FIELDS
    n = len(appends)
    positions = [origin.index[f] for f in sub.fields]
    single = len(positions) == 1
    pos = positions[0]

    def choose(values: Sequence[Any]) -> Append:
        key = values[pos] if single else tuple([values[p] for p in positions])
        try:
            return memo[key]
        except KeyError:
            pass
        except TypeError:  # unhashable value: route without the memo
            return appends[stable_hash(key) % n]
        if len(memo) >= KEY_MEMO_LIMIT:
            memo.clear()
        target = memo[key] = appends[stable_hash(key) % n]
        return target

    return ROUTE_KEYED, choose, pos if single else -1, memo


def _set(instance: Component, name: str, fn: Callable[..., Any]) -> None:
    object.__setattr__(instance, name, fn)


def _bind(task: Task, table: dict[str, StreamEntry], wiring: Wiring, traced: bool) -> None:
    if task.is_spout:
        _bind_spout(task, table, wiring, traced)
    else:
        _bind_bolt(task, table, wiring, traced)


def _deliver_untracked(tup: Tuple, values: Sequence[Any], routes: list[Route]) -> None:
    for kind, ch, _pos, _memo in routes:
        if kind == ROUTE_NEXT:
            ch()(tup)
        elif kind == ROUTE_KEYED:
            ch(values)(tup)
        else:
            for app in ch:
                app(tup)


def _bind_spout(task: Task, table: dict[str, StreamEntry], wiring: Wiring, traced: bool) -> None:
    acker = wiring.acker
    rand = wiring.rng.getrandbits
    now = wiring.now
    slot = task.slot
    metrics = task.metrics
    component = task.component
    immediate = wiring.immediate_acks.append

    def send(values: Sequence[Any], msg_id: Any, entry: StreamEntry, target: Append | None) -> None:
        origin, width, routes, _direct, collect = entry
        if len(values) != width:
            raise _width_error(origin, values)
        metrics.emitted += 1
        if collect is not None:
            collect(values)
        if msg_id is None or acker is None:
            if msg_id is not None:
                immediate((slot, msg_id))
            tup = Tuple(values, origin)
            if target is not None:
                target(tup)
            else:
                _deliver_untracked(tup, values, routes)
            return
        root = rand(64) or 1
        ids = {root: 0}
        val = 0
        if target is not None:
            val = edge = rand(64) or 1
            target(Tuple(values, origin, ids, edge))
        else:
            for kind, ch, _pos, _memo in routes:
                if kind == ROUTE_ALL:
                    for app in ch:
                        edge = rand(64) or 1
                        val ^= edge
                        app(Tuple(values, origin, ids, edge))
                    continue
                edge = rand(64) or 1
                val ^= edge
                if kind == ROUTE_NEXT:
                    ch()(Tuple(values, origin, ids, edge))
                else:
                    ch(values)(Tuple(values, origin, ids, edge))
        acker.init(root, val, slot, msg_id, now[0])

    box = wiring.trace_box

    def emit(
        values: Sequence[Any], msg_id: Any = None, stream: str = DEFAULT_STREAM, trace: Any = None
    ) -> None:
        try:
            entry = table[stream]
        except KeyError:
            raise _unknown_stream(component, stream, table) from None
        if traced and trace is not None:
            box[1] = trace
            try:
                send(values, msg_id, entry, None)
            finally:
                box[1] = None
            return
        send(values, msg_id, entry, None)

    def emit_direct(
        target_task: int,
        values: Sequence[Any],
        msg_id: Any = None,
        stream: str = DEFAULT_STREAM,
        trace: Any = None,
    ) -> None:
        try:
            entry = table[stream]
        except KeyError:
            raise _unknown_stream(component, stream, table) from None
        target = _direct_target(component, stream, entry, target_task)
        box[1] = trace if traced else None
        try:
            send(values, msg_id, entry, target)
        finally:
            box[1] = None

    _set(task.instance, "emit", emit)
    _set(task.instance, "emit_direct", emit_direct)


def _direct_target(component: str, stream: str, entry: StreamEntry, task_id: int) -> Append:
    origin, _w, _routes, direct, _c = entry
    if not origin.direct:
        raise StreamError(f"{component}: emit_direct on {stream!r}, which is not a direct stream")
    try:
        return direct[task_id]
    except KeyError:
        raise StreamError(
            f"{component}: emit_direct to task {task_id}, which does not subscribe to "
            f"{component}/{stream} (subscribers: {sorted(direct)})"
        ) from None


def _child_factory(rand: Callable[[int], int]) -> Callable[[Sequence[Any], Origin, Any], Tuple]:
    """``child(values, origin, anchors)``: a tuple anchored to ``anchors`` (a sequence),
    updating each tracked anchor's ``ack_val`` with the child's new edge id."""

    def child(values: Sequence[Any], origin: Origin, anchors: Any) -> Tuple:
        if len(anchors) == 1:
            a = anchors[0]
            aids = a.ids
            if aids is None:
                return Tuple(values, origin)
            edge = rand(64) or 1
            a.ack_val ^= edge
            return Tuple(values, origin, aids, edge)
        merged: dict[int, int] | None = None
        for a in anchors:
            aids = a.ids
            if aids:
                edge = rand(64) or 1
                a.ack_val ^= edge
                if merged is None:
                    merged = {}
                for r in aids:
                    merged[r] = merged.get(r, 0) ^ edge
        if merged is None:
            return Tuple(values, origin)
        return Tuple(values, origin, merged, 0)

    return child


def _bind_bolt(task: Task, table: dict[str, StreamEntry], wiring: Wiring, traced: bool) -> None:
    acker = wiring.acker
    rand = wiring.rng.getrandbits
    now = wiring.now
    metrics = task.metrics
    component = task.component
    child = _child_factory(rand)

    def send(
        values: Sequence[Any], anchors: Any, entry: StreamEntry, target: Append | None
    ) -> None:
        origin, width, routes, _direct, collect = entry
        if len(values) != width:
            raise _width_error(origin, values)
        metrics.emitted += 1
        if collect is not None:
            collect(values)
        if not anchors or acker is None:
            tup = Tuple(values, origin)
            if target is not None:
                target(tup)
            else:
                _deliver_untracked(tup, values, routes)
            return
        if anchors.__class__ is Tuple:
            anchors = (anchors,)
        if target is not None:
            target(child(values, origin, anchors))
            return
        for kind, ch, _pos, _memo in routes:
            if kind == ROUTE_NEXT:
                ch()(child(values, origin, anchors))
            elif kind == ROUTE_KEYED:
                ch(values)(child(values, origin, anchors))
            else:
                for app in ch:
                    app(child(values, origin, anchors))

    def generic_emit(
        values: Sequence[Any], anchors: Any = None, stream: str = DEFAULT_STREAM
    ) -> None:
        try:
            entry = table[stream]
        except KeyError:
            raise _unknown_stream(component, stream, table) from None
        send(values, anchors, entry, None)

    def emit_direct(
        target_task: int, values: Sequence[Any], anchors: Any = None, stream: str = DEFAULT_STREAM
    ) -> None:
        try:
            entry = table[stream]
        except KeyError:
            raise _unknown_stream(component, stream, table) from None
        send(values, anchors, entry, _direct_target(component, stream, entry, target_task))

    emit = generic_emit
    default = table.get(DEFAULT_STREAM)
    if traced:
        emit, emit_direct = _traced_emits(generic_emit, emit_direct, wiring.trace_box)
    elif default is not None:
        emit = _fast_emit(default, generic_emit, metrics, acker is not None, rand) or generic_emit

    if acker is None:

        def ack(tup: Tuple) -> None:
            metrics.acked += 1

        def fail(tup: Tuple, error: str | None = None) -> None:
            metrics.failed += 1

        def reset_timeout(tup: Tuple) -> None:
            return None

    else:
        trees_get = acker.trees.get
        complete = acker.complete
        acker_fail = acker.fail
        acker_reset = acker.reset

        def ack(tup: Tuple) -> None:
            metrics.acked += 1
            ids = tup.ids
            if ids is not None:
                tup.ids = None
                av = tup.ack_val
                edge = tup.edge
                for r in ids:
                    rec = trees_get(r)
                    if rec is not None:
                        v = rec[0] ^ (edge or ids[r]) ^ av
                        if v:
                            rec[0] = v
                        else:
                            complete(r, rec)

        def fail(tup: Tuple, error: str | None = None) -> None:
            metrics.failed += 1
            ids = tup.ids
            if ids is not None:
                tup.ids = None
                failure = Failure("failed" if error is None else "error", component, error)
                for r in ids:
                    acker_fail(r, failure)

        def reset_timeout(tup: Tuple) -> None:
            if tup.ids:
                for r in tup.ids:
                    acker_reset(r, now[0])

    instance = task.instance
    _set(instance, "emit", emit)
    _set(instance, "emit_direct", emit_direct)
    _set(instance, "ack", ack)
    _set(instance, "fail", fail)
    _set(instance, "reset_timeout", reset_timeout)


def _traced_emits(
    emit: Callable[..., None], emit_direct: Callable[..., None], box: list[Any]
) -> tuple[Callable[..., None], Callable[..., None]]:
    """A traced bolt's collectors: each emit puts its anchors in the box, for the routes'
    tagging appends to tag its tuples with the span of the first traced anchor."""

    def traced_emit(
        values: Sequence[Any], anchors: Any = None, stream: str = DEFAULT_STREAM
    ) -> None:
        box[0] = anchors or None
        try:
            emit(values, anchors, stream)
        finally:
            box[0] = box[1] = None

    def traced_emit_direct(
        target_task: int, values: Sequence[Any], anchors: Any = None, stream: str = DEFAULT_STREAM
    ) -> None:
        box[0] = anchors or None
        try:
            emit_direct(target_task, values, anchors, stream)
        finally:
            box[0] = box[1] = None

    return traced_emit, traced_emit_direct


def _fast_emit(
    entry: StreamEntry,
    slow: Callable[..., None],
    metrics: Any,
    acking: bool,
    rand: Callable[[int], int],
) -> Callable[..., None] | None:
    """A specialised default-stream ``emit`` (see the module docstring), or None."""
    origin, width, routes, _direct, collect = entry
    if collect is not None or len(routes) > 1:
        return None
    default = DEFAULT_STREAM
    if not routes:

        def emit_nowhere(values: Sequence[Any], anchors: Any = None, stream: str = default) -> None:
            if stream != default:
                return slow(values, anchors, stream)
            if len(values) != width:
                raise _width_error(origin, values)
            metrics.emitted += 1
            return None

        return emit_nowhere
    kind, ch, pos, memo = routes[0]
    if kind == ROUTE_ALL or (kind == ROUTE_KEYED and pos < 0):
        return None
    child = _child_factory(rand)

    keyed = kind == ROUTE_KEYED
    memo_get = memo.get if memo is not None else {}.get
    if not acking:
        if keyed:

            def emit_keyed(
                values: Sequence[Any], anchors: Any = None, stream: str = default
            ) -> None:
                if stream != default:
                    return slow(values, anchors, stream)
                if len(values) != width:
                    raise _width_error(origin, values)
                metrics.emitted += 1
                try:
                    app = memo_get(values[pos])
                except TypeError:
                    app = None
                if app is None:
                    app = ch(values)
                app(Tuple(values, origin))
                return None

            return emit_keyed

        def emit_next(values: Sequence[Any], anchors: Any = None, stream: str = default) -> None:
            if stream != default:
                return slow(values, anchors, stream)
            if len(values) != width:
                raise _width_error(origin, values)
            metrics.emitted += 1
            ch()(Tuple(values, origin))
            return None

        return emit_next

    def emit(values: Sequence[Any], anchors: Any = None, stream: str = default) -> None:
        if stream != default:
            return slow(values, anchors, stream)
        if len(values) != width:
            raise _width_error(origin, values)
        metrics.emitted += 1
        if keyed:  # the memo lookup inlined: one Python call less per keyed emit
            try:
                app = memo_get(values[pos])
            except TypeError:
                app = None
            if app is None:
                app = ch(values)
        else:
            app = ch()
        if anchors:
            if anchors.__class__ is Tuple:
                a = anchors
            elif len(anchors) == 1:
                a = anchors[0]
            else:
                app(child(values, origin, anchors))
                return None
            aids = a.ids
            if aids is not None:
                edge = rand(64) or 1
                a.ack_val ^= edge
                app(Tuple(values, origin, aids, edge))
                return None
        app(Tuple(values, origin))
        return None

    return emit
