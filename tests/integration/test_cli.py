"""The ``riverhead`` CLI against a real broker process, run as users run it (a subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from riverhead.tracing import TraceContext
from tests.support.broker_process import BrokerProcess, free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def riverhead(
    bootstrap: str, *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERHEAD_")}
    return subprocess.run(
        [sys.executable, "-m", "riverhead", "-X", bootstrap, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def ok(bootstrap: str, *args: str, stdin: str | None = None) -> str:
    done = riverhead(bootstrap, *args, stdin=stdin)
    assert done.returncode == 0, f"riverhead {' '.join(args)}: {done.stderr}"
    return done.stdout


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def table(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines() if line.strip()]


def consume_json(bootstrap: str, topic: str, *args: str) -> list[dict[str, Any]]:
    out = ok(bootstrap, "topic", "consume", topic, "--format", "json", *args)
    return [json.loads(line) for line in out.splitlines()]


def describe_json(bootstrap: str, topic: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(ok(bootstrap, "topic", "describe", topic, "--format", "json"))
    return doc


# ---- topic create / list / describe / delete ---------------------------------------------


def test_topic_lifecycle(broker: BrokerProcess, topic_name: str) -> None:
    b = broker.bootstrap
    assert table(ok(b, "topic", "create", topic_name, "-p", "3", "-r", "1")) == [
        ["TOPIC", "STATUS"],
        [topic_name, "OK"],
    ]
    rows = table(ok(b, "topic", "list"))
    assert rows[0] == ["NAME", "PARTITIONS", "REPLICAS"]
    assert [topic_name, "3", "1"] in rows

    listed = json.loads(ok(b, "topic", "list", "--format", "json"))
    assert {"name": topic_name, "partitions": 3, "replicas": 1} in listed

    text = ok(b, "topic", "describe", topic_name)
    assert "PARTITION  LEADER  REPLICAS  ISR  LOG-START-OFFSET  HIGH-WATERMARK" in text
    doc = describe_json(b, topic_name)
    assert doc["name"] == topic_name
    assert [p["partition"] for p in doc["partitions"]] == [0, 1, 2]
    for p in doc["partitions"]:
        assert p["leader"] is not None and p["leader"] >= 0
        assert p["replicas"] == [p["leader"]] and p["isr"] == [p["leader"]]
        assert (p["log_start_offset"], p["high_watermark"]) == (0, 0)

    assert table(ok(b, "topic", "delete", topic_name)) == [["TOPIC", "STATUS"], [topic_name, "OK"]]
    assert topic_name not in [row[0] for row in table(ok(b, "topic", "list"))]


def test_create_reports_each_topic_and_exits_1_if_any_failed(
    broker: BrokerProcess, topic_name: str
) -> None:
    b = broker.bootstrap
    ok(b, "topic", "create", topic_name)
    done = riverhead(b, "topic", "create", topic_name, topic_name + "-new", "-p", "2")
    assert done.returncode == 1, done.stderr
    rows = table(done.stdout)
    assert rows[0] == ["TOPIC", "STATUS"]
    assert rows[1][:2] == [topic_name, "TOPIC_ALREADY_EXISTS:"]
    assert rows[2] == [topic_name + "-new", "OK"]

    done = riverhead(b, "topic", "delete", topic_name, "t-never-existed", "--format", "json")
    assert done.returncode == 1
    assert json.loads(done.stdout) == [
        {"topic": topic_name, "error": None},
        {
            "topic": "t-never-existed",
            "error": "UNKNOWN_TOPIC_OR_PARTITION",
            "message": json.loads(done.stdout)[1]["message"],
            "hint": json.loads(done.stdout)[1]["hint"],
        },
    ]


def test_create_with_default_partitions_and_configs(broker: BrokerProcess, topic_name: str) -> None:
    b = broker.bootstrap
    ok(b, "topic", "create", topic_name, "-c", "retention.ms=123456", "-c", "cleanup.policy=delete")
    doc = describe_json(b, topic_name)
    assert len(doc["partitions"]) == 1  # the broker's num.partitions
    configs = {c["name"]: c for c in doc["configs"]}
    assert configs["retention.ms"]["value"] == "123456"
    assert configs["retention.ms"]["source"] == "DYNAMIC_TOPIC_CONFIG"
    text = ok(b, "topic", "describe", topic_name)
    assert any(row[:2] == ["retention.ms", "123456"] for row in table(text))


def test_describe_unknown_topic_is_one_line_error(broker: BrokerProcess) -> None:
    done = riverhead(broker.bootstrap, "topic", "describe", "t-no-such-topic")
    line = one_error_line(done)
    assert line.startswith("error: UNKNOWN_TOPIC_OR_PARTITION: ")
    assert "(hint: " in line
    # Describing must not auto-create it.
    assert "t-no-such-topic" not in ok(broker.bootstrap, "topic", "list")


def test_no_broker_is_one_line_error_with_start_hint() -> None:
    done = riverhead(f"127.0.0.1:{free_port()}", "topic", "list")
    line = one_error_line(done)
    assert line.startswith("error: BROKER_NOT_AVAILABLE: cannot connect to 127.0.0.1:")
    assert "(hint: is the broker running? start one with `riverhead broker start`)" in line


# ---- produce / consume ------------------------------------------------------------------


def test_produce_text_consume_json(broker: BrokerProcess, topic_name: str) -> None:
    b = broker.bootstrap
    ok(b, "topic", "create", topic_name, "-p", "1")
    before = int(time.time() * 1000) - 1000
    out = ok(
        b, "topic", "produce", topic_name, "-k", "user-1", "-H", "source=cli", "-H", "v=2",
        stdin="first\nsecond line\n\nfourth\n",
    )  # fmt: skip
    assert out.strip() == f"produced 4 records to '{topic_name}' (partition 0: 4)"
    records = consume_json(b, topic_name)
    assert [r["value"] for r in records] == ["first", "second line", "", "fourth"]
    assert [r["offset"] for r in records] == [0, 1, 2, 3]
    for r in records:
        assert r["topic"] == topic_name and r["partition"] == 0
        assert r["key"] == "user-1"
        headers = dict(r["headers"])
        assert TraceContext.parse(headers.pop("traceparent")) is not None  # one per record
        assert headers == {"source": "cli", "v": "2"}
        assert isinstance(r["timestamp"], int) and r["timestamp"] >= before
        assert list(r) == ["topic", "partition", "offset", "timestamp", "key", "value", "headers"]

    text = ok(b, "topic", "consume", topic_name, "-n", "2")
    assert text == "first\nsecond line\n"
    assert describe_json(b, topic_name)["partitions"][0]["high_watermark"] == 4


def test_produce_json_to_partitions(broker: BrokerProcess, topic_name: str) -> None:
    b = broker.bootstrap
    ok(b, "topic", "create", topic_name, "-p", "3")
    lines = [
        {"key": "a", "value": {"n": 1}, "partition": 0},
        {"key": "b", "value": "plain", "headers": {"h": "x"}, "partition": 2},
        {"value": None, "partition": 2},
        {"key": "c", "value": [1, 2], "partition": 1, "timestamp": 1700000000000},
    ]
    stdin = "\n".join(json.dumps(obj) for obj in lines) + "\n"
    ok(b, "topic", "produce", topic_name, "--format", "json", stdin=stdin)

    records = consume_json(b, topic_name)
    by_part = {(r["partition"], r["offset"]): r for r in records}
    assert set(by_part) == {(0, 0), (1, 0), (2, 0), (2, 1)}
    assert by_part[0, 0]["value"] == '{"n":1}' and by_part[0, 0]["key"] == "a"
    assert by_part[2, 0]["value"] == "plain"
    assert {k: v for k, v in by_part[2, 0]["headers"].items() if k != "traceparent"} == {"h": "x"}
    assert by_part[2, 1]["value"] is None and by_part[2, 1]["key"] is None
    assert by_part[1, 0]["timestamp"] == 1700000000000 and by_part[1, 0]["value"] == "[1,2]"

    only_2 = consume_json(b, topic_name, "-p", "2")
    assert [(r["partition"], r["offset"]) for r in only_2] == [(2, 0), (2, 1)]
    assert describe_json(b, topic_name)["partitions"][2]["high_watermark"] == 2


def test_produce_bad_json_line_fails_after_earlier_lines(
    broker: BrokerProcess, topic_name: str
) -> None:
    b = broker.bootstrap
    ok(b, "topic", "create", topic_name, "-p", "1")
    done = riverhead(
        b, "topic", "produce", topic_name, "--format", "json", stdin='{"value": "ok"}\n{oops\n'
    )
    assert one_error_line(done).startswith("error: INVALID_INPUT: line 2: not JSON")
    assert [r["value"] for r in consume_json(b, topic_name)] == ["ok"]


def test_produce_to_missing_partition_fails(broker: BrokerProcess, topic_name: str) -> None:
    b = broker.bootstrap
    ok(b, "topic", "create", topic_name, "-p", "1")
    done = riverhead(b, "topic", "produce", topic_name, "-p", "5", stdin="x\n")
    assert one_error_line(done).startswith("error: UNKNOWN_TOPIC_OR_PARTITION: ")


def test_consume_offsets(broker: BrokerProcess, topic_name: str) -> None:
    b = broker.bootstrap
    ok(b, "topic", "create", topic_name, "-p", "1")
    ok(b, "topic", "produce", topic_name, stdin="".join(f"v{i}\n" for i in range(10)))

    def values(*args: str) -> list[str]:
        return ok(b, "topic", "consume", topic_name, *args).splitlines()

    assert values() == [f"v{i}" for i in range(10)]
    assert values("-o", "start", "-n", "3") == ["v0", "v1", "v2"]
    assert values("-o", "7") == ["v7", "v8", "v9"]
    assert values("-o", "-2") == ["v8", "v9"]
    assert values("-o", "+8") == ["v8", "v9"]
    assert values("-o", "end") == []
    records = consume_json(b, topic_name)
    ts = records[4]["timestamp"]
    assert values("-o", f"@{ts}")[0] in {r["value"] for r in records if r["timestamp"] == ts}
    assert values("-o", f"@{records[-1]['timestamp'] + 60_000}") == []


@pytest.mark.parametrize("compression", ["none", "gzip", "snappy", "lz4", "zstd"])
@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_produce_codecs_and_acks(
    broker: BrokerProcess, topic_name: str, compression: str, acks: str
) -> None:
    b = broker.bootstrap
    ok(b, "topic", "create", topic_name, "-p", "1")
    payload = [f"{compression}-{acks}-{i}-" + "x" * 100 for i in range(50)]
    ok(
        b, "topic", "produce", topic_name, "--compression", compression, "--acks", acks,
        stdin="\n".join(payload) + "\n",
    )  # fmt: skip
    deadline = time.monotonic() + 10  # acks=0: the broker may still be appending
    while True:
        got = ok(b, "topic", "consume", topic_name).splitlines()
        if got == payload or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == payload


def test_consume_follow_sees_new_records(broker: BrokerProcess, topic_name: str) -> None:
    b = broker.bootstrap
    ok(b, "topic", "create", topic_name, "-p", "1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERHEAD_")}
    follower = subprocess.Popen(
        [sys.executable, "-m", "riverhead", "-X", b, "topic", "consume", topic_name,
         "-f", "-o", "end", "-n", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        time.sleep(2)  # let it assign at the (empty) end
        ok(b, "topic", "produce", topic_name, stdin="late-1\nlate-2\n")
        out, err = follower.communicate(timeout=30)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    assert out.splitlines() == ["late-1", "late-2"]


def test_consume_follow_stops_on_ctrl_c(broker: BrokerProcess, topic_name: str) -> None:
    ok(broker.bootstrap, "topic", "create", topic_name, "-p", "1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERHEAD_")}
    follower = subprocess.Popen(
        [sys.executable, "-m", "riverhead", "-X", broker.bootstrap, "topic", "consume",
         topic_name, "-f"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        time.sleep(2)
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=15)
    finally:
        follower.kill()
    assert follower.returncode == 130
    assert out == "" and "Traceback" not in err


def test_consume_into_a_closed_pipe_exits_quietly(broker: BrokerProcess, topic_name: str) -> None:
    b = broker.bootstrap
    ok(b, "topic", "create", topic_name, "-p", "1")
    ok(b, "topic", "produce", topic_name, stdin="".join(f"{i}\n" for i in range(5000)))
    done = subprocess.run(
        f"{sys.executable} -m riverhead -X {b} topic consume {topic_name} | head -1; "
        "exit ${PIPESTATUS[0]}",
        shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, "0\n", "")


# ---- the demo ---------------------------------------------------------------------------


def test_ecommerce_demo_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "ecommerce" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo finished: 50 events produced and consumed" in done.stdout
