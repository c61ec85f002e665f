"""W3C trace context through Kafka-to-Kafka topologies against the real broker: a record
produced with a ``traceparent`` yields outputs in the same trace, each with a span of its
own; a record without one starts a new trace; ``tracing=False`` writes none; and across
worker processes the trace survives the repartition topic."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from riverhead.stream import LocalRunner
from riverhead.tracing import TraceContext, from_headers
from tests.integration.test_stream_kafka import WAIT_S, create_topics, read_all, word_count
from tests.integration.test_stream_workers import (
    WORD_COUNT_APP,
    Run,
    group_members,
    wait_for,
)
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

LINES = ["red green blue", "green blue", "blue", "cyan magenta"]


def produce_traced(bootstrap: str, topic: str) -> list[TraceContext | None]:
    """The lines, the first three with a traceparent of their own, the last without."""
    contexts: list[TraceContext | None] = [TraceContext.new() for _ in LINES[:-1]] + [None]
    p = Producer({"bootstrap.servers": bootstrap})
    for i, (line, ctx) in enumerate(zip(LINES, contexts, strict=True)):
        headers = [("traceparent", ctx.format().encode())] if ctx else []
        p.produce(topic, value=line.encode(), key=str(i).encode(), headers=headers)
    assert p.flush(WAIT_S) == 0
    return contexts


def traces_by_word(records: list[Any]) -> dict[str, list[TraceContext | None]]:
    import json

    out: dict[str, list[TraceContext | None]] = {}
    for m in records:
        out.setdefault(json.loads(m.value())["word"], []).append(from_headers(m.headers()))
    return out


def check_traces(records: list[Any], contexts: list[TraceContext | None]) -> None:
    seen = traces_by_word(records)
    spans = [ctx.span_id for ctxs in seen.values() for ctx in ctxs if ctx is not None]
    assert len(spans) == len(records) == sum(len(line.split()) for line in LINES)
    assert len(set(spans)) == len(spans), "every output record names a span of its own"
    inputs = {ctx.span_id for ctx in contexts if ctx is not None}
    assert not inputs & set(spans), "outputs are child spans, not the input's span"
    # "red" only in line 0, "cyan"/"magenta" only in the untraced line 3.
    red = seen["red"][0]
    assert red is not None and contexts[0] is not None
    assert red.trace_id == contexts[0].trace_id
    by_trace = Counter(ctx.trace_id for ctxs in seen.values() for ctx in ctxs if ctx)
    for i, ctx in enumerate(contexts[:-1]):
        assert ctx is not None and by_trace[ctx.trace_id] == len(LINES[i].split())
    fresh = {ctx.trace_id for w in ("cyan", "magenta") for ctx in seen[w] if ctx}
    assert len(fresh) == 1, "the untraced record's outputs share one new trace"
    assert not fresh & {ctx.trace_id for ctx in contexts if ctx}


def test_outputs_continue_the_input_records_traces(
    broker: BrokerProcess, topic_name: str
) -> None:
    src, dst, group = f"{topic_name}-in", f"{topic_name}-out", f"{topic_name}-g"
    create_topics(broker.bootstrap, {src: 2, dst: 2})
    contexts = produce_traced(broker.bootstrap, src)
    total = sum(len(line.split()) for line in LINES)
    runner = LocalRunner(word_count(src, dst, group, broker.bootstrap), collect=False,
                         brokers=broker.bootstrap)
    result = runner.run(until_idle=False, timeout=60,
                        until=lambda: runner.metrics()["out"].acked >= total)
    assert result.reason == "until"
    check_traces(read_all(broker.bootstrap, dst, total), contexts)


def test_tracing_off_writes_no_traceparent(broker: BrokerProcess, topic_name: str) -> None:
    src, dst, group = f"{topic_name}-in", f"{topic_name}-out", f"{topic_name}-g"
    create_topics(broker.bootstrap, {src: 1, dst: 1})
    produce_traced(broker.bootstrap, src)
    total = sum(len(line.split()) for line in LINES)
    runner = LocalRunner(word_count(src, dst, group, broker.bootstrap), collect=False,
                         brokers=broker.bootstrap, tracing=False)
    runner.run(until_idle=False, timeout=60,
               until=lambda: runner.metrics()["out"].acked >= total)
    records = read_all(broker.bootstrap, dst, total)
    assert len(records) == total
    assert all(from_headers(m.headers()) is None for m in records)


def test_trace_crosses_the_repartition_topic_between_workers(
    broker: BrokerProcess, topic_name: str, tmp_path: Path
) -> None:
    name = "tr" + str(abs(hash(topic_name)) % 10**8)
    src, dst, group = f"{name}-in", f"{name}-out", f"{name}-g"
    create_topics(broker.bootstrap, {src: 2, dst: 2})
    app = tmp_path / "app.py"
    app.write_text(WORD_COUNT_APP.format(name=name, src=src, dst=dst, group=group))
    run = Run(broker.bootstrap, app, 1)
    try:
        wait_for("the worker in both groups",
                 lambda: group_members(broker.bootstrap, group) == 1
                 and group_members(broker.bootstrap, f"{name}.count.split.default") == 1)
        contexts = produce_traced(broker.bootstrap, src)
        total = sum(len(line.split()) for line in LINES)
        records = read_all(broker.bootstrap, dst, total, timeout=60)
        rp = read_all(broker.bootstrap, f"{name}.count.split.default.repartition", total)
        assert run.stop() == 0, run.lines
    finally:
        if run.proc.poll() is None:
            run.kill()
    check_traces(records, contexts)
    # The repartition records carry the hop's span, in the input's trace.
    hop = [from_headers(m.headers()) for m in rp]
    assert all(ctx is not None for ctx in hop)
    assert {ctx.trace_id for ctx in hop if ctx} == {
        ctx.trace_id for ctxs in traces_by_word(records).values() for ctx in ctxs if ctx}
