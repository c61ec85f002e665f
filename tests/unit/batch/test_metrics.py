"""Batch job metrics (``riverhead.batch.metrics``): the final ``--metrics-file`` agrees
exactly with the job's own report, on the inline and the local runner, with retries,
several steps and a failed job; bad options are one clear error."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from riverhead.batch import JobConfigError, JobFailed
from riverhead.batch.counters import ENGINE
from riverhead.batch.metrics import COUNTER_SERIES_MAX, BatchMetrics
from riverhead.batch.tasks import MapTask, TaskResult
from tests.unit.batch.jobs import FlakyWordCount, MapOnlyUpper, TopWords, generate_text

pytestmark = pytest.mark.unit

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples[(metric, frozenset(labels.items()))]


def check_against_report(
    samples: Samples, report: dict[str, Any], job: str, same_dict: bool = True
) -> None:
    """Every figure the report also has must be equal (see docs/monitoring.md).

    ``same_dict``: ``report`` is the dict the job returned (not its file, written a
    moment later with a larger ``wall_s``)."""
    base = {"batch_job": job}
    assert value(samples, "riverhead_batch_job_status", status=report["status"], **base) == 1
    others = {s for s in ("running", "succeeded", "failed") if s != report["status"]}
    for other in others:
        assert value(samples, "riverhead_batch_job_status", status=other, **base) == 0
    elapsed = value(samples, "riverhead_batch_job_elapsed_seconds", **base)
    assert elapsed == report["wall_s"] if same_dict else elapsed <= report["wall_s"]
    assert value(samples, "riverhead_batch_job_start_time_seconds", **base) >= report["started"]
    scraped = {
        (dict(lbl)["group"], dict(lbl)["name"]): v
        for (n, lbl), v in samples.items()
        if n == "riverhead_batch_counter_total"
    }
    expected = {(g, n): v for g, names in report["counters"].items() for n, v in names.items()}
    assert scraped == expected
    by_phase: dict[str, list[list[dict[str, Any]]]] = {}
    for task in report["tasks"]:
        by_phase.setdefault(task["phase"], []).append(task["attempts"])
    for phase, tasks in by_phase.items():
        ok = sum(1 for t in tasks if t and t[-1]["ok"])
        labels = {"phase": phase, **base}
        assert value(samples, "riverhead_batch_tasks", state="succeeded", **labels) == ok
        assert value(samples, "riverhead_batch_tasks", state="running", **labels) == 0
        attempts = [a for t in tasks for a in t]
        assert value(
            samples, "riverhead_batch_task_attempts_total", outcome="succeeded", **labels
        ) == sum(a["ok"] for a in attempts)
        assert value(
            samples, "riverhead_batch_task_attempts_total", outcome="failed", **labels
        ) == sum(not a["ok"] for a in attempts)
    for phase in report["phases"]:
        if "tasks" in phase:
            labels = {"phase": phase["name"], **base}
            states = ("pending", "running", "succeeded", "failed")
            assert (
                sum(value(samples, "riverhead_batch_tasks", state=s, **labels) for s in states)
                == phase["tasks"]
            )


def test_two_step_job_on_the_local_runner_matches_its_report(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    counts = generate_text(corpus, 4000)
    prom = tmp_path / "metrics" / "top.prom"
    prom.parent.mkdir()
    out = tmp_path / "out"
    args = [str(corpus), "-o", str(out), "--workers", "2", "--reducers", "3"]
    result = TopWords([*args, "--split-size", "16K", "--metrics-file", str(prom)]).run_job()
    samples = parse(prom.read_text())
    check_against_report(samples, result.report, "TopWords")
    assert not [p for p in prom.parent.iterdir() if p.name != "top.prom"]  # renamed into place
    base = {"batch_job": "TopWords"}
    engine = result.counters[ENGINE]
    m1, r1, r2 = ({"phase": p, **base} for p in ("step 1 map", "step 1 reduce", "step 2 reduce"))
    assert value(samples, "riverhead_batch_records_in_total", **m1) == 4000
    assert value(samples, "riverhead_batch_bytes_in_total", **m1) == corpus.stat().st_size
    # What the map tasks put into the shuffle is what the reducers read, in records and bytes.
    assert value(samples, "riverhead_batch_records_out_total", **m1) == value(
        samples, "riverhead_batch_records_in_total", **r1
    )
    assert value(samples, "riverhead_batch_bytes_out_total", **m1) == value(
        samples, "riverhead_batch_bytes_in_total", **r1
    )
    assert value(samples, "riverhead_batch_bytes_in_total", **r1) > 0
    assert value(samples, "riverhead_batch_records_out_total", **r1) == len(counts)
    assert value(samples, "riverhead_batch_records_out_total", **r2) == engine["output records"]
    part_bytes = sum(p.stat().st_size for p in out.glob("part-*"))
    assert value(samples, "riverhead_batch_bytes_out_total", **r2) == part_bytes
    assert (
        value(samples, "riverhead_batch_phase_counter_total", name="map input records", **m1)
        == 4000
    )
    assert value(samples, "riverhead_batch_workers", **base) == 2
    assert value(samples, "riverhead_batch_job_info", runner="local", **base) == 1
    # Per-phase engine counters add up to the job's.
    for name, total in engine.items():
        per_phase = sum(
            v
            for (n, lbl), v in samples.items()
            if n == "riverhead_batch_phase_counter_total" and ("name", name) in lbl
        )
        if name != "failed task attempts":
            assert per_phase == total, name


def test_retried_attempts_are_counted_like_the_report(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    generate_text(corpus, 3000)
    prom = tmp_path / "flaky.prom"
    marker = tmp_path / "marker"
    args = [str(corpus), "-o", str(tmp_path / "out"), "--marker", str(marker), "--workers", "2"]
    result = FlakyWordCount([*args, "--metrics-file", str(prom)]).run_job()
    samples = parse(prom.read_text())
    check_against_report(samples, result.report, "FlakyWordCount")
    labels = {"phase": "step 1 map", "batch_job": "FlakyWordCount"}
    assert value(samples, "riverhead_batch_task_retries_total", **labels) == 1
    assert value(samples, "riverhead_batch_task_attempts_total", outcome="failed", **labels) == 1
    assert value(samples, "riverhead_batch_tasks", state="failed", **labels) == 0


def test_a_failed_job_still_writes_its_metrics(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    generate_text(corpus, 100)
    prom = tmp_path / "failed.prom"
    report = tmp_path / "report.json"
    args = [str(corpus), "-o", str(tmp_path / "out"), "--marker", str(tmp_path / "m"), "--always"]
    job = FlakyWordCount(
        [*args, "--max-attempts", "2", "--metrics-file", str(prom), "--report", str(report)]
    )
    with pytest.raises(JobFailed):
        job.run_job()
    samples = parse(prom.read_text())
    labels = {"phase": "step 1 map", "batch_job": "FlakyWordCount"}
    assert value(samples, "riverhead_batch_job_status", status="failed", batch_job="FlakyWordCount")
    assert value(samples, "riverhead_batch_tasks", state="failed", **labels) == 1
    assert value(samples, "riverhead_batch_task_attempts_total", outcome="failed", **labels) >= 2
    assert value(samples, "riverhead_batch_task_retries_total", **labels) >= 1
    assert (
        "riverhead_batch_job_end_time_seconds",
        frozenset({"batch_job": "FlakyWordCount"}.items()),
    ) in samples


def test_inline_map_only_job(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b\nc\n\nd e f\n")
    prom = tmp_path / "upper.prom"
    out = tmp_path / "out"
    result = MapOnlyUpper(
        [str(corpus), "-o", str(out), "--runner", "inline", "--metrics-file", str(prom)]
    ).run_job()
    samples = parse(prom.read_text())
    check_against_report(samples, result.report, "MapOnlyUpper")
    labels = {"phase": "step 1 map", "batch_job": "MapOnlyUpper"}
    assert value(samples, "riverhead_batch_records_in_total", **labels) == 4
    assert value(samples, "riverhead_batch_records_out_total", **labels) == 3  # "" is dropped
    assert result.counters[ENGINE]["output records"] == 3
    part_bytes = sum(p.stat().st_size for p in out.glob("part-*"))
    assert value(samples, "riverhead_batch_bytes_out_total", **labels) == part_bytes
    assert value(samples, "riverhead_batch_workers", batch_job="MapOnlyUpper") == 1


def test_user_counter_series_are_capped() -> None:
    metrics = BatchMetrics("Job", "inline", 1)
    metrics.phase_started("step 1 map", 1)
    metrics.attempt_started("step 1 map")
    totals = {"mine": {f"c{i}": i for i in range(COUNTER_SERIES_MAX + 5)}, ENGINE: {"x": 1}}
    task = MapTask(0, 0, None, 0, False)  # type: ignore[arg-type]
    metrics.attempt_finished("step 1 map", task, TaskResult(output=[]), False, totals)
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    samples = parse(generate_latest(registry).decode())
    series = Counter(
        dict(lbl)["group"]
        for (n, lbl), _ in samples.items()
        if n == "riverhead_batch_counter_total"
    )
    assert series == {"mine": COUNTER_SERIES_MAX, ENGINE: 1}
    assert value(samples, "riverhead_batch_counter_series_dropped", batch_job="Job") == 5
    assert (
        value(
            samples, "riverhead_batch_tasks", batch_job="Job", phase="step 1 map", state="succeeded"
        )
        == 1
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metrics-file", "out.txt"], "does not end in .prom"),
        (["--metrics-file", "/nonexistent/dir/x.prom"], "its directory does not exist"),
        (["--metrics-listener", "ftp://x:1"], "is not http://host:port"),
        (["--metrics-listener", "http://127.0.0.1:9", "--runner", "spark"], "spark runner"),
    ],
)
def test_bad_metrics_options_are_one_clear_error(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("x\n")
    with pytest.raises(JobConfigError, match=message):
        MapOnlyUpper([str(corpus), "-o", str(tmp_path / "out"), *extra]).run_job()
    assert not os.path.exists(tmp_path / "out" / "_SUCCESS")
