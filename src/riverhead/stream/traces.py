"""Trace context through a topology: W3C ``traceparent`` from input records to outputs.

A spout that reads traced records (the Kafka spout: class attribute ``emits_traces``)
passes each record's context to ``emit(..., trace=span)``, where ``span`` is the spout
task's own span: a child of the record's ``traceparent`` header, or a new trace when the
record has none. Every component downstream of such a spout is *traced*: the runner
tags each tuple it emits with the span of the task that emitted it (``Tuple.trace``). A
task's span for one input tuple is made once, on first use, as a child of that tuple's
``trace`` (:func:`span_of`); its anchored emits carry it on, and the Kafka sink writes it
as the output record's ``traceparent``. So one input event can be followed, span by span,
through every task to the output topics, each record naming the span that produced it.

Untraced topologies (no traced spout, or ``tracing=False`` in the topology's config) pay
nothing: ``trace`` and ``span`` are unset slots, and their emits keep the fast paths of
:mod:`riverhead.stream.executor`. A traced task's emit costs one more function call and
a span (one random id) per input tuple that causes an emit.

Runs on the task's thread, like every collector call; not thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from riverhead.stream.topology import Topology
from riverhead.stream.tuples import Tuple
from riverhead.tracing import TraceContext


def span_of(tup: Tuple) -> TraceContext | None:
    """The receiving task's span for ``tup``: a child of ``tup.trace``, made once; None
    for an untraced tuple."""
    try:
        return tup.span
    except AttributeError:
        pass
    try:
        parent = tup.trace
    except AttributeError:
        return None
    span = tup.span = parent.child()
    return span


def anchor_span(anchors: Any) -> TraceContext | None:
    """The span that emits anchored to ``anchors`` (a tuple or a sequence) continue: that
    of the first traced anchor."""
    if not anchors:
        return None
    if anchors.__class__ is Tuple:
        return span_of(anchors)
    for a in anchors:
        span = span_of(a)
        if span is not None:
            return span
    return None


def traced_components(topology: Topology) -> set[str]:
    """Ids of the spouts with ``emits_traces`` and of every bolt downstream of one."""
    traced = {s.id for s in topology.spouts() if getattr(s.component, "emits_traces", False)}
    changed = True
    while changed:
        changed = False
        for spec in topology.components.values():
            if spec.id not in traced and any(sub.source in traced for sub in spec.inputs):
                traced.add(spec.id)
                changed = True
    return traced


def tagging(append: Callable[[Tuple], None], current: list[Any]) -> Callable[[Tuple], None]:
    """``append`` that first tags the tuple with the emitting task's span for the emit in
    progress. ``current`` is the runner's box ``[anchors, span]``: a spout's emit sets the
    span; a bolt's sets the anchors, whose span is made here, on first use (an emit that
    reaches no task makes none), and kept in the box for the other targets."""

    def tag_and_append(tup: Tuple) -> None:
        span = current[1]
        if span is None:
            anchors = current[0]
            if anchors is not None:
                span = current[1] = anchor_span(anchors)
        if span is not None:
            tup.trace = span
        append(tup)

    return tag_and_append
