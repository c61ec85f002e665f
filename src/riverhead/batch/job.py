"""The job API: :class:`MapReduceJob` and :class:`MRStep` (in the style of mrjob).

A one-step job overrides some of ``mapper``, ``combiner``, ``reducer`` and their
``*_init`` / ``*_final`` hooks; a multi-step job returns a list of :class:`MRStep` from
``steps()``. Contracts (the same on every runner):

* ``mapper(key, value)``, ``combiner(key, values)`` and ``reducer(key, values)`` return
  an iterable of ``(key, value)`` pairs (usually they are generators) or ``None``.
  ``*_init()`` is called once per task before the first record; ``*_final()`` once after
  the last, and may yield pairs too (in-mapper combining: count in ``mapper`` and emit in
  ``mapper_final``).
* The first mapper gets the decoded input records: ``(None, line)`` for text,
  ``(None, dict)`` for JSON lines and CSV. Later mappers get the previous step's pairs.
  A step without a mapper passes pairs through; a step without a reducer is map-only.
* ``combiner`` may run zero, one or several times on any subset of one key's values on
  the map side, so it must be associative and commutative and emit pairs a reducer (or
  the combiner again) accepts. Values reach it and the reducer in no particular order
  unless ``SORT_VALUES`` is set.
* Keys must be hashable and mutually orderable within a step (reducers see keys in
  sorted order within a partition). Keys and values must be picklable for the local
  runner's shuffle.
* ``increment_counter(group, name, amount)`` adds to a user counter; totals in the job
  report count successful task attempts only.
* Secondary sort: ``MRStep(group_key=f)`` (or overriding ``group_key``) makes reducers
  see keys grouped by ``f(key)``, called as ``reducer(f(key), values)`` with the values
  ordered by the full key; ``f`` must keep groups contiguous in key order (typically
  ``key[0]`` of tuple keys) and the partitioner hashes ``f(key)``.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from riverhead.batch import counters as ctr
from riverhead.batch.config import JobConfig, add_job_arguments, config_from_namespace
from riverhead.batch.errors import BatchError, JobConfigError, JobFailed
from riverhead.batch.partition import hash_partition
from riverhead.batch.protocols import Protocol, RawValueProtocol, TextProtocol

if TYPE_CHECKING:
    from riverhead.batch.runners.base import JobResult, Runner

Pairs = Iterable[tuple[Any, Any]] | None
Fn = Callable[..., Any]


@dataclass
class MRStep:
    """One map -> (combine) -> shuffle -> reduce step. Every field is optional.

    ``partitioner(key, n) -> int`` replaces the stable hash; ``group_key(key)`` enables
    secondary sort (see the module docs); ``sort_values`` sorts each key's values
    (``None``: the job's ``SORT_VALUES``); ``reducers`` overrides ``--reducers`` for this
    step; ``name`` labels the step in reports.
    """

    mapper: Fn | None = None
    mapper_init: Fn | None = None
    mapper_final: Fn | None = None
    combiner: Fn | None = None
    combiner_init: Fn | None = None
    combiner_final: Fn | None = None
    reducer: Fn | None = None
    reducer_init: Fn | None = None
    reducer_final: Fn | None = None
    partitioner: Fn | None = None
    group_key: Fn | None = None
    sort_values: bool | None = None
    reducers: int | None = None
    name: str | None = None

    @property
    def has_reducer(self) -> bool:
        return self.reducer is not None or self.reducer_final is not None


_STEP_METHODS = (
    "mapper",
    "mapper_init",
    "mapper_final",
    "combiner",
    "combiner_init",
    "combiner_final",
    "reducer",
    "reducer_init",
    "reducer_final",
    "group_key",
)


class MapReduceJob:
    """Base class of jobs. Subclass it, override methods, and call ``MyJob.run()``.

    Class attributes: ``INPUT_PROTOCOL`` / ``OUTPUT_PROTOCOL`` / ``INTERNAL_PROTOCOL``
    (see :mod:`riverhead.batch.protocols`), ``INPUT_FORMAT`` (``"text"``, ``"jsonl"``,
    ``"csv"`` or ``None`` to go by file extension), ``SORT_VALUES``, ``PARTITIONER``
    (a plain function ``(key, n) -> int``; ``None`` for the stable hash).

    ``args`` are command-line arguments (``INPUT... -o OUT --runner local``...); options
    a job adds in :meth:`configure_args` with :meth:`add_passthru_arg` are on
    ``self.options``.
    """

    INPUT_PROTOCOL: ClassVar[type[Protocol]] = RawValueProtocol
    OUTPUT_PROTOCOL: ClassVar[type[Protocol]] = TextProtocol
    INTERNAL_PROTOCOL: ClassVar[type[Protocol] | None] = None
    INPUT_FORMAT: ClassVar[str | None] = None
    SORT_VALUES: ClassVar[bool] = False
    PARTITIONER: ClassVar[Fn | None] = None

    def __init__(self, args: Sequence[str] | None = None) -> None:
        self.arg_parser = argparse.ArgumentParser(
            prog=type(self).__name__, description=(type(self).__doc__ or "").strip() or None
        )
        add_job_arguments(self.arg_parser)
        self.configure_args()
        self.options = self.arg_parser.parse_args(list(args or []))
        self.config: JobConfig = config_from_namespace(self.options)
        if self.INPUT_FORMAT and self.config.input_format == "auto":
            self.config.input_format = self.INPUT_FORMAT
        self._counters: ctr.Counters = {}

    # ---- hooks a job overrides --------------------------------------------------------

    def configure_args(self) -> None:
        """Add the job's own options with :meth:`add_passthru_arg` (call ``super()``)."""

    def add_passthru_arg(self, *args: Any, **kwargs: Any) -> None:
        """``argparse.add_argument`` for a job option; the value lands on ``self.options``."""
        self.arg_parser.add_argument(*args, **kwargs)

    def mapper(self, key: Any, value: Any) -> Pairs:
        raise NotImplementedError

    def mapper_init(self) -> Pairs:
        raise NotImplementedError

    def mapper_final(self) -> Pairs:
        raise NotImplementedError

    def combiner(self, key: Any, values: Iterable[Any]) -> Pairs:
        raise NotImplementedError

    def combiner_init(self) -> Pairs:
        raise NotImplementedError

    def combiner_final(self) -> Pairs:
        raise NotImplementedError

    def reducer(self, key: Any, values: Iterable[Any]) -> Pairs:
        raise NotImplementedError

    def reducer_init(self) -> Pairs:
        raise NotImplementedError

    def reducer_final(self) -> Pairs:
        raise NotImplementedError

    def group_key(self, key: Any) -> Any:
        raise NotImplementedError

    def steps(self) -> list[MRStep]:
        """The job's steps; by default one step made of the methods the class overrides."""
        kwargs: dict[str, Any] = {}
        for name in _STEP_METHODS:
            if getattr(type(self), name) is not getattr(MapReduceJob, name):
                kwargs[name] = getattr(self, name)
        if not kwargs:
            raise JobConfigError(
                f"{type(self).__name__} defines no mapper, reducer or steps()",
                "override mapper/reducer (or steps() returning MRStep objects)",
            )
        return [MRStep(**kwargs)]

    # ---- services for job code --------------------------------------------------------

    def increment_counter(self, group: str, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the user counter ``group/name`` of the running task."""
        ctr.increment(self._counters, group, name, amount)

    # ---- engine-facing helpers ---------------------------------------------------------

    def partitioner_for(self, step: MRStep) -> Fn:
        """The partitioner of ``step``: its own, the job's ``PARTITIONER``, or the hash."""
        if step.partitioner is not None:
            return step.partitioner
        job_level = type(self).PARTITIONER
        return job_level if job_level is not None else hash_partition

    def sort_values_for(self, step: MRStep) -> bool:
        return self.SORT_VALUES if step.sort_values is None else step.sort_values

    def checked_steps(self) -> list[MRStep]:
        """``steps()`` validated: a non-empty list of :class:`MRStep`."""
        steps = self.steps()
        if not steps or not all(isinstance(s, MRStep) for s in steps):
            raise JobConfigError("steps() must return a non-empty list of MRStep")
        for i, step in enumerate(steps, 1):
            if step.mapper is None and not step.has_reducer and step.mapper_final is None:
                raise JobConfigError(f"step {i} has neither a mapper nor a reducer")
        return steps

    # ---- running ------------------------------------------------------------------------

    def make_runner(self) -> Runner:
        """The runner ``--runner`` names, ready to :meth:`~Runner.run` this job."""
        from riverhead.batch.runners import make_runner

        return make_runner(self, self.config)

    def run_job(self) -> JobResult:
        """Run the job with its config; raises :class:`BatchError` subclasses on failure."""
        return self.make_runner().run()

    def execute(self) -> int:
        """Run as a command: print output if no ``-o``, errors as one line; exit code."""
        try:
            result = self.run_job()
        except JobFailed as exc:
            sys.stderr.write(exc.traceback.rstrip("\n") + "\n")
            _print_error(exc)
            return 1
        except BatchError as exc:
            _print_error(exc)
            return 1
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            return 130
        except Exception:
            traceback.print_exc()
            return 1
        if self.config.output is None:
            for line in result.read_lines():
                sys.stdout.write(line + "\n")
            result.cleanup()
        return 0

    @classmethod
    def run(cls, args: Sequence[str] | None = None) -> None:
        """Entry point for ``if __name__ == "__main__": MyJob.run()``; exits the process."""
        sys.exit(cls(sys.argv[1:] if args is None else args).execute())


def _print_error(exc: BatchError) -> None:
    line = f"error: {exc.name}: {' '.join(exc.message.split())}"
    if exc.hint:
        line += f" (hint: {' '.join(exc.hint.split())})"
    sys.stderr.write(line + "\n")
