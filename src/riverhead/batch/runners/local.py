"""The local runner (default): map and reduce tasks in a pool of worker processes.

Workers are forked (where the platform allows) once per job and inherit the job object,
so only small task descriptions and results cross process boundaries; on platforms
without ``fork`` the job is pickled to each worker once (its class must be importable).
Tasks are handed out one at a time to whichever worker is idle (no batching of tasks).

Retries: an attempt that raises is retried up to ``max_attempts`` runs in all; then the
job fails with :class:`~riverhead.batch.errors.JobFailed` carrying the last attempt's
formatted traceback. A worker that dies outright (killed, segfault) breaks the pool; the
pool is restarted and every task that was running in it is charged one attempt. Each
attempt writes files under names of its own; only a successful attempt's output is used.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import time
import traceback
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from riverhead.batch import counters as ctr
from riverhead.batch.errors import JobFailed
from riverhead.batch.job import MapReduceJob
from riverhead.batch.report import Attempt
from riverhead.batch.runners.base import Runner, Task, task_label
from riverhead.batch.tasks import MapTask, TaskEnv, TaskResult, run_map_task, run_reduce_task

_JOB: MapReduceJob | None = None
_ENV: TaskEnv | None = None


def _install(job: MapReduceJob, env: TaskEnv) -> None:
    """Pool initializer: the job and environment every task of this worker uses."""
    global _JOB, _ENV
    _JOB, _ENV = job, env


@dataclass
class Outcome:
    """One attempt's result as the worker reports it (exceptions become text)."""

    ok: bool
    result: TaskResult | None
    error: str | None
    wall: float
    pid: int


def _attempt(task: Task, attempt: int) -> Outcome:
    t0 = time.perf_counter()
    assert _JOB is not None and _ENV is not None
    try:
        if isinstance(task, MapTask):
            result = run_map_task(_JOB, task, _ENV, attempt)
        else:
            result = run_reduce_task(_JOB, task, _ENV, attempt)
    except Exception:
        return Outcome(False, None, traceback.format_exc(), time.perf_counter() - t0, os.getpid())
    return Outcome(True, result, None, time.perf_counter() - t0, os.getpid())


def _noop() -> int:
    return os.getpid()


class LocalRunner(Runner):
    name = "local"

    def __init__(self, job: MapReduceJob, config: Any) -> None:
        super().__init__(job, config)
        self.pool: ProcessPoolExecutor | None = None
        self._env: TaskEnv | None = None

    def start(self, env: TaskEnv) -> None:
        self._env = env
        self._new_pool()

    def _new_pool(self) -> None:
        assert self._env is not None
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        self.pool = ProcessPoolExecutor(
            max_workers=self.config.effective_workers(),
            mp_context=context,
            initializer=_install,
            initargs=(self.job, self._env),
        )
        # Start the workers now, before any progress-bar thread exists in this process.
        # Objects inherited through fork are frozen (moved to the GC's permanent
        # generation) while the workers start: a worker's collector then never visits
        # them, so garbage the parent left behind that cannot be freed in another process
        # (a greenlet or an extension object of a thread the child does not have) cannot
        # crash it. This was seen: a segfault "Garbage-collecting" in a map task of a
        # test process that had driven a browser. It also spares copy-on-write pages.
        gc.freeze()
        try:
            self.pool.submit(_noop).result()
        finally:
            gc.unfreeze()

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def execute(self, phase: str, tasks: list[Task], env: TaskEnv) -> list[TaskResult]:
        limit = self.config.max_attempts
        results: list[TaskResult | None] = [None] * len(tasks)
        attempts = [0] * len(tasks)
        records = [
            self.report.task(
                phase,
                i,
                t.split.describe() if isinstance(t, MapTask) else f"partition {t.partition}",
            )
            for i, t in enumerate(tasks)
        ]
        pending = deque(range(len(tasks)))
        running: dict[Future[Outcome], tuple[int, float]] = {}
        self.progress.phase(phase, len(tasks))
        while pending or running:
            while pending:
                i = pending.popleft()
                attempts[i] += 1
                assert self.pool is not None
                self.metrics.attempt_started(phase)
                running[self.pool.submit(_attempt, tasks[i], attempts[i])] = (
                    i,
                    time.perf_counter(),
                )
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                i, t0 = running.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    broken = True
                    outcome = Outcome(
                        False,
                        None,
                        "a worker process died (killed or crashed)\n",
                        time.perf_counter() - t0,
                        -1,
                    )
                self._settle(tasks, i, outcome, attempts, limit, results, records, pending)
            if broken:
                # Every task still in the broken pool is charged an attempt and rerun.
                for future, (i, t0) in list(running.items()):
                    running.pop(future)
                    outcome = Outcome(
                        False,
                        None,
                        "a worker process died (killed or crashed)\n",
                        time.perf_counter() - t0,
                        -1,
                    )
                    self._settle(tasks, i, outcome, attempts, limit, results, records, pending)
                self.stop()
                self._new_pool()
        return [r for r in results if r is not None]

    def _settle(
        self,
        tasks: list[Task],
        i: int,
        outcome: Outcome,
        attempts: list[int],
        limit: int,
        results: list[TaskResult | None],
        records: list[Any],
        pending: deque[int],
    ) -> None:
        record = records[i]
        lines = (outcome.error or "").strip().splitlines()
        record.attempts.append(
            Attempt(
                attempts[i],
                round(outcome.wall, 4),
                outcome.ok,
                outcome.pid,
                lines[-1] if lines else None,
            )
        )
        if outcome.ok:
            assert outcome.result is not None
            results[i] = outcome.result
            ctr.merge_into(self.counters, outcome.result.counters)
            self.metrics.attempt_finished(
                record.phase, tasks[i], outcome.result, False, self.counters
            )
            self.progress.advance()
            return
        ctr.increment(self.counters, ctr.ENGINE, "failed task attempts")
        retry = attempts[i] < limit
        self.metrics.attempt_finished(record.phase, tasks[i], None, retry, self.counters)
        if attempts[i] >= limit:
            raise JobFailed(task_label(tasks[i]), attempts[i], outcome.error or "")
        pending.append(i)
