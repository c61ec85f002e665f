"""Optional OpenTelemetry export of the stream engine's trace spans (``pip install
riverhead[otel]``).

Off by default. Turned on by the topology or runner setting ``otel=True`` (spans go to a
tracer provider configured from the standard ``OTEL_*`` environment variables, see
:func:`provider_from_env`), ``otel=<TracerProvider>`` (spans go there: tests pass one
with an ``InMemorySpanExporter``), or the environment variable ``RIVERHEAD_STREAM_OTEL=1``
(what ``riverhead stream run --otel`` sets for its workers). This module, and so
``opentelemetry``, is imported only then: an application without it pays nothing.

What is exported: one span per traced input tuple per task, with the engine's own ids
(:mod:`riverhead.stream.traces`), so the spans line up with the ``traceparent`` headers
of the records:

* a traced spout (``emits_traces``) reports, for each emit that carries ``trace=span``,
  a span (kind CONSUMER) whose id is that span's and whose parent is the input record's
  ``traceparent`` (none when the record had none and the engine started a new trace;
  see :func:`_parent_finder`). It lasts as long as the emit call;
* every bolt downstream of one reports, for each traced input tuple, a span whose id is
  the task's span for that tuple (:func:`~riverhead.stream.traces.span_of`, made here if
  the bolt did not emit) and whose parent is the tuple's ``trace`` (the emitting task's
  span). It lasts as long as ``process``; an exception marks it as an error. Kind
  PRODUCER for the Kafka sink (whose output record's ``traceparent`` is this span),
  INTERNAL otherwise.

Ids: the SDK's tracer draws span (and, for root spans, trace) ids from the provider's
``IdGenerator``; :class:`EngineIds` hands it the engine's ids, set just before each
``start_span`` on the same thread, and random ids otherwise. A provider made elsewhere
must be built with ``id_generator=EngineIds()``. Sampling follows the provider's sampler
(by default the parent's sampled flag, i.e. the ``traceparent`` flags).

Cost when on: per traced tuple and task, two clock reads, one span started and ended
(the SDK's work, a few microseconds) and, with the default batch processor, a queue
append; export happens on the processor's thread. Thread-safety: spans are made on the
task's thread; :class:`EngineIds` keeps the pending ids per thread.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

from riverhead.stream.errors import StreamError
from riverhead.stream.traces import span_of, traced_components
from riverhead.stream.tuples import DEFAULT_STREAM, Tuple
from riverhead.tracing import TraceContext, from_headers

if TYPE_CHECKING:
    from riverhead.stream.executor import Task
    from riverhead.stream.runner import LocalRunner

SCOPE = "riverhead.stream"
_time_ns = time.time_ns


class EngineIds(IdGenerator):
    """Span and trace ids for the tracer: the engine's, when :meth:`use` set them on this
    thread for the next ``start_span``; random otherwise."""

    def __init__(self) -> None:
        self._pending = threading.local()
        self._random = RandomIdGenerator()

    def use(self, trace_id: int, span_id: int) -> None:
        self._pending.ids = (trace_id, span_id)

    def clear(self) -> None:
        self._pending.ids = None

    def generate_trace_id(self) -> int:
        ids = getattr(self._pending, "ids", None)
        return ids[0] if ids is not None else self._random.generate_trace_id()

    def generate_span_id(self) -> int:
        ids = getattr(self._pending, "ids", None)
        if ids is None:
            return self._random.generate_span_id()
        self._pending.ids = None  # one span per use()
        return int(ids[1])


def provider_from_env(service_name: str) -> TracerProvider:
    """A tracer provider configured by the standard environment variables.

    ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` (service name defaults to
    ``service_name``), ``OTEL_TRACES_SAMPLER`` (read by the SDK), ``OTEL_TRACES_EXPORTER``
    = ``otlp`` (default: OTLP over HTTP/protobuf, configured by
    ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``..._HEADERS``,
    ``..._TIMEOUT``), ``console`` (JSON on stdout) or ``none``; spans are sent in batches
    (``OTEL_BSP_*``)."""
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name}
    provider = TracerProvider(resource=Resource.create(attributes), id_generator=EngineIds())
    names = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    for name in filter(None, names):
        exporter: SpanExporter
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        elif name == "console":
            exporter = ConsoleSpanExporter(out=sys.stderr)  # stdout is the workers' event pipe
        elif name == "none":
            continue
        else:
            raise StreamError(
                f"OTEL_TRACES_EXPORTER={name!r} is not supported: use otlp, console or none"
            )
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class SpanExport:
    """Makes the exported spans; one per runner (see :func:`instrument`)."""

    def __init__(self, provider: TracerProvider, topology: str) -> None:
        ids = provider.id_generator
        if not isinstance(ids, EngineIds):
            raise StreamError(
                "otel: the tracer provider must be built with id_generator=EngineIds() "
                "(riverhead.stream.otel), so exported span ids are the engine's"
            )
        self.provider = provider
        self.ids = ids
        self.tracer = provider.get_tracer(SCOPE)
        self.topology = topology

    def span(
        self,
        name: str,
        kind: SpanKind,
        own: TraceContext,
        parent: TraceContext | None,
        start: int,
        attributes: dict[str, Any],
        error: BaseException | None = None,
    ) -> None:
        """Report the finished span ``own`` (child of ``parent``) begun at ``start`` (ns)."""
        self.ids.use(int(own.trace_id, 16), int(own.span_id, 16))
        if parent is not None:
            remote = SpanContext(
                int(parent.trace_id, 16),
                int(parent.span_id, 16),
                is_remote=True,
                trace_flags=TraceFlags(parent.flags),
            )
            ctx = trace.set_span_in_context(NonRecordingSpan(remote), otel_context.Context())
        else:
            ctx = otel_context.Context()  # a root span: the trace id comes from EngineIds
        span = self.tracer.start_span(
            name, context=ctx, kind=kind, attributes=attributes, start_time=start
        )
        self.ids.clear()  # in case the tracer drew no span id (a disabled SDK)
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.end(end_time=_time_ns())

    def flush(self) -> None:
        self.provider.force_flush()


def instrument(runner: LocalRunner, setting: Any) -> SpanExport:
    """Wrap the traced tasks of ``runner`` so they report spans; ``setting`` is the
    ``otel`` setting (True or a TracerProvider)."""
    if isinstance(setting, TracerProvider):
        provider = setting
    elif setting is True:
        provider = _process_provider(runner.topology.name)
    else:
        raise StreamError(f"otel must be True or a TracerProvider, got {setting!r}")
    export = SpanExport(provider, runner.topology.name)
    traced = traced_components(runner.topology) if runner.config.tracing else set()
    for task in runner.tasks:
        if task.component in traced:
            if task.is_spout:
                _wrap_spout(task, export)
            else:
                _wrap_bolt(task, export)
    return export


_PROVIDER: TracerProvider | None = None
_PROVIDER_LOCK = threading.Lock()


def _process_provider(service_name: str) -> TracerProvider:
    """One provider per process (the first topology's name is the default service)."""
    global _PROVIDER
    with _PROVIDER_LOCK:
        if _PROVIDER is None:
            _PROVIDER = provider_from_env(service_name)
        return _PROVIDER


def _attributes(export: SpanExport, task: Task) -> dict[str, Any]:
    return {
        "riverhead.topology": export.topology,
        "riverhead.component": task.component,
        "riverhead.task": task.task_id,
    }


def _parent_finder(instance: Any) -> Callable[[Any], TraceContext | None]:
    """How to find, at an emit, the input record's context (the span's parent).

    Kafka spouts (repartition readers included) compute the emit's span from the record
    in ``_trace_for(msg)`` just before emitting: that call is wrapped to remember the
    record's ``traceparent`` for the emit that follows. Other spouts may define
    ``trace_parent(values) -> TraceContext | None``; else spans have no parent."""
    kafka = sys.modules.get("riverhead.stream.kafka")
    if kafka is not None and isinstance(instance, kafka.KafkaSpout):
        trace_for = instance._trace_for
        box: list[TraceContext | None] = [None]

        def remembering(msg: Any) -> TraceContext | None:
            box[0] = from_headers(msg.headers())
            return trace_for(msg)  # type: ignore[no-any-return]

        def parent(values: Any) -> TraceContext | None:
            found, box[0] = box[0], None
            return found

        object.__setattr__(instance, "_trace_for", remembering)
        return parent
    custom = getattr(instance, "trace_parent", None)
    if callable(custom):
        return custom  # type: ignore[no-any-return]
    return lambda values: None


def _wrap_spout(task: Task, export: SpanExport) -> None:
    instance = task.instance
    emit = instance.emit  # type: ignore[attr-defined]
    parent_of = _parent_finder(instance)
    attributes = _attributes(export, task)
    name = f"{task.component} emit"

    def traced_emit(
        values: Any, msg_id: Any = None, stream: str = DEFAULT_STREAM, trace: Any = None
    ) -> None:
        if trace is None:
            emit(values, msg_id, stream)
            return
        start = _time_ns()
        error: BaseException | None = None
        try:
            emit(values, msg_id, stream, trace)
        except BaseException as exc:
            error = exc
            raise
        finally:
            parent = parent_of(values)
            if parent is not None and parent.trace_id != trace.trace_id:
                parent = None  # the spout started a new trace, not a child of this one
            export.span(name, SpanKind.CONSUMER, trace, parent, start, attributes, error)

    object.__setattr__(instance, "emit", traced_emit)


def _wrap_bolt(task: Task, export: SpanExport) -> None:
    instance = task.instance
    process = instance.process  # type: ignore[attr-defined]
    kafka = sys.modules.get("riverhead.stream.kafka")
    is_sink = kafka is not None and isinstance(instance, kafka.KafkaBolt)
    kind = SpanKind.PRODUCER if is_sink else SpanKind.INTERNAL
    attributes = _attributes(export, task)
    name = f"{task.component} process"

    def traced_process(tup: Tuple) -> None:
        try:
            parent = tup.trace
        except AttributeError:
            process(tup)
            return
        own = span_of(tup)
        assert own is not None
        start = _time_ns()
        error: BaseException | None = None
        try:
            process(tup)
        except BaseException as exc:
            error = exc
            raise
        finally:
            export.span(name, kind, own, parent, start, attributes, error)

    object.__setattr__(instance, "process", traced_process)


__all__ = ["EngineIds", "SpanExport", "instrument", "provider_from_env"]
