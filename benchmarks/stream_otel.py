"""OpenTelemetry export cost in the stream engine: a traced topology with ``otel`` off vs
on, in the same run.

A spout emits ``--tuples`` traced tuples (each a child span of one root), through two
bolts that re-emit anchored (LocalRunner, one thread, acking on): 3 spans per spout tuple
when on. "On" exports to a tracer provider with ``EngineIds`` and a batch span processor
whose exporter drops the spans (so the figure is the engine's plus the SDK's span work,
not a network's). Rounds alternate off/on; the medians of wall microseconds per spout
tuple and their ratio are printed.

    python benchmarks/stream_otel.py --tuples 20000 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

from riverhead.stream import Bolt, LocalRunner, Spout, Topology, Tuple
from riverhead.tracing import TraceContext


class Traced(Spout):
    outputs = ("n",)
    emits_traces = True

    def __init__(self, count: int) -> None:
        self.count = count

    def open(self, context: Any) -> None:
        self.i = 0
        self.root = TraceContext.new()

    def next_tuple(self) -> None:
        if self.i < self.count:
            self.i += 1
            self.emit((self.i,), msg_id=self.i, trace=self.root.child())


class Pass(Bolt):
    outputs = ("n",)

    def process(self, tup: Tuple) -> None:
        self.emit((tup[0],), anchors=[tup])
        self.ack(tup)


def run_once(count: int, otel: bool) -> float:
    config: dict[str, Any] = {}
    if otel:
        from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        from riverhead.stream.otel import EngineIds

        class Drop(SpanExporter):
            def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider(id_generator=EngineIds())
        provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=count * 3))
        config["otel"] = provider
    t = Topology("otel-cost", **config)
    t.spout("s", Traced(count))
    t.bolt("a", Pass()).shuffle_grouping("s")
    t.bolt("b", Pass()).shuffle_grouping("a")
    t0 = time.perf_counter()
    result = LocalRunner(t, collect=False).run(until_idle=True)
    elapsed = time.perf_counter() - t0
    assert result.acked == count, result.acked
    return elapsed / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tuples", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    off: list[float] = []
    on: list[float] = []
    for _ in range(args.rounds):
        off.append(run_once(args.tuples, False))
        on.append(run_once(args.tuples, True))
    m_off, m_on = statistics.median(off), statistics.median(on)
    print(f"otel off: {m_off:8.1f} us per spout tuple  rounds {[round(x, 1) for x in off]}")
    print(f"otel on:  {m_on:8.1f} us per spout tuple  rounds {[round(x, 1) for x in on]}")
    print(f"on/off:   {m_on / m_off:8.2f}x  (+{(m_on - m_off) / 3:.1f} us per exported span)")


if __name__ == "__main__":
    main()
