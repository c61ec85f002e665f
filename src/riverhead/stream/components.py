"""Spouts and bolts: the user's classes, and the context each task instance receives.

Write a component by subclassing :class:`Spout` or :class:`Bolt`. Declare the default
stream's field names in the class attribute ``outputs``; declare more streams with the
class attribute ``streams`` (``{"errors": ("line", "reason")}``) or by calling
:meth:`Component.declare_stream` in ``__init__``.

The instance given to :meth:`riverhead.stream.Topology.spout`/``bolt`` is a *prototype*:
every task gets its own deep copy, made before ``open``/``prepare``. Create clients,
files and threads in ``open``/``prepare``, never in ``__init__``.

Threading: a runner calls all of one task's methods from one thread, never concurrently,
so components need no locks of their own. The collector methods (``emit``, ``ack``,
``fail``...) may only be called from that thread, during a callback of the same task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from riverhead.stream.errors import NotRunningError
from riverhead.stream.tuples import DEFAULT_STREAM, Tuple

if TYPE_CHECKING:
    from riverhead.tracing import TraceContext

Anchors = Tuple | Sequence[Tuple] | None


@dataclass(frozen=True)
class StreamDef:
    """A declared output stream: its field names, and whether it is a direct stream."""

    fields: tuple[str, ...]
    direct: bool = False


@dataclass(frozen=True)
class Failure:
    """Why a spout tuple's tree failed: ``reason`` is ``"timeout"``, ``"failed"`` (a bolt
    called ``fail``) or ``"error"`` (a bolt raised); ``error`` is the exception's text."""

    reason: str
    component: str | None = None
    error: str | None = None


@dataclass
class Context:
    """What a task knows about itself and the topology (Storm's ``TopologyContext``).

    ``task_id`` is unique in the worker's topology; ``task_index`` is the position among
    the component's own tasks (0..``task_count``-1). ``worker_index``/``worker_count``
    describe the process when run by ``riverhead stream run`` (0/1 under LocalRunner).
    ``config`` is the run's configuration (``brokers`` among others). Read-only.
    """

    topology: str
    component_id: str
    task_id: int
    task_index: int
    task_count: int
    config: Mapping[str, Any] = field(default_factory=dict)
    worker_index: int = 0
    worker_count: int = 1
    component_tasks: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def tasks_of(self, component: str) -> tuple[int, ...]:
        """Task ids of ``component`` (for ``emit_direct``)."""
        return self.component_tasks[component]


def _not_running(*_args: Any, **_kwargs: Any) -> Any:
    raise NotRunningError("the component is not running: emit/ack/fail work only inside a runner")


class Component:
    """Base of :class:`Spout` and :class:`Bolt`: output declarations and the context."""

    outputs: ClassVar[Sequence[str]] = ()
    """Field names of the default stream."""
    streams: ClassVar[Mapping[str, Sequence[str]]] = {}
    """Further (non-direct) streams: ``{name: fields}``."""
    tick_interval: float | None = None
    """If set, the runner calls :meth:`tick` about every ``tick_interval`` seconds (a class
    or instance attribute, read when the task is built)."""

    context: Context

    def declare_stream(self, name: str, fields: Sequence[str], direct: bool = False) -> None:
        """Declare output stream ``name`` with ``fields``; ``direct`` streams are sent with
        ``emit_direct`` to subscribers using a direct grouping. Call before adding the
        component to a topology (in ``__init__``)."""
        declared: dict[str, StreamDef] = self.__dict__.setdefault("_declared_streams", {})
        declared[name] = StreamDef(tuple(fields), direct)

    def output_streams(self) -> dict[str, StreamDef]:
        """Every declared stream (the default stream only if it has fields or was declared)."""
        result: dict[str, StreamDef] = {}
        if self.outputs:
            result[DEFAULT_STREAM] = StreamDef(tuple(self.outputs))
        for name, fields in self.streams.items():
            result[name] = StreamDef(tuple(fields))
        result.update(self.__dict__.get("_declared_streams", {}))
        return result

    def tick(self) -> None:
        """Called on the task's thread about every ``tick_interval`` seconds (if set)."""

    def extra_metrics(self) -> dict[str, float]:
        """Component-specific counters, summed over tasks into ``ComponentStats.extra``
        (e.g. the Kafka spout's ``dead_lettered``). May be called from another thread:
        read plain attributes only."""
        return {}


