"""Tuples: the values flowing between tasks, with the acker's bookkeeping.

A :class:`Tuple` is an ordered list of values whose names (``fields``) are declared by the
stream it was emitted on. ``tup["word"]`` and ``tup[0]`` both work; so do ``len(tup)``,
iteration and :meth:`Tuple.get`.

Acking state (Storm's ``MessageId`` and ``ackVal``):

* ``ids`` holds the 64-bit *root* ids of the spout tuple trees the tuple belongs to (as
  the keys of a dict); ``None`` for an untracked tuple (unanchored, acking off, or already
  acked/failed by its receiver). The dict is never mutated once built, so a child anchored
  to one parent shares the parent's dict instead of copying it.
* ``edge`` is the tuple's own 64-bit edge id, the same in all its trees; or 0, when the
  tuple has several anchors and its edge id differs per tree: then ``ids[root]`` holds it.
* ``ack_val`` accumulates the XOR of the edge ids of the children anchored to this tuple.

Tracing (:mod:`riverhead.stream.traces`): ``trace`` is the span of the task that emitted
the tuple and ``span`` the receiving task's span for it; both are slots left unset on
untraced tuples (reading them raises ``AttributeError``; use ``traces.span_of``).

A tuple is owned by the task that received it; it is not thread-safe and must not be
shared between tasks (emit its values instead).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from riverhead.tracing import TraceContext

DEFAULT_STREAM = "default"


class Origin:
    """Where tuples come from: the emitting task and stream, and the stream's field names.

    One instance per (task, stream) is shared by every tuple emitted there. ``index`` maps
    each field name and each valid integer position (negative ones too) to a position.
    """

    __slots__ = ("component", "direct", "fields", "index", "stream", "task")

    def __init__(
        self, component: str, stream: str, task: int, fields: Sequence[str], direct: bool = False
    ) -> None:
        self.component = component
        self.stream = stream
        self.task = task
        self.fields: tuple[str, ...] = tuple(fields)
        self.direct = direct
        n = len(self.fields)
        index: dict[str | int, int] = {name: i for i, name in enumerate(self.fields)}
        for i in range(n):
            index[i] = i
            index[i - n] = i
        self.index = index

    def __repr__(self) -> str:
        return f"Origin({self.component!r}, {self.stream!r}, task={self.task})"


class Tuple:
    """One tuple as a task receives it (see the module docstring for the acking fields)."""

    __slots__ = ("ack_val", "edge", "ids", "origin", "span", "trace", "values")

    trace: TraceContext
    span: TraceContext

    def __init__(
        self,
        values: Sequence[Any],
        origin: Origin,
        ids: dict[int, int] | None = None,
        edge: int = 0,
    ) -> None:
        self.values = values
        self.origin = origin
        self.ids = ids
        self.edge = edge
        self.ack_val = 0

    def __getitem__(self, key: str | int) -> Any:
        try:
            return self.values[self.origin.index[key]]
        except KeyError:
            raise KeyError(
                f"{key!r}: stream {self.origin.component}/{self.origin.stream} has fields "
                f"{self.origin.fields}"
            ) from None

    def get(self, field: str, default: Any = None) -> Any:
        """The value of ``field``, or ``default`` if the stream has no such field."""
        i = self.origin.index.get(field)
        return default if i is None else self.values[i]

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values)

    @property
    def fields(self) -> tuple[str, ...]:
        """The field names of the stream this tuple was emitted on."""
        return self.origin.fields

    @property
    def source(self) -> str:
        """Id of the component that emitted the tuple."""
        return self.origin.component

    @property
    def stream(self) -> str:
        """The stream the tuple was emitted on."""
        return self.origin.stream

    @property
    def source_task(self) -> int:
        """Task id of the emitting task."""
        return self.origin.task

    def as_dict(self) -> dict[str, Any]:
        """``{field: value}``."""
        return dict(zip(self.origin.fields, self.values, strict=True))

    def __repr__(self) -> str:
        return f"Tuple({self.origin.component}/{self.origin.stream}: {tuple(self.values)!r})"
