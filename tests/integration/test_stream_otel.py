"""OpenTelemetry export of Kafka-to-Kafka topologies against the real broker: every
output record's ``traceparent`` names an exported sink span, whose parents lead back,
span by span, to the input record's own span — in process (InMemorySpanExporter) and
from ``riverhead stream run --otel`` worker processes to an OTLP/HTTP receiver run by
this test (across the repartition topic)."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from riverhead.stream import LocalRunner
from riverhead.stream.otel import EngineIds
from riverhead.tracing import TraceContext, from_headers
from tests.integration.test_stream_kafka import create_topics, read_all, word_count
from tests.integration.test_stream_tracing import LINES, produce_traced
from tests.integration.test_stream_workers import WORD_COUNT_APP, Run, group_members, wait_for
from tests.support.broker_process import BrokerProcess, free_port

pytestmark = pytest.mark.integration
TOTAL = sum(len(line.split()) for line in LINES)


@dataclass(frozen=True)
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_id: str | None


def chain(spans: dict[str, Span], last: str) -> Iterator[Span]:
    """The span ``last`` and its exported ancestors, child first."""
    span: Span | None = spans[last]
    while span is not None:
        yield span
        span = spans.get(span.parent_id) if span.parent_id else None


def check_chains(
    spans: dict[str, Span], records: list[Any], contexts: list[TraceContext | None], hops: list[str]
) -> None:
    """Each output record's span is an exported sink span whose ancestors are ``hops``
    (names, sink first), ending at the spout span, a child of the input record's span
    (or a root for the input without a traceparent)."""
    inputs = {ctx.trace_id: ctx for ctx in contexts if ctx is not None}
    roots = 0
    for record in records:
        out = from_headers(record.headers())
        assert out is not None
        path = list(chain(spans, out.span_id))
        assert [s.name for s in path] == hops
        assert {s.trace_id for s in path} == {out.trace_id}
        top = path[-1]
        if out.trace_id in inputs:
            assert top.parent_id == inputs[out.trace_id].span_id  # the producer's span
        else:
            assert top.parent_id is None
            roots += 1
    assert roots == len(LINES[-1].split())  # the untraced line's words


def test_local_runner_exports_the_chain_of_each_output_record(
    broker: BrokerProcess, topic_name: str
) -> None:
    src, dst, group = f"{topic_name}-in", f"{topic_name}-out", f"{topic_name}-g"
    create_topics(broker.bootstrap, {src: 2, dst: 2})
    contexts = produce_traced(broker.bootstrap, src)
    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=EngineIds())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    runner = LocalRunner(
        word_count(src, dst, group, broker.bootstrap),
        collect=False,
        brokers=broker.bootstrap,
        otel=provider,
    )
    result = runner.run(
        until_idle=False, timeout=60, until=lambda: runner.metrics()["out"].acked >= TOTAL
    )
    assert result.reason == "until"
    spans = {
        f"{s.context.span_id:016x}": Span(
            s.name,
            f"{s.context.trace_id:032x}",
            f"{s.context.span_id:016x}",
            f"{s.parent.span_id:016x}" if s.parent else None,
        )
        for s in exporter.get_finished_spans()
    }
    records = read_all(broker.bootstrap, dst, TOTAL)
    assert len(records) == TOTAL
    hops = ["out process", "count process", "split process", "sentences emit"]
    check_chains(spans, records, contexts, hops)
    assert len(spans) == len(LINES) + len(LINES) + 2 * TOTAL  # spout, split, count, out


class Receiver:
    """A minimal OTLP/HTTP trace receiver: decodes POST /v1/traces (protobuf)."""

    def __init__(self) -> None:
        self.spans: dict[str, Span] = {}
        self.services: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                for rs in request.resource_spans:
                    for attr in rs.resource.attributes:
                        if attr.key == "service.name":
                            receiver.services.add(attr.value.string_value)
                    for ss in rs.scope_spans:
                        for s in ss.spans:
                            receiver.spans[s.span_id.hex()] = Span(
                                s.name,
                                s.trace_id.hex(),
                                s.span_id.hex(),
                                s.parent_span_id.hex() or None,
                            )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_stream_run_otel_sends_spans_over_otlp_across_the_repartition_topic(
    broker: BrokerProcess, topic_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "ot" + str(abs(hash(topic_name)) % 10**8)
    src, dst, group = f"{name}-in", f"{name}-out", f"{name}-g"
    create_topics(broker.bootstrap, {src: 2, dst: 2})
    app = tmp_path / "app.py"
    app.write_text(WORD_COUNT_APP.format(name=name, src=src, dst=dst, group=group))
    receiver = Receiver()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop-words")
    run = Run(broker.bootstrap, app, 1, "--otel")
    try:
        wait_for(
            "the worker in both groups",
            lambda: (
                group_members(broker.bootstrap, group) == 1
                and group_members(broker.bootstrap, f"{name}.count.split.default") == 1
            ),
        )
        contexts = produce_traced(broker.bootstrap, src)
        records = read_all(broker.bootstrap, dst, TOTAL, timeout=60)
        wait_for(
            "the output records' spans at the receiver",
            lambda: all(
                (ctx := from_headers(r.headers())) is not None and ctx.span_id in receiver.spans
                for r in records
            ),
        )
        assert run.stop() == 0, run.lines
    finally:
        if run.proc.poll() is None:
            run.kill()
        receiver.close()
    assert receiver.services == {"shop-words"}
    hops = [
        "out process",
        "count process",
        "__rp-in.count.split.default emit",  # the repartition topic's reader: its parent
        "__rp-out.count.split.default process",  # is the writer's span, through the header
        "split process",
        "sentences emit",
    ]
    check_chains(receiver.spans, records, contexts, hops)
