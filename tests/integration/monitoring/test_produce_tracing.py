"""`riverhead topic produce` stamps W3C traceparent headers on the records it sends."""

from __future__ import annotations

import subprocess
import sys

import pytest
from confluent_kafka import Consumer, TopicPartition

from riverhead.tracing import TRACEPARENT, TraceContext, from_headers
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration


def _produce(broker: BrokerProcess, topic: str, lines: str, *flags: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "riverhead",
            "-X",
            broker.bootstrap,
            "topic",
            "produce",
            topic,
            *flags,
        ],
        input=lines,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def _headers(broker: BrokerProcess, topic: str, count: int) -> list[list[tuple[str, bytes]]]:
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "tracing-check"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    out = []
    while len(out) < count:
        msg = consumer.poll(10)
        assert msg is not None, f"only {len(out)} of {count} records arrived"
        if msg.error() is None:
            out.append(list(msg.headers() or []))
    consumer.close()
    return out


def test_each_record_starts_a_trace_or_continues_the_given_one(
    broker: BrokerProcess, topic_name: str
) -> None:
    subprocess.run(
        [sys.executable, "-m", "riverhead", "-X", broker.bootstrap, "topic", "create", topic_name],
        check=True,
        capture_output=True,
        timeout=60,
    )
    parent = TraceContext.new()
    given = TraceContext.new()
    _produce(broker, topic_name, "a\nb\n")
    _produce(broker, topic_name, "c\n", "--traceparent", parent.format())
    _produce(broker, topic_name, "d\n", "--no-trace")
    _produce(broker, topic_name, "e\n", "-H", f"{TRACEPARENT}={given.format()}")
    headers = _headers(broker, topic_name, 5)
    a, b, c = (from_headers(h) for h in headers[:3])
    assert a is not None and b is not None and c is not None
    assert a.trace_id != b.trace_id  # one trace per record
    assert c.trace_id == parent.trace_id and c.span_id != parent.span_id
    assert headers[3] == []
    assert from_headers(headers[4]) == given  # an explicit header is kept as is


def test_a_bad_traceparent_is_a_one_line_error(broker: BrokerProcess) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "riverhead",
            "-X",
            broker.bootstrap,
            "topic",
            "produce",
            "x",
            "--traceparent",
            "nope",
        ],
        input="v\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: INVALID_ARGUMENT: --traceparent 'nope'")
