"""What every runner shares: planning steps into tasks, outputs, commit, and the report.

A runner turns a job and a :class:`~riverhead.batch.config.JobConfig` into tasks and runs
them; subclasses only say *how* a list of task attempts is executed
(:meth:`Runner.execute`): in this process (inline) or in a process pool with retries
(local). The Spark runner replaces :meth:`Runner.run` altogether.

Plan of a run: resolve inputs into splits once (topic offset ranges are fixed here);
for each step, one map task per split, then, if the step has a reducer, one reduce task
per partition over the map tasks' runs; a step's output becomes the next step's splits.
The last step writes ``part-NNNNN`` files, committed by rename after each task succeeds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from riverhead.batch import counters as ctr
from riverhead.batch.config import JobConfig
from riverhead.batch.errors import JobConfigError, OutputError
from riverhead.batch.inputs import (
    MemorySplit,
    PickleSplit,
    ReadOptions,
    Split,
    expand_paths,
    file_splits,
)
from riverhead.batch.job import MapReduceJob
from riverhead.batch.metrics import BatchMetrics, serve, write_textfile
from riverhead.batch.outputs import (
    TEMP_DIR,
    output_files,
    prepare_output_dir,
    read_lines,
)
from riverhead.batch.progress import Progress
from riverhead.batch.report import JobReport
from riverhead.batch.tasks import MapTask, ReduceTask, TaskEnv, TaskResult
from riverhead.batch.topics import is_topic_url, produce_lines, resolve_topic

KEEP_TEMP_ENV = "RIVERHEAD_BATCH_KEEP_TEMP"
Task = MapTask | ReduceTask


@dataclass
class JobResult:
    """A finished job: its output files, counters and report (a dict, see ``report``)."""

    output_dir: str
    files: list[str]
    counters: ctr.Counters
    report: dict[str, Any]
    protocol: Any
    temporary: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def read_lines(self) -> Iterator[str]:
        """Output lines in part-file order."""
        return read_lines(self.files)

    def read_pairs(self) -> Iterator[tuple[Any, Any]]:
        """Output decoded with the job's ``OUTPUT_PROTOCOL.read``."""
        read = self.protocol.read
        for line in self.read_lines():
            yield read(line)

    def cleanup(self) -> None:
        """Remove the output if it only existed to be printed or produced."""
        if self.temporary:
            shutil.rmtree(os.path.dirname(self.output_dir), ignore_errors=True)


def task_label(task: Task) -> str:
    kind = "map" if isinstance(task, MapTask) else "reduce"
    index = task.index if isinstance(task, MapTask) else task.partition
    return f"step {task.step + 1} {kind} task {index}"


