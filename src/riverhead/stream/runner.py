"""LocalRunner: a whole topology in one thread of one process.

For tests, development and benchmarks; the worker processes of ``riverhead stream run``
use it too (one per process). The scheduling loop, per round:

1. each active spout task's ``next_tuple`` is called up to ``spout_batch`` times (fewer if
   ``max_spout_pending`` trees are in flight, stopping early when a call emits nothing);
2. due ``tick`` hooks run;
3. bolt tasks run in topological order, each taking its whole input queue as a batch,
   until every queue is empty (emits append directly to the targets' queues);
4. trees past their deadline fail; finished trees are delivered to their spouts (``ack``
   or ``fail``) on this same thread;
5. a round with nothing to do sleeps (idle) or ends the run (``until_idle``).

Batching the bolts (rather than passing each tuple through a scheduler) is what makes the
per-tuple cost close to "a method call plus a list append". With ``deterministic=True``
the spout batch is 1: each spout tuple's tree is processed before the next spout call,
and shuffle groupings and ids come from a fixed seed, so runs repeat exactly.

Thread-safety: :meth:`LocalRunner.run` runs on the calling thread; :meth:`LocalRunner.stop`
and :meth:`LocalRunner.metrics` may be called from any thread (or a signal handler).
"""

from __future__ import annotations

import gc
import logging
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from riverhead.stream.acker import MSG_ID, SLOT, STARTED, Acker
from riverhead.stream.clock import Clock, RealClock
from riverhead.stream.errors import ComponentError, StreamError
from riverhead.stream.executor import Task, Wiring, build_tasks
from riverhead.stream.metrics import ComponentStats, TaskError, aggregate
from riverhead.stream.topology import Topology
from riverhead.stream.tuples import DEFAULT_STREAM, Tuple

log = logging.getLogger("riverhead.stream")
MAX_ERRORS_KEPT = 1000
MAX_TRACEBACKS_LOGGED = 5
OTEL_ENV = "RIVERHEAD_STREAM_OTEL"


