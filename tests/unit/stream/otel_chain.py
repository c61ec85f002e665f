"""The topology of the OpenTelemetry tests (``test_otel.py``), in a module of its own
that imports no ``opentelemetry``: the off-by-default test imports it in a fresh
process and checks nothing of OpenTelemetry was loaded."""

from __future__ import annotations

from typing import Any

from riverhead.stream import Bolt, Spout, Topology, Tuple
from riverhead.stream.traces import span_of
from riverhead.tracing import TraceContext

PARENTS = [TraceContext.new(), TraceContext.new(), None, TraceContext.new(sampled=False)]
LINES = ["a b", "c", "d e", "f"]
EMITTED: dict[str, TraceContext] = {}  # line -> the spout's span
SUNK: dict[str, TraceContext] = {}  # word -> the sink's span (its output's traceparent)


class Records(Spout):
    """Lines with the traceparent their record had (or none), like the Kafka spout."""

    outputs = ("line", "traceparent")
    emits_traces = True

    def open(self, context: Any) -> None:
        self.items = iter(zip(LINES, PARENTS, strict=True))

    def trace_parent(self, values: Any) -> TraceContext | None:
        return TraceContext.parse(values[1])

    def next_tuple(self) -> None:
        item = next(self.items, None)
        if item is not None:
            line, parent = item
            span = parent.child() if parent is not None else TraceContext.new()
            EMITTED[line] = span
            header = parent.format() if parent is not None else None
            self.emit((line, header), msg_id=line, trace=span)


class Split(Bolt):
    outputs = ("word",)

    def process(self, tup: Tuple) -> None:
        for word in tup[0].split():
            self.emit((word,), anchors=[tup])
        self.ack(tup)


class Upper(Bolt):
    outputs = ("word",)

    def process(self, tup: Tuple) -> None:
        if tup[0] == "e":
            raise ValueError("no e allowed")
        self.emit((tup[0].upper(),), anchors=[tup])
        self.ack(tup)


class Sink(Bolt):
    outputs = ()

    def process(self, tup: Tuple) -> None:
        span = span_of(tup)
        assert span is not None
        SUNK[tup[0]] = span
        self.ack(tup)


def topology(**config: Any) -> Topology:
    t = Topology("otel-chain", **config)
    t.spout("records", Records())
    t.bolt("split", Split(), parallelism=2).shuffle_grouping("records")
    t.bolt("upper", Upper()).shuffle_grouping("split")
    t.bolt("sink", Sink()).shuffle_grouping("upper")
    return t