class Runner:
    """Base runner. ``run()`` plans and commits; ``execute()`` is the subclass's part."""

    name = "base"
    in_memory = False  # intermediate data and runs stay in memory (inline)

    def __init__(self, job: MapReduceJob, config: JobConfig) -> None:
        config.validate()
        self.job = job
        self.config = config
        self.report = JobReport(type(job).__name__, self.name, _config_summary(config))
        self.counters: ctr.Counters = {}
        self.work_root = ""
        self.progress = Progress(config.progress)
        workers = 1 if self.in_memory else config.effective_workers()
        self.metrics = BatchMetrics(type(job).__name__, self.name, workers)

    # ---- the part subclasses provide --------------------------------------------------

    def execute(self, phase: str, tasks: list[Task], env: TaskEnv) -> list[TaskResult]:
        """Run every task (retrying as the runner sees fit); results in task order."""
        raise NotImplementedError

    def start(self, env: TaskEnv) -> None:
        """Called once before the first task (the local runner starts its pool)."""

    def stop(self) -> None:
        """Called once after the last task or on failure."""

    # ---- planning -----------------------------------------------------------------------

    def resolve_splits(self) -> list[Split]:
        config = self.config
        splits: list[Split] = []
        files: list[str] = []
        for item in config.inputs:
            if is_topic_url(item):
                splits += resolve_topic(item, config.brokers, config.input_format, config.timeout)
            else:
                files += expand_paths([item], self.work_root)
        splits = (
            file_splits(files, config.input_format, config.split_size, config.effective_workers())
            + splits
        )
        return splits

    def env(self, output_temp: str | None) -> TaskEnv:
        chunk = max(4096, min(1 << 20, self.config.memory // 8))
        return TaskEnv(
            memory=self.config.memory,
            read=ReadOptions(self.job.INPUT_PROTOCOL(), chunk=chunk),
            work_dir=None if self.in_memory else os.path.join(self.work_root, "work"),
            output_temp=output_temp,
            compression=self.config.output_compression,
        )

    def _output_dir(self) -> tuple[str, bool]:
        out = self.config.output
        if out is None or is_topic_url(out):
            return os.path.join(self.work_root, "output"), True
        return out, False

    def run(self) -> JobResult:
        """Run the job to completion; raises ``BatchError`` subclasses on failure."""
        steps = self.job.checked_steps()
        listener = self.config.metrics_listener
        exporter = serve(listener, self.metrics) if listener else None
        self.work_root = tempfile.mkdtemp(prefix="riverhead-batch-", dir=self.config.temp_dir)
        out_dir, temporary = self._output_dir()
        succeeded = False
        try:
            temp = prepare_output_dir(out_dir)
            env = self.env(temp)
            if env.work_dir:
                os.makedirs(env.work_dir)
            t0 = time.perf_counter()
            splits = self.resolve_splits()
            self.report.phase("setup", t0, splits=len(splits))
            self.start(env)
            try:
                with self.progress:
                    committed = self._run_steps(steps, splits, env, out_dir)
            finally:
                self.stop()
            t0 = time.perf_counter()
            shutil.rmtree(temp, ignore_errors=True)
            with open(os.path.join(out_dir, "_SUCCESS"), "w"):
                pass
            files = output_files(out_dir)
            if self.config.output is not None and is_topic_url(self.config.output):
                produced = produce_lines(
                    self.config.output,
                    self.config.brokers,
                    read_lines(files),
                    self.config.timeout,
                )
                ctr.increment(self.counters, ctr.ENGINE, "records produced", produced)
            self.report.phase("commit", t0, files=len(committed))
            self.report.counters = self.counters
            self.report.outputs = [] if temporary else files
            report = self.report.finish("succeeded")
            self._end_metrics(report)
            if self.config.report:
                self.report.write(self.config.report)
            elif not temporary:
                self.report.write(os.path.join(out_dir, "_job_report.json"))
            succeeded = True
            return JobResult(
                out_dir, files, self.counters, report, self.job.OUTPUT_PROTOCOL(), temporary
            )
        except BaseException as exc:
            self.report.counters = self.counters
            failed = self.report.finish("failed", f"{type(exc).__name__}: {exc}")
            self._end_metrics(failed)
            if self.config.report:
                self.report.write(self.config.report)
            raise
        finally:
            if exporter is not None:
                exporter.stop()  # waits up to half a second: after the reports
            if not os.environ.get(KEEP_TEMP_ENV):
                keep = out_dir if temporary and succeeded else None
                _remove_tree_except(self.work_root, keep)

    def _run_steps(
        self, steps: list[Any], splits: list[Split], env: TaskEnv, out_dir: str
    ) -> list[str]:
        committed: list[str] = []
        reducers = self.config.effective_reducers()
        for index, step in enumerate(steps):
            final = index == len(steps) - 1
            partitions = (step.reducers or reducers) if step.has_reducer else 0
            if not splits and index == 0:
                raise JobConfigError("the inputs hold no data to read", "check the input paths")
            phase = f"step {index + 1} map"
            map_tasks: list[Task] = [
                MapTask(index, i, split, partitions, final) for i, split in enumerate(splits)
            ]
            t0 = time.perf_counter()
            results = self._execute(phase, map_tasks, env)
            self.report.phase(phase, t0, tasks=len(map_tasks))
            if partitions == 0:
                outputs = [r.output for r in results]
            else:
                by_partition: list[list[Any]] = [[] for _ in range(partitions)]
                for result in results:
                    for ref in result.runs:
                        by_partition[ref.partition].append(ref)
                reduce_tasks: list[Task] = [
                    ReduceTask(index, p, tuple(runs), final) for p, runs in enumerate(by_partition)
                ]
                phase = f"step {index + 1} reduce"
                t0 = time.perf_counter()
                results = self._execute(phase, reduce_tasks, env)
                self.report.phase(phase, t0, tasks=len(reduce_tasks))
                outputs = [r.output for r in results]
            if final:
                committed = self._commit(outputs, out_dir)
            else:
                splits = self._next_splits(index, outputs)
        return committed

    def _execute(self, phase: str, tasks: list[Task], env: TaskEnv) -> list[TaskResult]:
        self.metrics.phase_started(phase, len(tasks))
        results = self.execute(phase, tasks, env)
        self.metrics.phase_finished(phase)
        return results

    def _end_metrics(self, report: dict[str, Any]) -> None:
        """Final figures: into the metrics and the ``--metrics-file``."""
        self.metrics.finished(report)
        if self.config.metrics_file:
            write_textfile(self.config.metrics_file, self.metrics)

    def _next_splits(self, step: int, outputs: list[Any]) -> list[Split]:
        splits: list[Split] = []
        for i, output in enumerate(outputs):
            if isinstance(output, list):
                splits.append(MemorySplit(output, f"step {step + 1} output {i}"))
            else:
                splits.append(PickleSplit(output, os.path.getsize(output)))
        return splits

    def _commit(self, outputs: list[Any], out_dir: str) -> list[str]:
        """Rename each task's temporary part file (``part-00001.a2``) to its final name."""
        final = []
        for path in outputs:
            if not isinstance(path, str):
                raise OutputError("final output was not written to a file")
            name = os.path.basename(path).rsplit(".a", 1)[0]
            target = os.path.join(out_dir, name)
            os.replace(path, target)
            final.append(target)
        return final


def _remove_tree_except(root: str, keep: str | None) -> None:
    if keep is None:
        shutil.rmtree(root, ignore_errors=True)
        return
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if os.path.abspath(path) != os.path.abspath(keep):
            shutil.rmtree(path, ignore_errors=True)


def _config_summary(config: JobConfig) -> dict[str, Any]:
    summary = asdict(config)
    summary["workers"] = config.effective_workers()
    summary["reducers"] = config.effective_reducers()
    return summary


__all__ = ["TEMP_DIR", "JobResult", "Runner", "Task", "task_label"]