class Spout(Component):
    """A source of tuples (Storm's ``ISpout``).

    The runner calls :meth:`next_tuple` repeatedly; it should emit zero or a few tuples and
    return quickly (never block for long). A tuple emitted with a ``msg_id`` starts a tuple
    tree tracked by the acker; when every tuple of the tree has been acked, :meth:`ack` is
    called with that ``msg_id``; when one fails or the tree times out, :meth:`fail` is,
    and the spout should replay it. Both run on the spout's thread, between
    ``next_tuple`` calls. Without acking (``acking=False``) ``ack`` follows every emit.
    """

    def open(self, context: Context) -> None:
        """Called once per task before any other callback."""

    def next_tuple(self) -> None:
        """Emit the next tuple(s), if any."""

    def ack(self, msg_id: Any) -> None:
        """The tree of the tuple emitted with ``msg_id`` completed."""

    def fail(self, msg_id: Any) -> None:
        """The tree of the tuple emitted with ``msg_id`` failed or timed out; replay it."""

    def on_fail(self, msg_id: Any, failure: Failure) -> None:
        """What the runner calls on failure: ``fail(msg_id)`` unless overridden (a spout
        that wants the reason, such as the Kafka spout's dead-letter path, overrides it)."""
        self.fail(msg_id)

    def activate(self) -> None:
        """Called when the spout starts being polled."""

    def deactivate(self) -> None:
        """Called when the runner stops polling (graceful stop); in-flight trees go on."""

    def close(self) -> None:
        """Called once at the end, after in-flight trees have drained (or the drain timed out)."""

    # Collector methods, replaced per task by the runner.
    emits_traces: ClassVar[bool] = False
    """True for spouts that pass ``trace=`` to ``emit``: the runner then tags tuples
    downstream with trace spans (:mod:`riverhead.stream.traces`)."""

    def emit(
        self,
        values: Sequence[Any],
        msg_id: Any = None,
        stream: str = DEFAULT_STREAM,
        trace: TraceContext | None = None,
    ) -> None:
        """Emit ``values`` on ``stream``; a non-None ``msg_id`` makes the tuple tracked;
        ``trace`` is this task's span for the tuple (ignored unless ``emits_traces``)."""
        _not_running()

    def emit_direct(
        self,
        task: int,
        values: Sequence[Any],
        msg_id: Any = None,
        stream: str = DEFAULT_STREAM,
        trace: TraceContext | None = None,
    ) -> None:
        """Emit ``values`` on direct stream ``stream`` to task id ``task``."""
        _not_running()


class Bolt(Component):
    """A processing step (Storm's ``IRichBolt``).

    :meth:`process` is called once per input tuple. A bolt must ``ack`` (or ``fail``) every
    input tuple it receives, now or later; emit children *anchored* to their input
    (``anchors=[tup]``) before acking it, so a failure downstream replays the spout tuple.
    If ``process`` raises, the input tuple is failed and the error reported; the bolt keeps
    running.
    """

    def prepare(self, context: Context) -> None:
        """Called once per task before the first tuple."""

    def process(self, tup: Tuple) -> None:
        """Handle one input tuple."""
        raise NotImplementedError(f"{type(self).__name__}.process")

    def cleanup(self) -> None:
        """Called once at the end (after the drain); flush and close resources here."""

    # Collector methods, replaced per task by the runner.
    def emit(
        self, values: Sequence[Any], anchors: Anchors = None, stream: str = DEFAULT_STREAM
    ) -> None:
        """Emit ``values`` on ``stream``, anchored to ``anchors`` (a tuple or a list)."""
        _not_running()

    def emit_direct(
        self,
        task: int,
        values: Sequence[Any],
        anchors: Anchors = None,
        stream: str = DEFAULT_STREAM,
    ) -> None:
        """Emit ``values`` on direct stream ``stream`` to task id ``task``."""
        _not_running()

    def ack(self, tup: Tuple) -> None:
        """``tup`` is fully processed (its children, if any, were emitted before)."""
        _not_running()

    def fail(self, tup: Tuple, error: str | None = None) -> None:
        """``tup`` failed: its spout tuple(s) will be replayed."""
        _not_running()

    def reset_timeout(self, tup: Tuple) -> None:
        """Restart the timeout of ``tup``'s trees (long-running work on a tuple)."""
        _not_running()
