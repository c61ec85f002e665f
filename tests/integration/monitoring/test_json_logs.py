"""Structured logs: a broker with logger.format=json writes one JSON object per line, with
an event line for each significant thing that happened."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration


def _lines(proc: BrokerProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in proc.log_path.read_text().splitlines() if line.strip()]


def _events(proc: BrokerProcess, name: str) -> list[dict[str, Any]]:
    return [line for line in _lines(proc) if line.get("event") == name]


def test_json_log_lines_carry_significant_events(tmp_path: Path) -> None:
    proc = BrokerProcess(tmp_path / "b", settings={"logger.format": "json"}).start()
    try:
        admin = AdminClient({"bootstrap.servers": proc.bootstrap})
        admin.create_topics([NewTopic("events", 1, 1, config={"segment.bytes": "2048"})])[
            "events"
        ].result(10)
        producer = Producer({"bootstrap.servers": proc.bootstrap, "batch.num.messages": 10})
        for i in range(200):
            producer.produce("events", value=b"%04d" % i * 10)
        assert producer.flush(10) == 0
        consumer = Consumer(
            {"bootstrap.servers": proc.bootstrap, "group.id": "loggers", "session.timeout.ms": 6000}
        )
        consumer.subscribe(["events"])
        deadline = time.monotonic() + 20
        while not _events(proc, "group_rebalanced") and time.monotonic() < deadline:
            consumer.poll(0.2)
        consumer.close()
        admin.delete_topics(["events"])["events"].result(10)
    finally:
        proc.stop()
    lines = _lines(proc)  # every line is JSON (json.loads would have raised)
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    created = {e["topic"]: e for e in _events(proc, "topic_created")}
    assert sorted(created) == ["__consumer_offsets", "events"]
    assert created["events"]["partitions"] == 1
    rolled = _events(proc, "segment_rolled")
    segments = len(list((proc.data_dir / "logs").glob("events-0*/*.log")))  # deleted by now
    assert len(rolled) >= 2 and segments == 0
    assert rolled[0]["partition"] == "events-0" and rolled[0]["base_offset"] > 0
    offsets = [e["base_offset"] for e in rolled]
    assert offsets == sorted(offsets)
    rebalanced = _events(proc, "group_rebalanced")
    assert rebalanced[0]["group"] == "loggers" and rebalanced[0]["members"] == 1
    assert _events(proc, "topic_deleted")[0]["topic"] == "events"


def test_recovery_truncation_is_an_event_with_the_byte_count(tmp_path: Path) -> None:
    proc = BrokerProcess(tmp_path / "b", settings={"logger.format": "json"}).start()
    producer = Producer({"bootstrap.servers": proc.bootstrap})
    for i in range(10):
        producer.produce("torn", value=b"record %d" % i)
    assert producer.flush(10) == 0
    proc.kill()  # no clean shutdown: the next start recovers the active segment
    segment = sorted((proc.data_dir / "logs" / "torn-0").glob("*.log"))[-1]
    with segment.open("ab") as f:
        f.write(b"\x00\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x40garbage!")  # a torn batch
    proc.start()
    proc.stop()
    truncated = _events(proc, "recovery_truncated")
    assert len(truncated) == 1
    assert truncated[0]["bytes"] == 20
    assert truncated[0]["segment"] == str(segment)
