"""Prometheus metrics of a batch job: a live endpoint and a final textfile.

``--metrics-listener http://host:port`` serves ``/metrics`` (and ``/v1/status/ready``,
ready while the job runs) for as long as the job runs (port 0: any free port, printed on
stderr); ``--metrics-file PATH.prom``
writes the final figures in the Prometheus text format when the job ends (succeeded or
failed), atomically (temporary file + rename), as node_exporter's textfile collector
expects: short jobs end before any scrape, so the file is what Prometheus sees.

Families (every series carries ``batch_job``, the job's class name, so the files of
several jobs in one textfile directory never collide):

* ``riverhead_batch_job_status{status}`` — 1 for the current status (running,
  succeeded, failed), 0 for the others; ``riverhead_batch_job_start_time_seconds``,
  ``_end_time_seconds`` (once ended), ``_elapsed_seconds`` (the report's ``wall_s`` once
  ended); ``riverhead_batch_workers``; ``riverhead_batch_job_info{runner}``.
* ``riverhead_batch_tasks{phase,state}`` — tasks of each phase begun so far by state:
  pending (not started, or waiting for a retry), running, succeeded, failed (out of
  attempts). ``riverhead_batch_phase_duration_seconds{phase}`` once a phase ended.
* ``riverhead_batch_task_attempts_total{phase,outcome}`` (finished attempts, outcome
  succeeded or failed) and ``riverhead_batch_task_retries_total{phase}`` (failed attempts
  that were run again).
* ``riverhead_batch_records_in_total{phase}``, ``_records_out_total``,
  ``_bytes_in_total``, ``_bytes_out_total`` — of successful attempts (as the counters):
  map: input records and split bytes in; records and bytes of the sorted runs out (or of
  the written output for a map-only step). Reduce: records read and bytes of the runs it
  merged in; records and bytes written out (bytes of intermediate output files between
  steps; in-memory data of the inline runner counts 0 bytes).
* ``riverhead_batch_phase_counter_total{phase,name}`` — the engine's counters (group
  ``riverhead``) by phase; ``riverhead_batch_counter_total{group,name}`` — every counter
  of the job (engine and user) exactly as the job report's ``counters``.

Label cardinality: ``phase`` is bounded by the job's steps, ``state``/``outcome``/
``status`` are fixed sets, engine counter names are the engine's; user counters are
capped at :data:`COUNTER_SERIES_MAX` series (the rest are left out and
``riverhead_batch_counter_series_dropped`` says how many).

Thread-safety: the runner's main thread calls the ``phase_started`` / ``attempt_*`` /
``finished`` hooks; scrapes run on the HTTP server's threads. All state is guarded by one
lock; the hooks run once per task attempt, never per record.
"""

from __future__ import annotations

import copy
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from riverhead.batch import counters as ctr
from riverhead.batch.tasks import MapTask, ReduceTask, TaskResult

COUNTER_SERIES_MAX = 1000
STATUSES = ("running", "succeeded", "failed")
TASK_STATES = ("pending", "running", "succeeded", "failed")
_IO = ("records_in", "records_out", "bytes_in", "bytes_out")


@dataclass
class PhaseStats:
    """One phase (``step 1 map``...): task states, attempts, I/O and engine counters."""

    tasks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TASK_STATES, 0))
    attempts_ok: int = 0
    attempts_failed: int = 0
    retries: int = 0
    io: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_IO, 0))
    engine: dict[str, int] = field(default_factory=dict)
    duration: float | None = None
    started: float = field(default_factory=time.perf_counter)