@dataclass(frozen=True)
class RunConfig:
    """Settings of a run. Read from ``Topology(name, **config)`` and overridden by the
    runner's keyword arguments; keys not listed here go to each task's ``context.config``.

    * ``acking`` (True): track tuple trees; False makes every emit fire-and-forget and
      acks spout tuples as soon as they are emitted (Storm with 0 ackers);
    * ``message_timeout`` (30.0 s): a tree not completed in this time fails;
    * ``max_spout_pending`` (None: unbounded): trees in flight per spout task before
      ``next_tuple`` stops being called (backpressure);
    * ``spout_batch`` (100): ``next_tuple`` calls per spout task per round;
    * ``deterministic`` (False): spout batch 1 and seed 0 unless ``seed`` is given;
    * ``seed`` (None: random): seeds shuffle groupings and tuple ids;
    * ``drain_timeout`` (None: ``message_timeout``): how long a graceful stop waits for
      in-flight trees;
    * ``idle_sleep`` (0.002 s): the longest sleep of an idle round;
    * ``tracing`` (True): tag tuples downstream of trace-emitting spouts (the Kafka spout)
      with W3C trace spans, written as ``traceparent`` by the Kafka sink
      (:mod:`riverhead.stream.traces`); False turns it off;
    * ``gc_threshold`` (10000; None: leave the collector alone): the generation-0 threshold
      of Python's cyclic GC while :meth:`LocalRunner.run` runs (restored after). Queued
      tuples are GC-tracked objects that die young; at CPython's default (700) the
      collector scans most of them once, which costs ~25% of the per-tuple time. This is
      process-wide while the run lasts.
    * ``otel`` (False): export the trace spans to OpenTelemetry (True: a provider set up
      from the ``OTEL_*`` environment; or a ``TracerProvider``); also turned on by the
      environment variable ``RIVERHEAD_STREAM_OTEL=1``. See :mod:`riverhead.stream.otel`
      (imported only then; needs the ``otel`` extra).
    """

    acking: bool = True
    message_timeout: float = 30.0
    max_spout_pending: int | None = None
    spout_batch: int = 100
    deterministic: bool = False
    seed: int | None = None
    drain_timeout: float | None = None
    idle_sleep: float = 0.002
    gc_threshold: int | None = 10_000
    tracing: bool = True
    otel: Any = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, *sources: dict[str, Any]) -> RunConfig:
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for source in sources:
            for key, value in source.items():
                (values if key in known else extra)[key] = value
        cfg = cls(**values, extra=extra)
        if cfg.message_timeout <= 0:
            raise StreamError(f"message_timeout must be > 0, got {cfg.message_timeout}")
        if cfg.max_spout_pending is not None and cfg.max_spout_pending < 1:
            raise StreamError(f"max_spout_pending must be >= 1, got {cfg.max_spout_pending}")
        if cfg.spout_batch < 1:
            raise StreamError(f"spout_batch must be >= 1, got {cfg.spout_batch}")
        return cfg

    def as_context(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out.update(self.extra)
        return out


@dataclass
class RunResult:
    """What a run produced.

    ``emitted[component]``: values emitted on the component's default stream, in order
    (tuples); ``streams[(component, stream)]``: the same for every stream. Only collected
    components appear (``collect=``). ``acked``/``failed``: spout tuple trees completed /
    failed (a replayed message counts once per attempt). ``pending``: trees still in flight
    when the run ended. ``reason``: ``"idle"``, ``"until"``, ``"stopped"`` or ``"timeout"``.
    """

    topology: str
    reason: str
    emitted: dict[str, list[tuple[Any, ...]]]
    streams: dict[tuple[str, str], list[tuple[Any, ...]]]
    acked: int
    failed: int
    pending: int
    metrics: dict[str, ComponentStats]
    errors: list[TaskError]

    def values(self, component: str, stream: str = DEFAULT_STREAM) -> list[tuple[Any, ...]]:
        """Values ``component`` emitted on ``stream`` (empty if none or not collected)."""
        return self.streams.get((component, stream), [])


class LocalRunner:
    """Run ``topology`` in this thread (see the module docstring).

    ``collect``: True (every component's emits are kept for the result), False (none; use
    this for long runs), or component ids. ``clock``: a :class:`~riverhead.stream.clock.Clock`
    (tests pass a :class:`~riverhead.stream.clock.FakeClock`). Other keyword arguments are
    :class:`RunConfig` settings or extra ``context.config`` entries. A runner runs once.
    """

    def __init__(
        self,
        topology: Topology,
        *,
        collect: bool | Iterable[str] = True,
        clock: Clock | None = None,
        worker_index: int = 0,
        worker_count: int = 1,
        **config: Any,
    ) -> None:
        self.topology = topology
        self.config = RunConfig.build(topology.config, config)
        self.clock: Clock = clock or RealClock()
        seed = self.config.seed
        if seed is None and self.config.deterministic:
            seed = 0
        self.spout_batch = 1 if self.config.deterministic else self.config.spout_batch
        nspouts = sum(c.parallelism for c in topology.spouts())
        self.acker = (
            Acker(self.config.message_timeout, nspouts) if self.config.acking else None
        )
        if collect is True:
            collected: dict[tuple[str, str], list[Any]] | None = {}
            only = None
        elif collect is False:
            collected, only = None, None
        else:
            collected, only = {}, frozenset(collect)
        self._wiring = Wiring(self.acker, random.Random(seed), [0.0], [], collected, only)
        self.tasks: list[Task] = build_tasks(
            topology, self._wiring, self.config.as_context(), worker_index, worker_count
        )
        order = {cid: i for i, cid in enumerate(topology.bolt_order())}
        self._spouts = [t for t in self.tasks if t.is_spout]
        self._bolts = sorted(
            (t for t in self.tasks if not t.is_spout), key=lambda t: (order[t.component], t.task_id)
        )
        self._tickers = [t for t in self.tasks if t.tick_interval]
        otel = self.config.otel or os.environ.get(OTEL_ENV, "") not in ("", "0")
        self._otel: Any = None
        if otel:  # imports opentelemetry only when asked to
            from riverhead.stream.otel import instrument

            self._otel = instrument(self, otel)
        self._errors: list[TaskError] = []
        self._tracebacks_logged: dict[int, int] = {}
        self._stop = False
        self._stop_drain = True
        self._started = False
        self._acked = 0
        self._failed = 0

    # ---- control (any thread) ---------------------------------------------------------

    def stop(self, drain: bool = True) -> None:
        """Ask the run to end: with ``drain``, stop calling spouts and finish in-flight
        trees first (up to ``drain_timeout``). Safe from other threads and signal handlers."""
        self._stop_drain = drain
        self._stop = True

    def metrics(self) -> dict[str, ComponentStats]:
        """Per-component counters now (see :mod:`riverhead.stream.metrics`)."""
        out: dict[str, ComponentStats] = {}
        for spec in self.topology.components.values():
            tasks = [t for t in self.tasks if t.component == spec.id]
            pending = 0
            if spec.is_spout and self.acker is not None:
                pending = sum(self.acker.in_flight[t.slot] for t in tasks)
            out[spec.id] = aggregate(
                spec.id,
                "spout" if spec.is_spout else "bolt",
                [t.metrics for t in tasks],
                [len(t.inbox) for t in tasks],
                pending,
                [self._extra(t) for t in tasks],
            )
        return out

    @staticmethod
    def _extra(task: Task) -> dict[str, float]:
        try:
            return task.instance.extra_metrics()
        except Exception:  # a metrics hook must not break a reader; an open() not run yet
            return {}

    @property
    def errors(self) -> list[TaskError]:
        """Errors reported so far (the last :data:`MAX_ERRORS_KEPT`)."""
        return list(self._errors)

    # ---- the run ----------------------------------------------------------------------

    def run(
        self,
        until_idle: bool = True,
        timeout: float | None = None,
        until: Callable[[], bool] | None = None,
    ) -> RunResult:
        """Run until idle (no spout emits, no queued tuple, no tree in flight), until
        ``until()`` is true (then drain), until :meth:`stop`, or until ``timeout`` seconds
        of the runner's clock pass (no drain). Raises :class:`ComponentError` if a spout or
        a lifecycle hook raises (after closing what was opened)."""
        if self._started:
            raise StreamError("a LocalRunner runs once; build a new one")
        self._started = True
        now = self.clock.now()
        self._wiring.now[0] = now
        deadline = None if timeout is None else now + timeout
        reason = "stopped"
        saved = gc.get_threshold()
        if self.config.gc_threshold is not None and saved[0] < self.config.gc_threshold:
            gc.set_threshold(self.config.gc_threshold, *saved[1:])
        try:
            self._open()
            reason = self._loop(until_idle, deadline, until)
        finally:
            gc.set_threshold(*saved)
            self._close()
        return self._result(reason)

    def _open(self) -> None:
        for task in self.tasks:
            inst = task.instance
            inst.context = task.context
            try:
                if task.is_spout:
                    inst.open(task.context)  # type: ignore[attr-defined]
                    inst.activate()  # type: ignore[attr-defined]
                else:
                    inst.prepare(task.context)  # type: ignore[attr-defined]
            except Exception as exc:
                phase = "open" if task.is_spout else "prepare"
                raise ComponentError(task.component, task.task_id, phase, exc) from exc

    def _close(self) -> None:
        for task in self.tasks:
            inst = task.instance
            try:
                if task.is_spout:
                    if task.active:
                        task.active = False
                        inst.deactivate()  # type: ignore[attr-defined]
                    inst.close()  # type: ignore[attr-defined]
                else:
                    inst.cleanup()  # type: ignore[attr-defined]
            except Exception as exc:
                self._report(task, exc, None)
        if self._otel is not None:
            self._otel.flush()  # worker processes end without atexit handlers

    def _loop(
        self, until_idle: bool, deadline: float | None, until: Callable[[], bool] | None
    ) -> str:
        clock = self.clock
        box = self._wiring.now
        acker = self.acker
        draining = False
        drain_deadline = 0.0
        reason = "stopped"
        drain_timeout = self.config.drain_timeout
        if drain_timeout is None:
            drain_timeout = self.config.message_timeout
        while True:
            now = clock.now()
            box[0] = now
            if deadline is not None and now >= deadline:
                return "timeout"
            if not draining and (self._stop or (until is not None and until())):
                reason = "stopped" if self._stop else "until"
                if self._stop and not self._stop_drain:
                    return reason
                draining = True
                drain_deadline = now + drain_timeout
                self._deactivate()
            progress = False
            if not draining:
                for st in self._spouts:
                    if self._poll(st):
                        progress = True
            if self._tickers:
                self._tick(now)
            if self._drain_bolts():
                progress = True
            if acker is not None and acker.trees:
                acker.expire(now)
            if self._deliver(now):
                progress = True
            if progress:
                continue
            busy = acker is not None and bool(acker.trees)
            if draining:
                if not busy or now >= drain_deadline:
                    return reason
            elif until_idle and not busy:
                return "idle"
            self._idle_wait(now, deadline, drain_deadline if draining else None)

    def _idle_wait(self, now: float, deadline: float | None, drain_deadline: float | None) -> None:
        events = [t.next_tick for t in self._tickers]
        if self.acker is not None:
            d = self.acker.next_deadline()
            if d is not None:
                events.append(d)
        events += [x for x in (deadline, drain_deadline) if x is not None]
        nxt = min(events) - now if events else None
        if self.clock.jumps:
            if nxt is not None:
                self.clock.sleep(max(nxt, 0.0))
            else:
                time.sleep(self.config.idle_sleep)  # nothing scheduled: let other threads act
            return
        wait = self.config.idle_sleep if nxt is None else min(self.config.idle_sleep, nxt)
        self.clock.sleep(wait)

    def _deactivate(self) -> None:
        for st in self._spouts:
            if st.active:
                st.active = False
                try:
                    st.instance.deactivate()  # type: ignore[attr-defined]
                except Exception as exc:
                    raise ComponentError(st.component, st.task_id, "deactivate", exc) from exc

    def _poll(self, st: Task) -> bool:
        budget = self.spout_batch
        acker = self.acker
        mp = self.config.max_spout_pending
        if mp is not None and acker is not None:
            room = mp - acker.in_flight[st.slot]
            if room <= 0:
                return False
            budget = min(budget, room)
        m = st.metrics
        next_tuple = st.instance.next_tuple  # type: ignore[attr-defined]
        before = m.emitted
        try:
            for _ in range(budget):
                n = m.emitted
                next_tuple()
                if m.emitted == n:
                    break
        except Exception as exc:
            raise ComponentError(st.component, st.task_id, "next_tuple", exc) from exc
        return m.emitted != before

    def _drain_bolts(self) -> bool:
        any_work = False
        bolts = self._bolts
        while True:
            worked = False
            for bt in bolts:
                if bt.inbox:
                    self._run_batch(bt)
                    worked = True
            if not worked:
                return any_work
            any_work = True

    def _run_batch(self, bt: Task) -> None:
        inbox = bt.inbox
        batch = inbox.copy()
        inbox.clear()
        m = bt.metrics
        n = len(batch)
        if n > m.max_queue:
            m.max_queue = n
        process = bt.instance.process  # type: ignore[attr-defined]
        it = iter(batch)
        tup: Tuple | None = None
        t0 = time.perf_counter()
        while True:
            try:
                for tup in it:
                    process(tup)
                break
            except Exception as exc:
                self._bolt_error(bt, tup, exc)
        m.process_time += time.perf_counter() - t0
        m.executed += n

    def _bolt_error(self, bt: Task, tup: Tuple | None, exc: Exception) -> None:
        self._report(bt, exc, None if tup is None else tup.values)
        if tup is not None:
            bt.instance.fail(tup, f"{type(exc).__name__}: {exc}")  # type: ignore[attr-defined]

    def _report(self, task: Task, exc: BaseException, values: Any) -> None:
        task.metrics.errors += 1
        err = TaskError.capture(task.component, task.task_id, exc, values)
        self._errors.append(err)
        if len(self._errors) > MAX_ERRORS_KEPT:
            del self._errors[0]
        logged = self._tracebacks_logged.get(task.task_id, 0)
        if logged < MAX_TRACEBACKS_LOGGED:
            self._tracebacks_logged[task.task_id] = logged + 1
            log.error("%s[%d] raised on %r:\n%s", task.component, task.task_id, values,
                      err.traceback)
        else:
            log.debug("%s[%d] raised %r", task.component, task.task_id, exc)

    def _deliver(self, now: float) -> bool:
        worked = False
        immediate = self._wiring.immediate_acks
        spouts = self._spouts
        while immediate:
            items = immediate.copy()
            immediate.clear()
            worked = True
            for slot, msg_id in items:
                st = spouts[slot]
                st.metrics.acked += 1
                self._acked += 1
                self._spout_call(st, "ack", msg_id)
        acker = self.acker
        if acker is None:
            return worked
        if acker.acked or acker.failed:
            now = self.clock.now()
        while acker.acked or acker.failed:
            worked = True
            acked, acker.acked = acker.acked, []
            for rec in acked:
                st = spouts[rec[SLOT]]
                st.metrics.acked += 1
                st.metrics.complete_time += now - rec[STARTED]
                self._acked += 1
                self._spout_call(st, "ack", rec[MSG_ID])
            failed, acker.failed = acker.failed, []
            for rec, failure in failed:
                st = spouts[rec[SLOT]]
                st.metrics.failed += 1
                self._failed += 1
                self._spout_call(st, "on_fail", rec[MSG_ID], failure)
        return worked

    def _spout_call(self, st: Task, name: str, *args: Any) -> None:
        try:
            getattr(st.instance, name)(*args)
        except Exception as exc:
            raise ComponentError(st.component, st.task_id, name, exc) from exc

    def _tick(self, now: float) -> None:
        for task in self._tickers:
            if now < task.next_tick:
                continue
            assert task.tick_interval is not None
            task.next_tick = now + task.tick_interval
            try:
                task.instance.tick()
            except Exception as exc:
                if task.is_spout:
                    raise ComponentError(task.component, task.task_id, "tick", exc) from exc
                self._report(task, exc, None)

    def _result(self, reason: str) -> RunResult:
        streams: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        for key, values in (self._wiring.collected or {}).items():
            streams[key] = [v if type(v) is tuple else tuple(v) for v in values]
        emitted = {
            cid: streams.get((cid, DEFAULT_STREAM), [])
            for cid in self.topology.components
            if self._wiring.collected is not None
            and (self._wiring.collect_components is None
                 or cid in self._wiring.collect_components)
        }
        return RunResult(
            topology=self.topology.name,
            reason=reason,
            emitted=emitted,
            streams=streams,
            acked=self._acked,
            failed=self._failed,
            pending=0 if self.acker is None else len(self.acker),
            metrics=self.metrics(),
            errors=list(self._errors),
        )
