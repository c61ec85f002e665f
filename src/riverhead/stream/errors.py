"""Exceptions of the stream engine.

The hierarchy::

    StreamError                      base of everything riverhead.stream raises
    ├── TopologyError                the topology is malformed (raised by validate/runners)
    ├── ComponentError               a spout's callback raised; wraps the original exception
    └── NotRunningError              a collector method was called outside a runner

Exceptions raised by a bolt's ``process`` are *not* turned into exceptions of the runner:
the input tuple (and so its tuple tree) fails, and the exception is reported as a
:class:`~riverhead.stream.metrics.TaskError` in the run's result and metrics.
"""

from __future__ import annotations


class StreamError(Exception):
    """Base class of the stream engine's exceptions."""


class TopologyError(StreamError):
    """A topology is malformed: unknown component or stream, bad fields, bad parallelism."""


class NotRunningError(StreamError):
    """``emit``/``ack``/``fail`` was called on a component that no runner has started."""


class ComponentError(StreamError):
    """A spout (``open``, ``next_tuple``, ``ack``, ``fail``) or a lifecycle hook raised.

    A spout that raises stops its runner, as a crashing executor stops a Storm worker: the
    source's position is unknown, so going on could lose data. ``__cause__`` is the original.
    """

    def __init__(self, component: str, task: int, phase: str, error: BaseException) -> None:
        super().__init__(f"{component}[{task}] raised in {phase}: {error!r}")
        self.component = component
        self.task = task
        self.phase = phase
        self.error = error
