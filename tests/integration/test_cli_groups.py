"""``riverhead group`` against a real broker process, run as users run it (a subprocess).

Each test makes a group of its own: a confluent consumer subscribes with ``group.id``,
reads what was produced, commits and closes (leaving the group Empty); the CLI then
lists, describes, seeks and deletes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

PARTITIONS = 2
PER_PARTITION = 5


def riverhead(bootstrap: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERHEAD_")}
    return subprocess.run(
        [sys.executable, "-m", "riverhead", "-X", bootstrap, "group", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def ok(bootstrap: str, *args: str) -> str:
    done = riverhead(bootstrap, *args)
    assert done.returncode == 0, f"riverhead group {' '.join(args)}: {done.stderr}"
    return done.stdout


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def table(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines() if line.strip()]


def new_consumer(bootstrap: str, group: str) -> Any:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10000,
        }
    )


def consume_and_commit(bootstrap: str, topic: str, group: str, count: int) -> None:
    """Join ``group``, read ``count`` records of ``topic``, commit them and leave."""
    consumer = new_consumer(bootstrap, group)
    try:
        consumer.subscribe([topic])
        seen = 0
        deadline = time.monotonic() + 30
        while seen < count:
            assert time.monotonic() < deadline, f"read {seen} of {count} records"
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            seen += 1
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()


def committed(bootstrap: str, topic: str, group: str) -> dict[int, int]:
    consumer = new_consumer(bootstrap, group)
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
    finally:
        consumer.close()


@pytest.fixture
def loaded_topic(broker: BrokerProcess, topic_name: str) -> Iterator[str]:
    """A topic with PARTITIONS partitions of PER_PARTITION records each."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics([NewTopic(topic_name, PARTITIONS, 1)])
    futures[topic_name].result(timeout=10)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for p in range(PARTITIONS):
        for i in range(PER_PARTITION):
            producer.produce(topic_name, f"v{i}".encode(), partition=p)
    assert producer.flush(10) == 0
    yield topic_name


@pytest.fixture
def group_name(topic_name: str) -> str:
    return "g-" + topic_name


def test_list_describe_seek_delete(
    broker: BrokerProcess, loaded_topic: str, group_name: str
) -> None:
    b = broker.bootstrap
    total = PARTITIONS * PER_PARTITION
    consume_and_commit(b, loaded_topic, group_name, total)

    rows = table(ok(b, "list"))
    assert rows[0] == ["GROUP", "STATE", "PROTOCOL-TYPE"]
    assert [group_name, "Empty", "consumer"] in rows
    listed = json.loads(ok(b, "list", "--format", "json"))
    assert {"group": group_name, "state": "Empty", "protocol_type": "consumer"} in listed

    text = ok(b, "describe", group_name)
    assert "SUMMARY" in text and "PARTITIONS" in text
    rows = table(text)
    assert ["STATE", "Empty"] in rows and ["MEMBERS", "0"] in rows
    assert ["TOTAL-LAG", "0"] in rows
    header = [
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-START-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "MEMBER-ID",
        "CLIENT-ID",
        "HOST",
    ]
    assert header in rows
    for p in range(PARTITIONS):
        assert [loaded_topic, str(p), "5", "0", "5", "0", "-", "-", "-"] in rows

    # Seek to the start: a preview changes nothing.
    done = riverhead(b, "seek", group_name, "--to", "start")
    assert done.returncode == 0, done.stderr
    assert "add --execute" in done.stderr
    assert table(done.stdout) == [
        ["TOPIC", "PARTITION", "CURRENT", "NEW"],
        *([loaded_topic, str(p), "5", "0"] for p in range(PARTITIONS)),
    ]
    assert committed(b, loaded_topic, group_name) == dict.fromkeys(range(PARTITIONS), 5)

    # --execute commits; describe then shows the lag.
    rows = table(ok(b, "seek", group_name, "--to", "start", "--execute"))
    assert rows == [
        ["TOPIC", "PARTITION", "CURRENT", "NEW", "STATUS"],
        *([loaded_topic, str(p), "5", "0", "OK"] for p in range(PARTITIONS)),
    ]
    assert committed(b, loaded_topic, group_name) == dict.fromkeys(range(PARTITIONS), 0)
    doc = json.loads(ok(b, "describe", group_name, "--format", "json"))
    assert doc["group"] == group_name and doc["state"] == "Empty"
    assert doc["total_lag"] == total
    assert [(p["partition"], p["current_offset"], p["lag"]) for p in doc["partitions"]] == [
        (p, 0, PER_PARTITION) for p in range(PARTITIONS)
    ]

    # An exact offset (clamped to the log), then the end, on a named topic, as JSON.
    doc = json.loads(
        ok(
            b,
            "seek",
            group_name,
            "--to",
            "3",
            "--topic",
            loaded_topic,
            "--execute",
            "--format",
            "json",
        )
    )
    assert doc["executed"] is True
    assert [(p["new"], p["error"]) for p in doc["partitions"]] == [(3, None)] * PARTITIONS
    assert committed(b, loaded_topic, group_name) == dict.fromkeys(range(PARTITIONS), 3)
    ok(b, "seek", group_name, "--to", "end", "--execute")
    assert committed(b, loaded_topic, group_name) == dict.fromkeys(range(PARTITIONS), 5)

    # A timestamp before every record: the log start.
    ok(b, "seek", group_name, "--to", "@0", "--execute")
    assert committed(b, loaded_topic, group_name) == dict.fromkeys(range(PARTITIONS), 0)
    # A timestamp after every record: the log end.
    future_ms = str(int(time.time() * 1000) + 3_600_000)
    ok(b, "seek", group_name, "--to", "@" + future_ms, "--execute")
    assert committed(b, loaded_topic, group_name) == dict.fromkeys(range(PARTITIONS), 5)

    assert table(ok(b, "delete", group_name)) == [["GROUP", "STATUS"], [group_name, "OK"]]
    assert group_name not in [row[0] for row in table(ok(b, "list"))]
    line = one_error_line(riverhead(b, "describe", group_name))
    assert line.startswith("error: GROUP_ID_NOT_FOUND:")


