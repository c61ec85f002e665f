"""The e-commerce stream app on the real broker, 2 worker processes; one is killed with
SIGKILL mid-stream and restarted. Its window state comes back from the changelog topics
and every output topic, read as a table (last value per key), equals the results
computed directly from the generated events (:mod:`expected`)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "ecommerce"
sys.path.insert(0, str(EXAMPLE))

from expected import expected_outputs  # noqa: E402
from generator import generate, produce  # noqa: E402

APP = str(EXAMPLE / "shop_app.py")
OUTPUTS = ("revenue-per-minute", "top-products", "funnel", "fraud-alerts")


def group_members(bootstrap: str, group: str) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    desc = admin.describe_consumer_groups([group])[group].result(10)
    return len(desc.members) if desc.state.name == "STABLE" else -1


def wait_for(what: str, check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def read_table(bootstrap: str, topic: str) -> dict[str, Any]:
    """Last value per key of ``topic`` (empty if it does not exist yet)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-reader",
                  "enable.auto.commit": False, "enable.partition.eof": False})
    try:
        md = c.list_topics(topic, timeout=10)
        meta = md.topics.get(topic)
        if meta is None or meta.error is not None:
            return {}
        table: dict[str, Any] = {}
        for p in meta.partitions:
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high <= low:
                continue
            c.assign([TopicPartition(topic, p, low)])
            pos = low
            while pos < high:
                for m in c.consume(500, 1.0):
                    if m.error() is None:
                        pos = m.offset() + 1
                        table[m.key().decode()] = json.loads(m.value())
        return table
    finally:
        c.close()


def start_worker(bootstrap: str, index: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, RIVERHEAD_STREAM_LOG="INFO", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "riverhead.stream.worker", APP, "--index", str(index),
           "--count", "2", "--brokers", bootstrap]
    with log.open("ab") as err:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env,
                                start_new_session=True)


def test_kill_9_a_worker_state_restores_and_outputs_are_exact(
        fresh_broker: BrokerProcess, tmp_path: Path) -> None:
    b = fresh_broker.start().bootstrap
    events = list(generate(seed=11, rate=100, duration=30))
    expected = expected_outputs(events)
    assert expected["fraud-alerts"] and len(expected["funnel"]) > 100
    logs = [tmp_path / "worker0.log", tmp_path / "worker1.log"]
    admin = AdminClient({"bootstrap.servers": b})
    admin.create_topics([NewTopic("shop-events", 4, -1)])["shop-events"].result(15)
    workers = [start_worker(b, i, logs[i]) for i in range(2)]
    try:
        wait_for("both workers in the source and funnel groups", lambda:
                 group_members(b, "shop-analytics.events") == 2
                 and group_members(b, "shop-analytics.funnel.funnel.user.default") == 2, 90)
        writer = threading.Thread(target=produce, args=(b, "shop-events", iter(events), 4, 100.0))
        writer.start()  # paced: event time moves with the wall clock, as live traffic
        time.sleep(12)
        workers[1].send_signal(signal.SIGKILL)
        workers[1].wait(10)
        time.sleep(3)
        workers[1] = start_worker(b, 1, logs[1])
        writer.join(120)
        got: dict[str, dict[str, Any]] = {}

        def complete() -> bool:
            for topic in OUTPUTS:
                got[topic] = read_table(b, topic)
            return all(got[t] == expected[t] for t in OUTPUTS)

        try:
            wait_for("outputs equal to the expected results", complete, 150)
        except AssertionError:
            for t in OUTPUTS:
                missing = sorted(set(expected[t]) - set(got[t]))[:3]
                wrong = [(k, expected[t][k], got[t][k]) for k in expected[t]
                         if k in got[t] and got[t][k] != expected[t][k]][:2]
                extra = sorted(set(got[t]) - set(expected[t]))[:3]
                print(t, len(got[t]), len(expected[t]), "missing", missing, "extra", extra,
                      "wrong", wrong)
            raise
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(60)
            except subprocess.TimeoutExpired:
                w.kill()
    # state really moved: the survivor took partitions over from its standby copies, and
    # the restarted worker restored state (from the changelog or its standby copies)
    survivor, restarted = logs[0].read_text(), logs[1].read_text()
    assert restored(survivor, "standby") > 0, survivor[-3000:]
    assert restored(restarted) > 0, restarted[-3000:]


def restored(log: str, how: str = "") -> int:
    """Entries and records restored according to a worker's log lines."""
    total = 0
    for line in log.splitlines():
        if "restored partition" in line and how in line:
            total += sum(int(n) for n in re.findall(r"\((\d+) (?:entries|records)", line))
            total += sum(int(n) for n in re.findall(r", (\d+) records to catch up", line))
    return total