class BatchMetrics:
    """Live figures of one job run, fed by the runner (see the module docstring)."""

    def __init__(self, job: str, runner: str, workers: int) -> None:
        self.job = job
        self.runner = runner
        self.workers = workers
        self.status = "running"
        self.start_time = time.time()
        self.end_time: float | None = None
        self.elapsed: float | None = None
        self._t0 = time.perf_counter()
        self._lock = threading.Lock()
        self.phases: dict[str, PhaseStats] = {}
        self.totals: ctr.Counters = {}

    # ---- hooks (runner's main thread) ----------------------------------------------------

    def phase_started(self, phase: str, tasks: int) -> None:
        with self._lock:
            stats = self.phases[phase] = PhaseStats()
            stats.tasks["pending"] = tasks

    def attempt_started(self, phase: str) -> None:
        with self._lock:
            tasks = self.phases[phase].tasks
            tasks["pending"] -= 1
            tasks["running"] += 1

    def attempt_finished(
        self,
        phase: str,
        task: MapTask | ReduceTask,
        result: TaskResult | None,
        retry: bool,
        totals: ctr.Counters,
    ) -> None:
        """An attempt ended: ``result`` is None when it failed; ``retry`` if it runs again;
        ``totals`` are the job's counters now (copied)."""
        io = _task_io(task, result) if result is not None else None
        with self._lock:
            stats = self.phases[phase]
            stats.tasks["running"] -= 1
            if result is not None and io is not None:
                stats.tasks["succeeded"] += 1
                stats.attempts_ok += 1
                for key, amount in io.items():
                    stats.io[key] += amount
                for name, amount in result.counters.get(ctr.ENGINE, {}).items():
                    stats.engine[name] = stats.engine.get(name, 0) + amount
            else:
                stats.attempts_failed += 1
                if retry:
                    stats.retries += 1
                    stats.tasks["pending"] += 1
                else:
                    stats.tasks["failed"] += 1
            self.totals = copy.deepcopy(totals)

    def phase_finished(self, phase: str) -> None:
        with self._lock:
            stats = self.phases[phase]
            stats.duration = time.perf_counter() - stats.started

    def finished(self, report: dict[str, Any]) -> None:
        """The job ended; ``report`` is its final report (status, wall_s, counters)."""
        with self._lock:
            self.status = str(report["status"])
            self.end_time = time.time()
            self.elapsed = float(report["wall_s"])
            self.totals = copy.deepcopy(report["counters"])

    # ---- collection (any thread) -------------------------------------------------------

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            yield from self._families()

    def _families(self) -> Iterator[Metric]:
        job = self.job
        base = ["batch_job"]
        status = GaugeMetricFamily(
            "riverhead_batch_job_status", "1 for the job's current status", labels=[*base, "status"]
        )
        for name in STATUSES:
            status.add_metric([job, name], 1.0 if name == self.status else 0.0)
        yield status
        info = GaugeMetricFamily(
            "riverhead_batch_job_info", "The job's runner", labels=[*base, "runner"]
        )
        info.add_metric([job, self.runner], 1.0)
        yield info
        for name, text, value in (
            ("job_start_time_seconds", "Unix time the job started", self.start_time),
            ("job_end_time_seconds", "Unix time the job ended", self.end_time),
            (
                "job_elapsed_seconds",
                "Wall time since the job started (its report's wall_s once ended)",
                self.elapsed if self.elapsed is not None else time.perf_counter() - self._t0,
            ),
            ("workers", "Worker processes of the runner", float(self.workers)),
        ):
            if value is not None:
                gauge = GaugeMetricFamily(f"riverhead_batch_{name}", text, labels=base)
                gauge.add_metric([job], value)
                yield gauge

        phases = list(self.phases.items())
        tasks = GaugeMetricFamily(
            "riverhead_batch_tasks", "Tasks of a phase by state", labels=[*base, "phase", "state"]
        )
        durations = GaugeMetricFamily(
            "riverhead_batch_phase_duration_seconds",
            "Wall time of a finished phase",
            labels=[*base, "phase"],
        )
        attempts = CounterMetricFamily(
            "riverhead_batch_task_attempts",
            "Finished task attempts by outcome",
            labels=[*base, "phase", "outcome"],
        )
        retries = CounterMetricFamily(
            "riverhead_batch_task_retries",
            "Failed task attempts that were run again",
            labels=[*base, "phase"],
        )
        io = {
            key: CounterMetricFamily(
                f"riverhead_batch_{key}", _IO_HELP[key], labels=[*base, "phase"]
            )
            for key in _IO
        }
        engine = CounterMetricFamily(
            "riverhead_batch_phase_counter",
            "Engine counters (group riverhead) of successful attempts by phase",
            labels=[*base, "phase", "name"],
        )
        for phase, stats in phases:
            for state in TASK_STATES:
                tasks.add_metric([job, phase, state], stats.tasks[state])
            if stats.duration is not None:
                durations.add_metric([job, phase], stats.duration)
            attempts.add_metric([job, phase, "succeeded"], stats.attempts_ok)
            attempts.add_metric([job, phase, "failed"], stats.attempts_failed)
            retries.add_metric([job, phase], stats.retries)
            for key in _IO:
                io[key].add_metric([job, phase], stats.io[key])
            for name, amount in sorted(stats.engine.items()):
                engine.add_metric([job, phase, name], amount)
        yield tasks
        yield durations
        yield attempts
        yield retries
        yield from io.values()
        yield engine

        counters = CounterMetricFamily(
            "riverhead_batch_counter",
            "Job counters (engine and user) of successful attempts, as in the job report",
            labels=[*base, "group", "name"],
        )
        series = dropped = 0
        for group, names in ctr.sorted_counters(self.totals).items():
            for name, amount in names.items():
                if group != ctr.ENGINE and series >= COUNTER_SERIES_MAX:
                    dropped += 1
                    continue
                series += group != ctr.ENGINE
                counters.add_metric([job, group, name], amount)
        yield counters
        left_out = GaugeMetricFamily(
            "riverhead_batch_counter_series_dropped",
            f"User counters left out (more than {COUNTER_SERIES_MAX} series)",
            labels=base,
        )
        left_out.add_metric([job], dropped)
        yield left_out


