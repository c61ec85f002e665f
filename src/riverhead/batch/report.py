"""The job report: what ran, for how long, how often, and the counters (JSON).

Shape (all times in seconds, wall clock)::

    {"job": "WordCount", "runner": "local", "status": "succeeded", "wall_s": 9.8,
     "cpu_s": {"self": 0.4, "children": 18.9}, "peak_rss_mib": {"self": 60, "children": 70},
     "config": {...}, "phases": [{"name": "setup", "wall_s": 0.01},
                                {"name": "step 1 map", "wall_s": 7.1, "tasks": 8,
                                 "attempts": 8}, ...],
     "tasks": [{"phase": "step 1 map", "task": 0, "input": "corpus.txt:0+67108864",
                "attempts": [{"attempt": 1, "wall_s": 0.9, "ok": true, "pid": 4242}]}, ...],
     "counters": {"riverhead": {"map input records": 4900000, ...}, "user group": {...}},
     "outputs": ["out/part-00000", ...]}

``cpu_s.children`` and ``peak_rss_mib.children`` come from ``getrusage(RUSAGE_CHILDREN)``
and so cover worker processes that have exited (the local runner's pool is shut down
before the report is finished); ``peak_rss_mib`` is the largest single process, not a sum.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from riverhead.batch import counters as ctr


@dataclass
class Attempt:
    attempt: int
    wall_s: float
    ok: bool
    pid: int
    error: str | None = None


@dataclass
class TaskRecord:
    phase: str
    task: int
    input: str
    attempts: list[Attempt] = field(default_factory=list)


def _rss_mib(who: int) -> float:
    kib = resource.getrusage(who).ru_maxrss
    scale = 1 if sys.platform != "darwin" else 1 / 1024  # macOS reports bytes
    return round(kib * scale / 1024, 1)


class JobReport:
    """Collects phases, task attempts and counters while a runner works."""

    def __init__(self, job: str, runner: str, config: dict[str, Any]) -> None:
        self.job = job
        self.runner = runner
        self.config = config
        self.status = "running"
        self.started = time.time()
        self._t0 = time.perf_counter()
        self._cpu0 = (resource.getrusage(resource.RUSAGE_SELF), _children_cpu())
        self.phases: list[dict[str, Any]] = []
        self.tasks: list[TaskRecord] = []
        self.counters: ctr.Counters = {}
        self.outputs: list[str] = []
        self.error: str | None = None

    def phase(self, name: str, started: float, **extra: Any) -> None:
        """Record a finished phase that began at ``started`` (``time.perf_counter()``)."""
        self.phases.append(
            {"name": name, "wall_s": round(time.perf_counter() - started, 4), **extra}
        )

    def task(self, phase: str, index: int, description: str) -> TaskRecord:
        record = TaskRecord(phase, index, description)
        self.tasks.append(record)
        return record

    def finish(self, status: str, error: str | None = None) -> dict[str, Any]:
        self.status = status
        self.error = error
        return self.as_dict()

    def as_dict(self) -> dict[str, Any]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        own = me.ru_utime + me.ru_stime - self._cpu0[0].ru_utime - self._cpu0[0].ru_stime
        return {
            "job": self.job,
            "runner": self.runner,
            "status": self.status,
            "error": self.error,
            "started": self.started,
            "wall_s": round(time.perf_counter() - self._t0, 4),
            "cpu_s": {
                "self": round(own, 3),
                "children": round(_children_cpu() - self._cpu0[1], 3),
            },
            "peak_rss_mib": {
                "self": _rss_mib(resource.RUSAGE_SELF),
                "children": _rss_mib(resource.RUSAGE_CHILDREN),
            },
            "config": self.config,
            "phases": self.phases,
            "tasks": [asdict(t) for t in self.tasks],
            "counters": ctr.sorted_counters(self.counters),
            "outputs": self.outputs,
        }

    def write(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(self.as_dict(), out, indent=2)
            out.write("\n")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return float(usage.ru_utime + usage.ru_stime)
