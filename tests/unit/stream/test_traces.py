"""Trace spans through a topology without a broker: a spout that emits traces, bolts that
record what they see; every hop is a child span of the one before, in the same trace."""

from __future__ import annotations

from typing import Any

import pytest

from riverhead.stream import Bolt, LocalRunner, Spout, Topology, Tuple
from riverhead.stream.traces import span_of, traced_components
from riverhead.tracing import TraceContext

pytestmark = pytest.mark.unit

ROOTS = [TraceContext.new() for _ in range(3)]
SEEN: dict[str, list[tuple[Any, TraceContext | None, TraceContext | None]]] = {}


class TracedLines(Spout):
    outputs = ("line",)
    emits_traces = True

    def open(self, context: Any) -> None:
        self.items = iter(enumerate(["a b", "c", "d e f"]))

    def next_tuple(self) -> None:
        item = next(self.items, None)
        if item is not None:
            i, line = item
            # The last line has no context: it stays untraced.
            self.emit((line,), msg_id=i, trace=ROOTS[i] if i < 2 else None)


class Record(Bolt):
    outputs = ("word",)

    def __init__(self, name: str, split: bool) -> None:
        self.name, self.split = name, split

    def process(self, tup: Tuple) -> None:
        span = span_of(tup)
        SEEN.setdefault(self.name, []).append((tup[0], getattr(tup, "trace", None), span))
        words = tup[0].split() if self.split else [tup[0]]
        for w in words:
            self.emit((w,), anchors=[tup])
        self.ack(tup)


class Unanchored(Bolt):
    outputs = ("word",)

    def process(self, tup: Tuple) -> None:
        self.emit((tup[0],))  # no anchor: the trace ends here
        self.ack(tup)


def build(tracing: bool = True) -> Topology:
    t = Topology("traces", tracing=tracing)
    t.spout("lines", TracedLines())
    t.bolt("split", Record("split", True), parallelism=2).shuffle_grouping("lines")
    t.bolt("count", Record("count", False), parallelism=2).fields_grouping("split", "word")
    t.bolt("loose", Unanchored()).shuffle_grouping("split")
    t.bolt("after", Record("after", False)).shuffle_grouping("loose")
    return t


def test_every_task_continues_the_trace_with_a_child_span() -> None:
    SEEN.clear()
    result = LocalRunner(build(), deterministic=True).run(until_idle=True)
    assert (result.acked, result.failed) == (3, 0)
    split = {line: (trace, span) for line, trace, span in SEEN["split"]}
    for i, line in enumerate(["a b", "c"]):
        trace, span = split[line]
        assert trace == ROOTS[i]  # the spout's span, as passed to emit
        assert span is not None and span.trace_id == ROOTS[i].trace_id
        assert span.span_id != ROOTS[i].span_id
    assert split["d e f"] == (None, None)
    count = {word: (trace, span) for word, trace, span in SEEN["count"]}
    for line in ("a b", "c"):
        split_span = split[line][1]
        assert split_span is not None
        for word in line.split():
            trace, span = count[word]
            assert trace == split_span  # tagged with the emitting task's span
            assert span is not None and span.trace_id == split_span.trace_id
            assert span.span_id not in (split_span.span_id, ROOTS[0].span_id, ROOTS[1].span_id)
    assert all(count[w] == (None, None) for w in "def")
    # An unanchored emit starts nothing: the trace does not cross it.
    assert all(trace is None for _w, trace, _s in SEEN["after"])


def test_tracing_off_leaves_tuples_untraced() -> None:
    SEEN.clear()
    LocalRunner(build(tracing=False), deterministic=True).run(until_idle=True)
    assert all(trace is None and span is None for rows in SEEN.values()
               for _v, trace, span in rows)


def test_traced_components_are_those_below_a_trace_emitting_spout() -> None:
    t = build()
    t.spout("plain", Spout())  # not a trace emitter
    assert traced_components(t) == {"lines", "split", "count", "loose", "after"}