_IO_HELP = {
    "records_in": "Records read by successful attempts",
    "records_out": "Records written by successful attempts",
    "bytes_in": "Bytes read by successful attempts (splits; runs merged by reducers)",
    "bytes_out": "Bytes written by successful attempts (sorted runs, output files)",
}


def _task_io(task: MapTask | ReduceTask, result: TaskResult) -> dict[str, int]:
    """Records and bytes in and out of one successful attempt (see the module docs)."""
    engine = result.counters.get(ctr.ENGINE, {})
    if isinstance(task, MapTask):
        records_in = engine.get(ctr.MAP_INPUT_RECORDS, 0)
        bytes_in = engine.get(ctr.MAP_INPUT_BYTES, 0)
        if result.runs or task.partitions:
            records_out = sum(run.entries for run in result.runs)
            bytes_out = sum(run.nbytes for run in result.runs)
            return _io(records_in, records_out, bytes_in, bytes_out)
        records_out = engine.get(ctr.MAP_OUTPUT_RECORDS, 0)
    else:
        records_in = engine.get(ctr.REDUCE_INPUT_RECORDS, 0)
        bytes_in = sum(run.nbytes for run in task.runs)
        records_out = engine.get(ctr.REDUCE_OUTPUT_RECORDS, 0)
    if task.final:
        bytes_out = engine.get(ctr.OUTPUT_BYTES, 0)
    elif isinstance(result.output, str) and os.path.exists(result.output):
        bytes_out = os.path.getsize(result.output)
    else:
        bytes_out = 0
    return _io(records_in, records_out, bytes_in, bytes_out)


def _io(records_in: int, records_out: int, bytes_in: int, bytes_out: int) -> dict[str, int]:
    return {
        "records_in": records_in,
        "records_out": records_out,
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
    }


def serve(listener: str, metrics: BatchMetrics) -> Any:
    """Start ``/metrics`` and ``/v1/status/ready`` on ``listener`` (``http://host:port``);
    returns the :class:`~riverhead.broker.metrics_server.MetricsServer` (``stop()`` it).
    Raises :class:`~riverhead.batch.errors.JobConfigError` for a bad or taken address."""
    from prometheus_client import CollectorRegistry, GCCollector, ProcessCollector

    from riverhead.batch.errors import JobConfigError
    from riverhead.broker.metrics_server import MetricsError, MetricsServer, parse_listener

    try:
        address = parse_listener(listener)
    except MetricsError as exc:
        raise JobConfigError(f"--metrics-listener: {exc}") from None
    if address is None:
        raise JobConfigError("--metrics-listener is empty", "write e.g. http://127.0.0.1:9646")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)

    def readiness() -> str | None:
        return None if metrics.status == "running" else f"job {metrics.status}"

    server = MetricsServer(registry, readiness)
    try:
        port = server.start(*address)
    except OSError as exc:
        raise JobConfigError(
            f"--metrics-listener {listener}: cannot listen ({exc.strerror or exc})",
            "pick a free port",
        ) from None
    if address[1] == 0:  # say which port "any free port" turned out to be
        sys.stderr.write(f"batch metrics: http://{address[0]}:{port}/metrics\n")
    return server


def write_textfile(path: str, metrics: BatchMetrics) -> None:
    """Write the job's families to ``path`` atomically (node_exporter textfile format)."""
    from prometheus_client import CollectorRegistry, write_to_textfile

    from riverhead.batch.errors import OutputError

    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    try:
        write_to_textfile(path, registry)
    except OSError as exc:
        raise OutputError(f"cannot write --metrics-file {path!r}: {exc.strerror or exc}") from None


__all__ = ["COUNTER_SERIES_MAX", "BatchMetrics", "serve", "write_textfile"]
