"""``riverhead batch run --metrics-listener/--metrics-file``: a real local-runner job in a
child process is scraped over HTTP while it runs (its reducers wait for a file this test
creates), then its final metrics file is checked against the job's own report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.broker_process import free_port
from tests.support.metrics import Samples, scrape
from tests.unit.batch.jobs import MapOnlyUpper
from tests.unit.batch.test_metrics import check_against_report, parse, value

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

GATED_JOB = '''
import os
from riverhead.batch import MapReduceJob


class GatedWordCount(MapReduceJob):
    """Word count whose first map attempt fails, and whose reducers
    wait until the gate file exists."""

    def configure_args(self):
        self.add_passthru_arg("--gate", required=True)
        self.add_passthru_arg("--marker", required=True)

    def mapper_init(self):
        try:  # exactly one attempt of all creates the marker, and fails
            os.close(os.open(self.options.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        raise RuntimeError("first attempt fails on purpose")

    def mapper(self, _, line):
        self.increment_counter("words", "lines seen")
        for word in line.split():
            yield word, 1

    def combiner(self, word, counts):
        yield word, sum(counts)

    def reducer_init(self):
        import time
        while not os.path.exists(self.options.gate):
            time.sleep(0.05)

    def reducer(self, word, counts):
        self.increment_counter("words", "distinct")
        yield word, sum(counts)
'''


def wait_for(url: str, done: object, timeout: float = 60) -> Samples:
    """Scrape until ``done(samples)`` is true (the job is in a known state)."""
    deadline = time.monotonic() + timeout
    last: Samples = {}
    while time.monotonic() < deadline:
        try:
            last = scrape(url)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
            continue
        if done(last):  # type: ignore[operator]
            return last
        time.sleep(0.1)
    raise AssertionError(f"job never reached the state; last scrape: {sorted(last)[:30]}")


def test_running_job_is_scraped_and_final_file_matches_report(tmp_path: Path) -> None:
    job_file = tmp_path / "gated.py"
    job_file.write_text(GATED_JOB)
    corpus = tmp_path / "corpus.txt"
    lines = [f"w{i % 13} w{i % 5} common" for i in range(3000)]
    corpus.write_text("\n".join(lines) + "\n")
    gate, prom, report_path = tmp_path / "gate", tmp_path / "job.prom", tmp_path / "report.json"
    url = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERHEAD_")}
    env["PYTHONPATH"] = str(REPO / "src")
    args = [str(corpus), "-o", str(tmp_path / "out"), "--workers", "2", "--reducers", "2"]
    args += ["--split-size", "8K", "--gate", str(gate), "--marker", str(tmp_path / "marker")]
    args += ["--metrics-listener", url, "--metrics-file", str(prom), "--report", str(report_path)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "riverhead", "batch", "run", str(job_file), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    base = {"batch_job": "GatedWordCount"}
    mapped = {"phase": "step 1 map", **base}
    reducing = {"phase": "step 1 reduce", **base}
    try:
        mid = wait_for(
            url,
            lambda s: (
                s.get(
                    ("riverhead_batch_tasks", frozenset({"state": "running", **reducing}.items()))
                )
                == 2
            ),
        )
        with urllib.request.urlopen(f"{url}/v1/status/ready", timeout=5) as response:
            assert json.load(response) == {"status": "ready"}
        assert value(mid, "riverhead_batch_job_status", status="running", **base) == 1
        assert value(mid, "riverhead_batch_job_status", status="succeeded", **base) == 0
        assert value(mid, "riverhead_batch_tasks", state="pending", **reducing) == 0
        assert value(mid, "riverhead_batch_tasks", state="succeeded", **reducing) == 0
        assert value(mid, "riverhead_batch_records_in_total", **mapped) == 3000
        assert value(mid, "riverhead_batch_bytes_in_total", **mapped) == corpus.stat().st_size
        assert value(mid, "riverhead_batch_task_retries_total", **mapped) == 1
        lines_seen = {"group": "words", "name": "lines seen", **base}
        assert value(mid, "riverhead_batch_counter_total", **lines_seen) == 3000
        assert value(mid, "riverhead_batch_job_elapsed_seconds", **base) > 0
        assert value(mid, "process_resident_memory_bytes") > 0
        assert not prom.exists()  # written when the job ends
        gate.touch()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    report = json.loads(report_path.read_text())
    final = parse(prom.read_text())
    check_against_report(final, report, "GatedWordCount", same_dict=False)
    # The map phase was over at the mid-run scrape: its figures were already final.
    for name in (
        "riverhead_batch_records_in_total",
        "riverhead_batch_records_out_total",
        "riverhead_batch_bytes_in_total",
        "riverhead_batch_bytes_out_total",
        "riverhead_batch_task_retries_total",
    ):
        assert value(mid, name, **mapped) == value(final, name, **mapped), name
    for state in ("succeeded", "failed", "running", "pending"):
        assert value(mid, "riverhead_batch_tasks", state=state, **mapped) == value(
            final, "riverhead_batch_tasks", state=state, **mapped
        )
    map_phase = next(p for p in report["phases"] if p["name"] == "step 1 map")
    assert value(mid, "riverhead_batch_tasks", state="succeeded", **mapped) == map_phase["tasks"]
    assert map_phase["tasks"] > 2  # 8K splits of a ~50K file
    counters = report["counters"]
    assert counters["riverhead"]["map input records"] == 3000
    assert counters["riverhead"]["failed task attempts"] == 1
    assert counters["words"] == {"lines seen": 3000, "distinct": 14}  # w0..w12 and common
    assert value(final, "riverhead_batch_records_out_total", **reducing) == 14
    # The metrics elapsed time is taken when the job ends, the report's just after.
    elapsed = value(final, "riverhead_batch_job_elapsed_seconds", **base)
    assert sum(p["wall_s"] for p in report["phases"]) <= elapsed <= report["wall_s"]
    # The endpoint went away with the job.
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        scrape(url, timeout=2)


def test_port_zero_serves_on_a_free_port_and_says_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("x y\n")
    out = tmp_path / "out"
    args = [str(corpus), "-o", str(out), "--runner", "inline"]
    MapOnlyUpper([*args, "--metrics-listener", "http://127.0.0.1:0"]).run_job()
    line = capsys.readouterr().err.strip()
    assert line.startswith("batch metrics: http://127.0.0.1:") and line.endswith("/metrics")
    assert int(line.rsplit(":", 1)[1].split("/")[0]) > 0
