"""Test helpers: list spouts, collecting bolts, a fake clock and a one-call runner.

Components are deep-copied per task, so these helpers keep what they record in a shared
:class:`Record` that every copy points to: read it from the object you built::

    from riverhead.stream import Topology
    from riverhead.stream.testing import CollectingBolt, ListSpout, run_topology

    spout = ListSpout(["a b", "b"], fields=("line",))
    sink = CollectingBolt()
    topology = Topology("t")
    topology.spout("lines", spout)
    topology.bolt("sink", sink).shuffle_grouping("lines")
    result = run_topology(topology)
    assert sorted(sink.values) == [("a b",), ("b",)] and spout.acked == [0, 1]

Not thread-safe (a runner uses one thread).
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from riverhead.stream.clock import FakeClock
from riverhead.stream.components import Bolt, Context, Failure, Spout
from riverhead.stream.runner import LocalRunner, RunResult
from riverhead.stream.topology import Topology
from riverhead.stream.tuples import DEFAULT_STREAM, Tuple

__all__ = ["CollectingBolt", "FakeClock", "ListSpout", "Record", "run_topology"]


@dataclass
class Record:
    """What a helper's tasks observed, shared by all of them."""

    acked: list[Any] = field(default_factory=list)
    failed: list[tuple[Any, Failure]] = field(default_factory=list)
    received: list[Tuple] = field(default_factory=list)


class _Shared:
    """Deep copies of a helper share its :class:`Record` (copied shallowly)."""

    record: Record

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return copy.copy(self)


def _as_values(item: Any, width: int) -> tuple[Any, ...]:
    if width == 1 and not isinstance(item, tuple | list):
        return (item,)
    return tuple(item)


class ListSpout(_Shared, Spout):
    """Emits ``items`` once each, in order (task *i* of *n* emits items *i*, *i+n*, ...).

    A scalar item becomes a one-field tuple. With ``reliable`` (default) each tuple's
    ``msg_id`` is its index in ``items``, and failed items are replayed, at most
    ``max_replays`` times each (None: without limit). :attr:`acked` lists indexes in ack
    order; :attr:`failed` lists ``(index, Failure)``.
    """

    def __init__(
        self,
        items: Iterable[Any],
        fields: Sequence[str] = ("value",),
        *,
        reliable: bool = True,
        max_replays: int | None = None,
        stream: str = DEFAULT_STREAM,
    ) -> None:
        self.items = list(items)
        self.fields = tuple(fields)
        self.reliable = reliable
        self.max_replays = max_replays
        self.stream = stream
        self.record = Record()
        self.declare_stream(stream, self.fields)

    def open(self, context: Context) -> None:
        self._next = context.task_index
        self._step = context.task_count
        self._replay: deque[int] = deque()
        self._replays: dict[int, int] = {}

    def next_tuple(self) -> None:
        if self._replay:
            i = self._replay.popleft()
        elif self._next < len(self.items):
            i = self._next
            self._next += self._step
        else:
            return
        values = _as_values(self.items[i], len(self.fields))
        self.emit(values, msg_id=i if self.reliable else None, stream=self.stream)

    def ack(self, msg_id: Any) -> None:
        self.record.acked.append(msg_id)

    def on_fail(self, msg_id: Any, failure: Failure) -> None:
        self.record.failed.append((msg_id, failure))
        n = self._replays.get(msg_id, 0)
        if self.max_replays is None or n < self.max_replays:
            self._replays[msg_id] = n + 1
            self._replay.append(msg_id)

    @property
    def acked(self) -> list[Any]:
        return self.record.acked

    @property
    def failed(self) -> list[tuple[Any, Failure]]:
        return self.record.failed


class CollectingBolt(_Shared, Bolt):
    """Records every tuple it receives (:attr:`tuples`, :attr:`values`) and acks it.

    With ``fields``, it also re-emits each tuple's values anchored to it on its default
    stream (so it can sit in the middle of a topology); ``process`` may be replaced by
    passing ``on_tuple`` (called before the ack; raise to fail the tuple).
    """

    def __init__(
        self,
        fields: Sequence[str] | None = None,
        on_tuple: Callable[[Tuple], None] | None = None,
    ) -> None:
        self.record = Record()
        self.on_tuple = on_tuple
        self.forward = fields is not None
        if fields is not None:
            self.declare_stream(DEFAULT_STREAM, tuple(fields))

    def process(self, tup: Tuple) -> None:
        if self.on_tuple is not None:
            self.on_tuple(tup)
        self.record.received.append(tup)
        if self.forward:
            self.emit(tup.values, anchors=tup)
        self.ack(tup)

    @property
    def tuples(self) -> list[Tuple]:
        return self.record.received

    @property
    def values(self) -> list[tuple[Any, ...]]:
        return [tuple(t.values) for t in self.record.received]


def run_topology(
    topology: Topology,
    *,
    clock: FakeClock | None = None,
    timeout: float = 3600.0,
    **config: Any,
) -> RunResult:
    """Run ``topology`` until idle with a :class:`FakeClock` (timeouts cost no real time)
    and ``deterministic=True`` unless overridden; ``timeout`` is in fake seconds."""
    config.setdefault("deterministic", True)
    runner = LocalRunner(topology, clock=clock or FakeClock(), **config)
    return runner.run(until_idle=True, timeout=timeout)
