"""The inline runner: every task in this process, one after another, data in memory.

For debugging and tests: no processes, no pickling (jobs may hold lambdas, open files or
anything else), intermediate data and sorted runs stay Python lists, breakpoints work, and
the first exception propagates unchanged with its original traceback (no retries).
"""

from __future__ import annotations

import os
import time

from riverhead.batch import counters as ctr
from riverhead.batch.report import Attempt
from riverhead.batch.runners.base import Runner, Task, task_label
from riverhead.batch.tasks import MapTask, TaskEnv, TaskResult, run_map_task, run_reduce_task


class InlineRunner(Runner):
    name = "inline"
    in_memory = True

    def execute(self, phase: str, tasks: list[Task], env: TaskEnv) -> list[TaskResult]:
        results = []
        self.progress.phase(phase, len(tasks))
        for task in tasks:
            description = (
                task.split.describe()
                if isinstance(task, MapTask)
                else f"partition {task.partition}"
            )
            record = self.report.task(phase, _index(task), description)
            t0 = time.perf_counter()
            self.metrics.attempt_started(phase)
            try:
                if isinstance(task, MapTask):
                    result = run_map_task(self.job, task, env, 1)
                else:
                    result = run_reduce_task(self.job, task, env, 1)
            except BaseException as exc:
                wall = time.perf_counter() - t0
                record.attempts.append(Attempt(1, wall, False, os.getpid(), repr(exc)))
                exc.add_note(f"in {task_label(task)} (inline runner)")
                self.metrics.attempt_finished(phase, task, None, False, self.counters)
                raise
            record.attempts.append(
                Attempt(1, round(time.perf_counter() - t0, 4), True, os.getpid())
            )
            ctr.merge_into(self.counters, result.counters)
            self.metrics.attempt_finished(phase, task, result, False, self.counters)
            results.append(result)
            self.progress.advance()
        return results


def _index(task: Task) -> int:
    return task.index if isinstance(task, MapTask) else task.partition
