"""The dataflow DSL: typed, named steps compiled to a :class:`~riverhead.stream.Topology`.

::

    app = App("shop", brokers="127.0.0.1:9092")
    events = app.source("shop-events", value="json", timestamp=lambda e: e["ts"],
                        max_out_of_orderness=5)
    purchases = events.filter("purchases", lambda e: e["type"] == "purchase")
    (purchases.key_by("by-product", lambda e: e["product_id"])
              .window("per-minute", tumbling(seconds=60), allowed_lateness=10)
              .aggregate("revenue", sum_of(lambda e: e["price"]))
              .to("revenue-per-minute"))
    topology = app.topology()          # run it: riverhead stream run app.py --workers 2

Every step gets a name (its component id, so it shows in metrics and topic names).
``Stream`` is a stream of values; ``KeyedStream`` (after ``key_by``) can be windowed or
joined; ``WindowedStream.aggregate`` gives a stream of window results
``{"key", "window_start", "window_end", "result", "update"}``. Durations are seconds.
Each step is one bolt with one task per worker (add workers to scale); stateful steps
keep changelogged state (:mod:`riverhead.stream.stateful`).

For tests, ``app.source(..., items=[...])`` reads a list instead of a topic and
``stream.collect(name)`` keeps results in memory; ``app.run()`` runs the whole app in
this thread until the (bounded) input is consumed and every window has fired (the end
of a bounded input moves the watermark to the end of time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from riverhead.stream.aggregations import Aggregation
from riverhead.stream.components import Bolt, Context
from riverhead.stream.formats import encode
from riverhead.stream.joins import ItemsTableSpout, JoinStep, TableJoinStep, TableSpout, UnionStep
from riverhead.stream.kafka import KafkaBolt, KafkaSpout
from riverhead.stream.microbatch import BATCH
from riverhead.stream.operators import (
    LATE_STREAM,
    ItemsSpout,
    KeyByStep,
    MapStep,
    SourceStep,
    Step,
)
from riverhead.stream.runner import LocalRunner
from riverhead.stream.topology import Topology
from riverhead.stream.traces import span_of
from riverhead.stream.tuples import Tuple
from riverhead.stream.windowed import WindowStep
from riverhead.stream.windows import Assigner
from riverhead.tracing import with_traceparent

T = TypeVar("T")
U = TypeVar("U")


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class App:
    """A named application: sources, steps and sinks; :meth:`topology` compiles it.

    ``brokers``: bootstrap servers for sources, sinks and changelogs (default: the run's
    ``brokers`` setting). ``store``: ``"memory"`` or ``"sqlite"`` for stateful steps.
    ``idle_timeout``: seconds after which a silent input stops holding watermarks back.
    ``standby``: stateful steps keep warm copies of the partitions other workers own
    (:mod:`riverhead.stream.state.standby`). ``capture``: ``to(topic)`` keeps
    ``(key, value)`` pairs in ``collected[topic]`` instead of writing (tests).
    ``batch_size``: records per micro-batch between steps
    (:mod:`riverhead.stream.microbatch`; watermarks then move between batches); default
    up to a Kafka poll's worth (500) for topic sources and 1 (record at a time) for
    ``items`` sources. ``config``: topology settings (see docs/stream.md).
    """

    def __init__(self, name: str, brokers: str | None = None, *, store: str = "memory",
                 idle_timeout: float = 30.0, capture: bool = False, standby: bool = False,
                 batch_size: int | None = None, **config: Any) -> None:
        self.name = name
        self.batch_size = batch_size
        self.standby = standby
        self.capture = capture
        self.brokers = brokers
        self.store = store
        self.idle_timeout = idle_timeout
        self._topology = Topology(name, **config)
        if brokers:
            self._topology.config.setdefault("brokers", brokers)
        self.collected: dict[str, list[Any]] = {}

    # ---- building ----------------------------------------------------------------------

    def _bolt(self, name: str, bolt: Bolt) -> Any:
        return self._topology.bolt(name, bolt)

    def _step_kw(self) -> dict[str, Any]:
        return {"idle_timeout": self.idle_timeout}

    def source(self, topic: str, *, name: str | None = None, value: str = "json",
               timestamp: Callable[[Any], int] | None = None,
               max_out_of_orderness: float = 0.0,
               items: Sequence[Any] | Callable[[], Iterable[Any]] | None = None,
               partitions: int = 1, group: str | None = None) -> Stream[Any]:
        """Records of ``topic`` (decoded as ``value``: json, string or bytes); event time
        ``timestamp(value)`` in ms (default: the record timestamp); watermarks allow
        ``max_out_of_orderness`` seconds of disorder. ``items``: read this list instead
        (spread over ``partitions``; a test source), or a function returning an iterable
        (called when the run starts; large inputs). The step is named ``name`` (default
        ``topic``); the spout is ``<name>.read`` in consumer group ``group`` (default
        ``<app>.<name>``)."""
        name = name or topic
        spout_id = f"{name}.read"
        if items is not None:
            self._topology.spout(spout_id, ItemsSpout(topic, items, partitions,
                                                      batch_size=self.batch_size or 1))
        else:
            self._topology.spout(spout_id, KafkaSpout(
                topic, group or f"{self.name}.{name}", self.brokers, value_format=value,
                batch=self.batch_size or 500))
        step = SourceStep(name, timestamp, _ms(max_out_of_orderness),
                          () if items is not None else (topic,),
                          [f"{topic}:{p}" for p in range(partitions)] if items is not None
                          else (), **self._step_kw())
        self._bolt(name, step).local_or_shuffle_grouping(spout_id)
        return Stream(self, name)

    def table(self, topic: str, *, name: str | None = None, value: str = "json",
              items: Sequence[tuple[Any, Any]] | None = None) -> Table:
        """A compacted topic read whole by every worker (or ``items`` in tests)."""
        name = name or f"{topic}.table"
        spout = ItemsTableSpout(items) if items is not None else TableSpout(
            topic, value, self.brokers)
        self._topology.spout(name, spout)
        return Table(self, name)

    def topology(self) -> Topology:
        """The compiled topology (validated)."""
        self._topology.validate()
        return self._topology

    def run(self, timeout: float = 600.0, **config: Any) -> dict[str, list[Any]]:
        """Run in this thread until idle (tests, bounded ``items`` sources); returns the
        collected values per ``collect`` name."""
        config.setdefault("deterministic", True)
        LocalRunner(self.topology(), collect=False, **config).run(until_idle=True,
                                                                  timeout=timeout)
        return self.collected


class Stream(Generic[T]):
    """A stream of values produced by step ``name``."""

    def __init__(self, app: App, name: str, stream: str = "default") -> None:
        self.app = app
        self.name = name
        self.stream = stream

    def _then(self, name: str, bolt: Bolt) -> Any:
        declarer = self.app._bolt(name, bolt)
        if isinstance(bolt, Step):
            bolt.inputs.append((self.name, False))
        return declarer.local_or_shuffle_grouping(self.name, stream=self.stream)

    def filter(self, name: str, fn: Callable[[T], bool]) -> Stream[T]:
        """Values for which ``fn`` is true."""
        self._then(name, MapStep(name, fn, "filter", **self.app._step_kw()))
        return Stream(self.app, name)

    def map(self, name: str, fn: Callable[[T], U]) -> Stream[U]:
        """``fn(value)`` for each value."""
        self._then(name, MapStep(name, fn, "map", **self.app._step_kw()))
        return Stream(self.app, name)

    def flat_map(self, name: str, fn: Callable[[T], Iterable[U]]) -> Stream[U]:
        """Every item of ``fn(value)``."""
        self._then(name, MapStep(name, fn, "flat_map", **self.app._step_kw()))
        return Stream(self.app, name)

    def key_by(self, name: str, fn: Callable[[T], Any]) -> KeyedStream[T]:
        """Key each value by ``fn(value)`` (a str, int or tuple of them); keyed steps
        downstream get all values of a key in one task, cluster-wide."""
        step = KeyByStep(name, fn, [], **self.app._step_kw())
        self._then(name, step)
        return KeyedStream(self.app, name, step)

    def join_table(self, name: str, table: Table, key: Callable[[T], Any],
                   fn: Callable[[T, Any], U], *, left: bool = False) -> Stream[U]:
        """``fn(value, table[key(value)])``; without a row the value is dropped (or
        joined with ``None`` when ``left``)."""
        step = TableJoinStep(name, table.name, key, fn, left, **self.app._step_kw())
        self._then(name, step).all_grouping(table.name)
        return Stream(self.app, name)

    def to(self, topic: str, *, name: str | None = None,
           key: Callable[[T], Any] | None = None) -> None:
        """Write each value as JSON to ``topic``; the record key is ``key(value)``
        (default: the stream's key), as a string."""
        src: Stream[Any] = self
        if key is not None:
            kname = f"{name or topic}.key"
            self._then(kname, KeyByStepNoBroadcast(kname, key, **self.app._step_kw()))
            src = Stream(self.app, kname)
        sink: Bolt = StepSink(topic, brokers=self.app.brokers)
        if self.app.capture:
            sink = CollectSink(self.app.collected.setdefault(topic, []), with_key=True)
        src._then(name or f"{topic}.write", sink)

    def collect(self, name: str) -> list[T]:
        """Keep the values in memory: ``app.collected[name]`` (tests)."""
        out: list[Any] = self.app.collected.setdefault(name, [])
        self._then(name, CollectSink(out))
        return out


class KeyedStream(Stream[T]):
    """A stream keyed by :meth:`Stream.key_by`."""

    def __init__(self, app: App, name: str, step: KeyByStep) -> None:
        super().__init__(app, name)
        self.step = step

    def window(self, name: str, assigner: Assigner, *, allowed_lateness: float = 0.0,
               early: bool = False) -> WindowedStream[T]:
        """Windows per key (``tumbling``, ``hopping``, ``session``, ``count_window``);
        ``early``: also emit each window's current result on every change before it
        fires (``"early": true``)."""
        return WindowedStream(self, name, assigner, _ms(allowed_lateness), early)

    def join(self, name: str, other: KeyedStream[U], *, within: float,
             fn: Callable[[T, U], Any], allowed_lateness: float = 0.0) -> Stream[Any]:
        """Pairs of values with the same key and event times at most ``within`` seconds
        apart, as ``fn(left, right)`` (each pair once, whichever arrives first)."""
        union = f"{name}.union"
        step = UnionStep(union, self.name, [name], **self.app._step_kw())
        step.inputs += [(self.name, False), (other.name, False)]
        self.app._bolt(union, step).local_or_shuffle_grouping(self.name) \
            .local_or_shuffle_grouping(other.name)
        join = JoinStep(name, _ms(within), fn, allowed_lateness_ms=_ms(allowed_lateness),
                        store=self.app.store, standby=self.app.standby,
                        **self.app._step_kw())
        join.inputs.append((union, True))
        self.app._bolt(name, join).fields_grouping(union, "key")
        return Stream(self.app, name)


class WindowedStream(Generic[T]):
    def __init__(self, keyed: KeyedStream[T], name: str, assigner: Assigner,
                 lateness_ms: int, early: bool = False) -> None:
        self.early = early
        self.keyed = keyed
        self.name = name
        self.assigner = assigner
        self.lateness_ms = lateness_ms

    def aggregate(self, name: str, aggregation: Aggregation) -> Stream[dict[str, Any]]:
        """Window results ``{"key", "window_start", "window_end", "result", "update",
        "early"}``;
        late records are on ``.late()`` of the returned stream."""
        app = self.keyed.app
        step = WindowStep(name, self.assigner, aggregation,
                          allowed_lateness_ms=self.lateness_ms, store=app.store,
                          early=self.early, standby=app.standby, **app._step_kw())
        step.inputs.append((self.keyed.name, True))
        app._bolt(name, step).fields_grouping(self.keyed.name, "key")
        self.keyed.step.downstream.append(name)
        return ResultStream(app, name)


class ResultStream(Stream[dict[str, Any]]):
    """Window results; :meth:`late` is the side output of records too late to count."""

    def late(self) -> Stream[Any]:
        return Stream(self.app, self.name, LATE_STREAM)


class Table:
    def __init__(self, app: App, name: str) -> None:
        self.app = app
        self.name = name


class KeyByStepNoBroadcast(MapStep):
    """Sets the key for a sink (no keyed step follows)."""

    def __init__(self, name: str, fn: Callable[[Any], Any], **kw: Any) -> None:
        super().__init__(name, fn, "map_key", **kw)


class StepSink(KafkaBolt):
    """A KafkaBolt for step tuples: key and value fields; punctuations are skipped; a
    micro-batch is written record by record and acked when the broker has them all."""

    def __init__(self, topic: str, brokers: str | None = None) -> None:
        super().__init__(topic, key_field="key", value_field="value", brokers=brokers)

    def process(self, tup: Tuple) -> None:
        v = tup.values
        if v[2] is None:
            self.ack(tup)
        elif v[2] == BATCH:
            self._write_batch(tup)
        else:
            super().process(tup)

    def _write_batch(self, tup: Tuple) -> None:
        keys, values = tup.values[1][0], tup.values[1][1]
        span = span_of(tup)
        headers = None if span is None else with_traceparent(None, span)
        left = [len(values)]
        failed: list[str] = []

        def delivered(err: Any, msg: Any) -> None:
            left[0] -= 1
            if err is not None:
                if not failed:
                    failed.append(str(err))
                    self.fail(tup, f"delivery to {self.topic} failed: {err}")
                return
            self.written += 1
            if left[0] == 0 and not failed:
                self.ack(tup)

        vf, kf = self.value_format, self.key_format
        for key, value in zip(keys, values, strict=True):
            self.send(encode(vf, value), None if key is None else encode(kf, key), headers,
                      delivered)
        self._producer.poll(0)


class CollectSink(Bolt):
    """Appends each value to a list shared by every copy (tests)."""

    def __init__(self, out: list[Any], with_key: bool = False) -> None:
        self.out = out
        self.with_key = with_key

    def __deepcopy__(self, memo: dict[int, Any]) -> CollectSink:
        return CollectSink(self.out, self.with_key)

    def prepare(self, context: Context) -> None:
        pass

    def process(self, tup: Tuple) -> None:
        v = tup.values
        if v[2] == BATCH:
            keys, values = v[1][0], v[1][1]
            if self.with_key:
                self.out.extend((None if k is None else str(k), x)
                                for k, x in zip(keys, values, strict=True))
            else:
                self.out.extend(values)
        elif v[2] is not None:
            self.out.append((None if v[0] is None else str(v[0]), v[1]) if self.with_key
                            else v[1])
        self.ack(tup)
