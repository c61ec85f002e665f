"""Per-task counters and per-component snapshots.

Counters are plain attributes incremented by the runner's thread (no locks: a reader on
another thread may see a value one step stale, never a torn one, since CPython updates an
int attribute atomically). :meth:`riverhead.stream.LocalRunner.metrics` aggregates them
into :class:`ComponentStats`, which is what code, ``--stats`` and the docs show.

* ``emitted``: tuples emitted (each ``emit`` call counts once, whatever the fan-out);
* ``executed``: input tuples given to ``process`` (bolts);
* ``acked``/``failed``: for a bolt, its ``ack``/``fail`` calls (a raising ``process``
  counts as a fail and an error); for a spout, trees completed / failed or timed out;
* ``process latency``: mean wall time of ``process`` per tuple, measured per batch;
* ``complete latency``: mean time from a spout's emit to the tree's completion;
* ``queue``: tuples waiting in the task's input queue now; ``max queue`` the largest seen;
* ``pending``: a spout's trees in flight.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TaskError:
    """An exception a task raised, as reported (bolts: the input tuple was failed)."""

    component: str
    task: int
    error: BaseException
    values: Sequence[Any] | None = None
    traceback: str = ""

    @classmethod
    def capture(
        cls, component: str, task: int, error: BaseException, values: Sequence[Any] | None
    ) -> TaskError:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        return cls(component, task, error, values, text)

    def __str__(self) -> str:
        return f"{self.component}[{self.task}]: {self.error!r}"


class TaskMetrics:
    """Counters of one task (see the module docstring)."""

    __slots__ = (
        "acked",
        "complete_time",
        "component",
        "emitted",
        "errors",
        "executed",
        "failed",
        "is_spout",
        "max_queue",
        "process_time",
        "task",
    )

    def __init__(self, component: str, task: int, is_spout: bool) -> None:
        self.component = component
        self.task = task
        self.is_spout = is_spout
        self.emitted = 0
        self.executed = 0
        self.acked = 0
        self.failed = 0
        self.errors = 0
        self.process_time = 0.0
        self.complete_time = 0.0
        self.max_queue = 0


@dataclass
class ComponentStats:
    """A component's counters summed over its tasks (latencies are means, in ms)."""

    component: str
    kind: str
    tasks: int
    emitted: int = 0
    executed: int = 0
    acked: int = 0
    failed: int = 0
    errors: int = 0
    process_latency_ms: float | None = None
    complete_latency_ms: float | None = None
    queue: int = 0
    max_queue: int = 0
    pending: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComponentStats:
        return cls(**data)


def aggregate(
    component: str,
    kind: str,
    tasks: Sequence[TaskMetrics],
    queues: Sequence[int],
    pending: int,
    extras: Sequence[dict[str, float]] = (),
) -> ComponentStats:
    """Sum ``tasks``' counters (``queues``: each task's current input queue length;
    ``extras``: each task's component-specific counters)."""
    s = ComponentStats(component, kind, len(tasks))
    for extra in extras:
        for key, value in extra.items():
            s.extra[key] = s.extra.get(key, 0) + value
    process_time = complete_time = 0.0
    for m in tasks:
        s.emitted += m.emitted
        s.executed += m.executed
        s.acked += m.acked
        s.failed += m.failed
        s.errors += m.errors
        s.max_queue = max(s.max_queue, m.max_queue)
        process_time += m.process_time
        complete_time += m.complete_time
    s.queue = sum(queues)
    s.pending = pending
    if kind == "bolt" and s.executed:
        s.process_latency_ms = process_time / s.executed * 1000
    if kind == "spout" and s.acked:
        s.complete_latency_ms = complete_time / s.acked * 1000
    return s


def merge(stats: Iterable[ComponentStats]) -> dict[str, ComponentStats]:
    """Add up stats of the same components from several workers (latencies: weighted)."""
    out: dict[str, ComponentStats] = {}
    for s in stats:
        o = out.get(s.component)
        if o is None:
            out[s.component] = ComponentStats(**{**s.as_dict(), "extra": dict(s.extra)})
            continue
        for lat, weight in (("process_latency_ms", "executed"), ("complete_latency_ms", "acked")):
            a, b = getattr(o, lat), getattr(s, lat)
            wa, wb = getattr(o, weight), getattr(s, weight)
            if a is None or b is None:
                setattr(o, lat, a if b is None else b)
            elif wa + wb:
                setattr(o, lat, (a * wa + b * wb) / (wa + wb))
        for name in ("tasks", "emitted", "executed", "acked", "failed", "errors", "queue",
                     "pending"):
            setattr(o, name, getattr(o, name) + getattr(s, name))
        o.max_queue = max(o.max_queue, s.max_queue)
        for key, value in s.extra.items():
            o.extra[key] = o.extra.get(key, 0) + value
    return out


STATS_HEADERS = (
    "component", "kind", "tasks", "emitted", "executed", "acked", "failed", "errors",
    "latency_ms", "queue", "max_queue", "pending",
)


def stats_rows(stats: Iterable[ComponentStats]) -> list[list[str | int | float | None]]:
    """Rows for :data:`STATS_HEADERS` (latency: process latency for bolts, complete
    latency for spouts)."""
    rows: list[list[str | int | float | None]] = []
    for s in stats:
        lat = s.process_latency_ms if s.kind == "bolt" else s.complete_latency_ms
        rows.append([
            s.component, s.kind, s.tasks, s.emitted, s.executed, s.acked, s.failed, s.errors,
            None if lat is None else round(lat, 3), s.queue, s.max_queue, s.pending,
        ])
    return rows