def test_active_group_cannot_be_sought_or_deleted(
    broker: BrokerProcess, loaded_topic: str, group_name: str
) -> None:
    b = broker.bootstrap
    consume_and_commit(b, loaded_topic, group_name, PARTITIONS * PER_PARTITION)
    consumer = new_consumer(b, group_name)
    try:
        consumer.subscribe([loaded_topic])
        deadline = time.monotonic() + 30
        while not consumer.assignment():
            assert time.monotonic() < deadline, "consumer never got an assignment"
            consumer.poll(0.2)

        doc = json.loads(ok(b, "describe", group_name, "--format", "json"))
        assert doc["state"] == "Stable" and len(doc["members"]) == 1
        member = doc["members"][0]
        assert [p["member_id"] for p in doc["partitions"]] == [member["member_id"]] * PARTITIONS
        assert [r[1] for r in table(ok(b, "list")) if r[0] == group_name] == ["Stable"]

        # Preview works while consumers run; executing does not.
        assert riverhead(b, "seek", group_name, "--to", "start").returncode == 0
        line = one_error_line(riverhead(b, "seek", group_name, "--to", "start", "--execute"))
        assert line.startswith("error: NON_EMPTY_GROUP:")
        assert "(hint: stop the group's consumers first)" in line
        assert committed(b, loaded_topic, group_name) == dict.fromkeys(range(PARTITIONS), 5)

        done = riverhead(b, "delete", group_name, group_name + "-nope")
        assert done.returncode == 1, done.stderr
        rows = table(done.stdout)
        assert rows[0] == ["GROUP", "STATUS"]
        assert rows[1][:2] == [group_name, "NON_EMPTY_GROUP:"]
        assert "stop the group's consumers first" in done.stdout
        assert rows[2][:2] == [group_name + "-nope", "GROUP_ID_NOT_FOUND:"]
    finally:
        consumer.close()
    # Once the consumer left, the group can go.
    assert table(ok(b, "delete", group_name)) == [["GROUP", "STATUS"], [group_name, "OK"]]


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("describe", "no-such-group"), "GROUP_ID_NOT_FOUND"),
        (("seek", "no-such-group", "--to", "start"), "GROUP_ID_NOT_FOUND"),
        (("seek", "no-such-group", "--to", "later", "--topic", "x"), "INVALID_ARGUMENT"),
        (("seek", "no-such-group"), "INVALID_ARGUMENT"),
        (
            ("seek", "no-such-group", "--to", "0", "--topic", "no-such-topic"),
            "UNKNOWN_TOPIC_OR_PARTITION",
        ),
    ],
)
def test_errors_are_one_line(broker: BrokerProcess, args: tuple[str, ...], name: str) -> None:
    line = one_error_line(riverhead(broker.bootstrap, *args))
    assert line.startswith(f"error: {name}: ")


def test_delete_json_reports_each_group(broker: BrokerProcess) -> None:
    done = riverhead(broker.bootstrap, "delete", "no-such-group", "--format", "json")
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc[0]["group"] == "no-such-group" and doc[0]["error"] == "GROUP_ID_NOT_FOUND"


def test_unreachable_broker_is_one_line() -> None:
    line = one_error_line(riverhead("127.0.0.1:1", "list"))
    assert line.startswith("error: BROKER_NOT_AVAILABLE: ")
