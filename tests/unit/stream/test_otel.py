"""OpenTelemetry export of the engine's trace spans (``riverhead.stream.otel``) into the
SDK's InMemorySpanExporter: spout -> bolts -> sink spans form one chain whose ids are the
engine's own (the ones the records' traceparent headers carry); off means not imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from riverhead.stream import LocalRunner, StreamError
from riverhead.stream.otel import EngineIds, provider_from_env
from tests.unit.stream.otel_chain import EMITTED, LINES, PARENTS, SUNK, topology

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[3]


def hexid(value: int, width: int = 16) -> str:
    return f"{value:0{width}x}"


def run_exported() -> list[ReadableSpan]:
    EMITTED.clear()
    SUNK.clear()
    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=EngineIds())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    LocalRunner(topology(otel=provider), deterministic=True, message_timeout=5).run(until_idle=True)
    return list(exporter.get_finished_spans())


def test_spans_chain_spout_bolts_sink_with_the_engines_ids() -> None:
    spans = run_exported()
    by_id = {hexid(s.context.span_id): s for s in spans}
    assert len(by_id) == len(spans), "span ids are unique"
    for line, parent in zip(LINES[:3], PARENTS[:3], strict=True):
        own = EMITTED[line]
        spout = by_id[own.span_id]  # the exported id is the engine's
        assert spout.name == "records emit" and spout.kind == SpanKind.CONSUMER
        assert hexid(spout.context.trace_id, 32) == own.trace_id
        if parent is None:  # the engine started the trace: a root span
            assert spout.parent is None
        else:
            assert spout.parent is not None and spout.parent.is_remote
            assert hexid(spout.parent.span_id) == parent.span_id
            assert own.trace_id == parent.trace_id
        assert spout.attributes is not None
        assert spout.attributes["riverhead.component"] == "records"
        splits = [s for s in spans if s.parent and hexid(s.parent.span_id) == own.span_id]
        assert [s.name for s in splits] == ["split process"]
        uppers = [s for s in spans if s.parent and s.parent.span_id == splits[0].context.span_id]
        assert sorted(s.name for s in uppers) == ["upper process"] * len(line.split())
        for word in line.split():
            if word == "e":
                continue
            sink_span = SUNK[word.upper()]  # what a Kafka sink writes as traceparent
            sink = by_id[sink_span.span_id]
            assert sink.name == "sink process"
            assert sink.parent is not None
            assert sink.parent.span_id in {u.context.span_id for u in uppers}
            chain_trace = {s.context.trace_id for s in (spout, splits[0], sink, *uppers)}
            assert chain_trace == {int(own.trace_id, 16)}


def test_a_failing_bolt_marks_its_span_and_unsampled_traces_are_not_exported() -> None:
    spans = run_exported()
    failed = [s for s in spans if s.status.status_code == StatusCode.ERROR]
    assert [s.name for s in failed] == ["upper process"]
    assert "ValueError: no e allowed" in (failed[0].status.description or "")
    unsampled = PARENTS[3]
    assert unsampled is not None
    assert not [s for s in spans if hexid(s.context.trace_id, 32) == unsampled.trace_id]
    # 3 sampled lines: 3 spout + 3 split + 5 upper + 4 sink ("E" never reaches it).
    assert sorted(s.name for s in spans) == sorted(
        ["records emit"] * 3 + ["split process"] * 3 + ["upper process"] * 5 + ["sink process"] * 4
    )


def test_off_by_default_and_not_imported() -> None:
    code = (
        "import sys\n"
        "from tests.unit.stream.otel_chain import topology, EMITTED\n"
        "from riverhead.stream import LocalRunner\n"
        "r = LocalRunner(topology(), deterministic=True, message_timeout=5).run(until_idle=True)\n"
        "assert r.acked + r.failed == 4 and len(EMITTED) == 4, (r.acked, r.failed)\n"
        "bad = [m for m in sys.modules if m.startswith('opentelemetry') or m.endswith('.otel')]\n"
        "print('imported:', bad)\n"
    )
    env = {"PYTHONPATH": f"{REPO / 'src'}:{REPO}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "imported: []", out.stderr


def test_provider_must_use_engine_ids_and_exporter_names_are_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(StreamError, match="id_generator=EngineIds"):
        LocalRunner(topology(otel=TracerProvider()))
    with pytest.raises(StreamError, match="otel must be True or a TracerProvider"):
        LocalRunner(topology(otel="yes"))
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jaeger")
    with pytest.raises(StreamError, match="OTEL_TRACES_EXPORTER='jaeger' is not supported"):
        provider_from_env("svc")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop")
    provider = provider_from_env("svc")
    assert provider.resource.attributes["service.name"] == "shop"
    assert isinstance(provider.id_generator, EngineIds)
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    assert provider_from_env("svc").resource.attributes["service.name"] == "svc"
