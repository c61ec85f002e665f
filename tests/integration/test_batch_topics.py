"""Batch jobs over topics of a real broker: topic input == file export, fixed ranges."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from riverhead.batch import MapReduceJob
from tests.support.broker_process import BrokerProcess
from tests.unit.batch.jobs import RevenuePerProduct, WordCount

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ecommerce"


def _create(broker: BrokerProcess, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions)])
    futures[topic].result(timeout=15)


def _produce(
    broker: BrokerProcess, topic: str, records: list[tuple[Any, bytes, int | None]]
) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for key, value, ts in records:
        kwargs: dict[str, Any] = {"timestamp": ts} if ts is not None else {}
        producer.produce(topic, value=value, key=key, **kwargs)
    assert producer.flush(15) == 0


def _export(broker: BrokerProcess, topic: str, count: int, path: Path) -> None:
    """Write every record value of ``topic`` as one line of ``path`` (a file export)."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"export-{topic}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    try:
        while len(values) < count:
            msg = consumer.poll(10)
            assert msg is not None, f"export stalled after {len(values)} records"
            assert msg.error() is None
            values.append(msg.value())
    finally:
        consumer.close()
    path.write_bytes(b"".join(v + b"\n" for v in values))


def _events(count: int) -> list[dict[str, Any]]:
    sys.path.insert(0, str(EXAMPLES))
    from events import generate_events

    return generate_events(count, seed=5)


def _lines(out: Path) -> list[str]:
    return sorted(line for p in out.glob("part-*") for line in p.read_text().splitlines())


def test_job_over_topic_equals_job_over_file_export(
    broker: BrokerProcess, topic_name: str, tmp_path: Path
) -> None:
    events = _events(600)
    _create(broker, topic_name, 3)
    _produce(
        broker, topic_name, [(e["user_id"].encode(), json.dumps(e).encode(), None) for e in events]
    )
    export = tmp_path / "export.jsonl"
    _export(broker, topic_name, len(events), export)

    url = f"topic://{topic_name}?from=earliest&to=latest&split=70"
    common = ["--brokers", broker.bootstrap, "--reducers", "2"]
    from_topic = RevenuePerProduct([url, "-o", str(tmp_path / "t"), *common]).run_job()
    RevenuePerProduct([str(export), "-o", str(tmp_path / "f"), *common]).run_job()
    RevenuePerProduct([url, "-o", str(tmp_path / "t2"), *common]).run_job()  # repeatable

    revenue: dict[str, float] = {}
    for e in events:
        if e["type"] == "purchase":
            for item in e["items"]:
                pid = item["product_id"]
                revenue[pid] = revenue.get(pid, 0.0) + item["price"] * item["quantity"]
    want = sorted(f"{p}\t{r:.2f}" for p, r in revenue.items())
    assert _lines(tmp_path / "t") == _lines(tmp_path / "f") == _lines(tmp_path / "t2") == want
    assert from_topic.report["phases"][0]["splits"] > 3  # partitions cut into offset splits
    assert from_topic.counters["riverhead"]["map input records"] == 600


class Identity(MapReduceJob):
    def mapper(self, _: Any, line: str) -> Any:
        yield None, line


def test_offset_and_timestamp_ranges_are_fixed_at_job_start(
    broker: BrokerProcess, topic_name: str, tmp_path: Path
) -> None:
    _create(broker, topic_name, 1)
    base = 1_700_000_000_000
    _produce(broker, topic_name, [(None, f"w{i}".encode(), base + i * 1000) for i in range(100)])
    common = ["--brokers", broker.bootstrap, "--runner", "inline"]

    def run(query: str, name: str) -> list[str]:
        out = tmp_path / name
        Identity([f"topic://{topic_name}?{query}", "-o", str(out), *common]).run_job()
        return (out / "part-00000").read_text().splitlines()

    assert run("from=10&to=20", "a") == [f"w{i}" for i in range(10, 20)]
    assert run(f"from=@{base + 95_000}", "b") == [f"w{i}" for i in range(95, 100)]
    assert run("from=2023-11-14T22:13:50Z&to=2023-11-14T22:13:53Z", "c") == ["w30", "w31", "w32"]
    # Records produced after the range was resolved are not read; latest means "now".
    _produce(broker, topic_name, [(None, b"late", None)])
    assert run("from=98", "d") == ["w98", "w99", "late"]


def test_output_to_topic(broker: BrokerProcess, topic_name: str, tmp_path: Path) -> None:
    from confluent_kafka import Consumer

    corpus = tmp_path / "c.txt"
    corpus.write_text("a b a\nc a\n")
    out_topic = topic_name + "-out"
    _create(broker, out_topic, 1)
    WordCount([str(corpus), "-o", f"topic://{out_topic}", "--brokers", broker.bootstrap]).run_job()
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": "o", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([out_topic])
    got = []
    while len(got) < 3:
        msg = consumer.poll(10)
        assert msg is not None and msg.error() is None
        got.append((msg.key(), msg.value()))
    consumer.close()
    assert sorted(got) == [(b"a", b"a\t3"), (b"b", b"b\t1"), (b"c", b"c\t1")]


def test_unknown_topic_is_an_input_error(broker: BrokerProcess, tmp_path: Path) -> None:
    from riverhead.batch import InputError

    job = WordCount(
        ["topic://no-such-topic-here", "--brokers", broker.bootstrap, "-o", str(tmp_path / "o")]
    )
    with pytest.raises(InputError, match="does not exist"):
        job.run_job()


def test_daily_report_from_topic_equals_report_from_file(
    broker: BrokerProcess, topic_name: str, tmp_path: Path
) -> None:
    sys.path.insert(0, str(EXAMPLES))
    from daily_report import DailyReport

    events = _events(400)
    _create(broker, topic_name, 3)
    _produce(
        broker, topic_name, [(e["user_id"].encode(), json.dumps(e).encode(), None) for e in events]
    )
    export = tmp_path / "events.jsonl"
    export.write_text("".join(json.dumps(e) + "\n" for e in events))
    DailyReport(
        [f"topic://{topic_name}", "--brokers", broker.bootstrap, "-o", str(tmp_path / "t")]
    ).run_job()
    DailyReport([str(export), "-o", str(tmp_path / "f"), "--runner", "inline"]).run_job()
    from_topic = (tmp_path / "t" / "part-00000").read_text()
    assert from_topic == (tmp_path / "f" / "part-00000").read_text()
    assert from_topic.startswith("section,hour,product_id")
    assert from_topic.count("\ntop_customer,") == 5
