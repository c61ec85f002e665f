"""``riverhead stream run --workers N`` against the real broker: worker processes in a
consumer group, fields grouping through a repartition topic, graceful stop, and a worker
killed with SIGKILL mid-stream whose partitions the survivor takes over."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from tests.integration.test_stream_kafka import (
    committed,
    create_topics,
    end_offsets,
    produce_lines,
    read_all,
)
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

WORD_COUNT_APP = '''
from riverhead.stream import Bolt, KafkaBolt, KafkaSpout, Topology


class Split(Bolt):
    outputs = ("word",)

    def process(self, tup):
        for word in tup["value"].split():
            self.emit((word,), anchors=[tup])
        self.ack(tup)


class Count(Bolt):
    outputs = ("word", "count")

    def prepare(self, context):
        self.counts = {{}}

    def process(self, tup):
        word = tup["word"]
        self.counts[word] = self.counts.get(word, 0) + 1
        self.emit((word, self.counts[word]), anchors=[tup])
        self.ack(tup)


def build_topology():
    t = Topology("{name}")
    t.spout("sentences", KafkaSpout("{src}", "{group}", value_format="string"))
    t.bolt("split", Split(), parallelism=2).shuffle_grouping("sentences")
    t.bolt("count", Count(), parallelism=2).fields_grouping("split", "word")
    t.bolt("out", KafkaBolt("{dst}", key_field="word")).shuffle_grouping("count")
    return t
'''

TAG_APP = '''
import time
from riverhead.stream import Bolt, KafkaBolt, KafkaSpout, Topology


class Tag(Bolt):
    outputs = ("id", "bucket")

    def process(self, tup):
        time.sleep(0.001)  # slow enough that a kill lands mid-stream
        n = int(tup["value"])
        self.emit((str(n), n % 16), anchors=[tup])
        self.ack(tup)


topology = Topology("{name}", max_spout_pending=100)
topology.spout("in", KafkaSpout("{src}", "{group}", value_format="string"))
topology.bolt("tag", Tag()).shuffle_grouping("in")
topology.bolt("out", KafkaBolt("{dst}", value_field="id", value_format="string")
              ).fields_grouping("tag", "bucket")
'''


class Run:
    """``riverhead stream run`` in a child process; stderr lines collected."""

    def __init__(self, bootstrap: str, app: Path, workers: int, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERHEAD_")}
        env["PYTHONPATH"] = str(REPO / "src")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "riverhead", "-X", bootstrap, "stream", "run", str(app),
             "--workers", str(workers), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.lines: list[str] = []
        self.stdout = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def worker_pids(self) -> dict[int, int]:
        pids = {}
        for line in self.lines:
            if line.startswith("worker ") and " started (pid " in line:
                pids[int(line.split()[1])] = int(line.split("(pid ")[1].split(",")[0].rstrip(")"))
        return pids

    def stop(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._reader.join(5)
        self.stdout = out
        return self.proc.returncode

    def kill(self) -> None:
        for pid in self.worker_pids().values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.kill()
        self.proc.wait()


def wait_for(what: str, check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def group_members(bootstrap: str, group: str) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    desc = admin.describe_consumer_groups([group])[group].result(10)
    return len(desc.members) if desc.state.name == "STABLE" else -1


def test_two_workers_count_words_exactly_through_a_repartition_topic(
    broker: BrokerProcess, topic_name: str, tmp_path: Path
) -> None:
    name = "wc" + str(abs(hash(topic_name)) % 10**8)
    src, dst, group = f"{name}-in", f"{name}-out", f"{name}-g"
    create_topics(broker.bootstrap, {src: 4, dst: 2})
    app = tmp_path / "app.py"
    app.write_text(WORD_COUNT_APP.format(name=name, src=src, dst=dst, group=group))
    run = Run(broker.bootstrap, app, 2, "--stats", "--stats-interval", "1")
    try:
        rp_group = f"{name}.count.split.default"
        wait_for("both workers in both groups",
                 lambda: group_members(broker.bootstrap, group) == 2
                 and group_members(broker.bootstrap, rp_group) == 2)
        rng = random.Random(5)
        vocab = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
        lines = [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 6)))
                 for _ in range(2000)]
        produce_lines(broker.bootstrap, src, lines)
        expected = Counter(w for line in lines for w in line.split())
        records = [json.loads(m.value()) for m in
                   read_all(broker.bootstrap, dst, sum(expected.values()), timeout=90)]
        assert run.stop() == 0, run.lines
    finally:
        if run.proc.poll() is None:
            run.kill()
    finals: dict[str, int] = {}
    for r in records:
        finals[r["word"]] = max(finals.get(r["word"], 0), r["count"])
    assert finals == dict(expected)
    assert len(records) == sum(expected.values())
    assert committed(broker.bootstrap, group, src) == end_offsets(broker.bootstrap, src)
    rp_topic = f"{name}.count.split.default.repartition"
    assert len(end_offsets(broker.bootstrap, rp_topic)) == 4  # co-partitioned with the input
    assert sum(1 for line in run.lines if "started (pid" in line) == 2
    assert "COMPONENT" in run.stdout and "sentences" in run.stdout  # --stats table


def test_kill_9_one_of_two_workers_survivor_takes_over(
    broker: BrokerProcess, topic_name: str, tmp_path: Path
) -> None:
    name = "kill" + str(abs(hash(topic_name)) % 10**8)
    src, dst, group = f"{name}-in", f"{name}-out", f"{name}-g"
    create_topics(broker.bootstrap, {src: 4, dst: 1})
    app = tmp_path / "app.py"
    app.write_text(TAG_APP.format(name=name, src=src, dst=dst, group=group))
    run = Run(broker.bootstrap, app, 2)
    total = 4000
    try:
        wait_for("both workers in the input group",
                 lambda: group_members(broker.bootstrap, group) == 2)
        produce_lines(broker.bootstrap, src, (str(i) for i in range(total)))
        mid = read_all(broker.bootstrap, dst, 400, timeout=60, settle=False)  # mid-stream
        victim = run.worker_pids()[1]
        os.kill(victim, signal.SIGKILL)
        killed_at = len(mid)
        out = read_all(broker.bootstrap, dst, total, timeout=120)
        ids = Counter(m.value().decode() for m in out)
        assert set(ids) == {str(i) for i in range(total)}  # none lost
        code = run.stop()
    finally:
        if run.proc.poll() is None:
            run.kill()
    assert killed_at < total // 2  # the kill really landed mid-stream
    assert code == 1  # a worker died
    assert any("exited with code -9" in line for line in run.lines), run.lines
    duplicates = sum(ids.values()) - total
    # Duplicates only from the dead worker's replay window (in flight or not yet committed).
    assert duplicates < total // 2, duplicates
    print(f"killed after {killed_at} outputs; {duplicates} duplicates")
    assert committed(broker.bootstrap, group, src) == end_offsets(broker.bootstrap, src)
