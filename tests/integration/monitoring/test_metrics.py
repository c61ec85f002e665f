"""Broker metrics scraped under a known load: counts must equal what was done."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.support.broker_process import BrokerProcess
from tests.support.metrics import Samples, scrape, total, value

pytestmark = pytest.mark.integration


def _url(proc: BrokerProcess) -> str:
    return proc.settings["metrics.listener"]


def _create(proc: BrokerProcess, topic: str, partitions: int, **configs: str) -> None:
    admin = AdminClient({"bootstrap.servers": proc.bootstrap})
    futures = admin.create_topics([NewTopic(topic, partitions, 1, config=configs)])
    futures[topic].result(10)


def _wait_for(proc: BrokerProcess, predicate: object, what: str) -> Samples:
    deadline = time.monotonic() + 20
    while True:
        samples = scrape(_url(proc))
        if predicate(samples):  # type: ignore[operator]
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics never showed {what}")
        time.sleep(0.1)


def test_produce_consume_counts_and_log_gauges(metrics_broker: BrokerProcess) -> None:
    topic = "metered"
    _create(metrics_broker, topic, 3, **{"segment.bytes": "4096"})
    producer = Producer(
        {"bootstrap.servers": metrics_broker.bootstrap, "batch.num.messages": 25, "acks": 1}
    )
    per_partition = {0: 300, 1: 200, 2: 100}
    for partition, count in per_partition.items():
        for i in range(count):
            producer.produce(
                topic,
                value=f"value-{partition}-{i:04d}".ljust(100, ".").encode(),
                partition=partition,
            )
    assert producer.flush(10) == 0

    samples = scrape(_url(metrics_broker))
    assert value(samples, "riverhead_topic_records_in_total", topic=topic) == 600
    bytes_in = value(samples, "riverhead_topic_bytes_in_total", topic=topic)
    # The log holds the batches exactly as sent: its size is the bytes appended.
    assert bytes_in == total(samples, "riverhead_log_size_bytes", topic=topic)
    assert value(samples, "riverhead_topic_log_size_bytes", topic=topic) == bytes_in
    log_dir = metrics_broker.data_dir / "logs"
    for partition, count in per_partition.items():
        labels = {"topic": topic, "partition": str(partition)}
        assert value(samples, "riverhead_log_end_offset", **labels) == count
        assert value(samples, "riverhead_high_watermark", **labels) == count
        assert value(samples, "kafka_topic_partition_current_offset", **labels) == count
        assert value(samples, "kafka_topic_partition_oldest_offset", **labels) == 0
        segments = len(list(Path(log_dir / f"{topic}-{partition}").glob("*.log")))
        assert segments > 1  # 4 KiB segments rolled
        assert value(samples, "riverhead_log_segments", **labels) == segments
    produces = value(samples, "riverhead_requests_total", api="Produce")
    assert produces >= 1
    assert value(samples, "riverhead_requests_total", api="CreateTopics") == 1
    assert value(samples, "riverhead_request_latency_seconds_count", api="Produce") == produces
    assert (
        value(samples, "riverhead_request_latency_seconds_bucket", api="Produce", le="+Inf")
        == produces
    )
    assert value(samples, "riverhead_request_latency_seconds_sum", api="Produce") > 0
    assert value(samples, "riverhead_request_engine_threads") == 3
    assert value(samples, "riverhead_request_engine_busy_seconds_total") > 0
    assert value(samples, "riverhead_active_controller") == 1
    assert value(samples, "riverhead_offline_partitions") == 0
    assert value(samples, "riverhead_under_replicated_partitions") == 0

    consumer = Consumer(
        {
            "bootstrap.servers": metrics_broker.bootstrap,
            "group.id": "metrics-reader",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in per_partition])
    seen = 0
    deadline = time.monotonic() + 20
    while seen < 600 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            seen += 1
    consumer.close()
    assert seen == 600
    after = scrape(_url(metrics_broker))
    # Every batch went out once: bytes out equals bytes in.
    assert value(after, "riverhead_topic_bytes_out_total", topic=topic) == bytes_in
    assert value(after, "riverhead_requests_total", api="Fetch") >= 1


def test_consumer_group_lag_uses_kafka_exporter_names(metrics_broker: BrokerProcess) -> None:
    topic = "lagging"
    _create(metrics_broker, topic, 2)
    producer = Producer({"bootstrap.servers": metrics_broker.bootstrap})
    for _ in range(50):
        producer.produce(topic, value=b"x" * 10, partition=0)
    for _ in range(20):
        producer.produce(topic, value=b"y" * 10, partition=1)
    assert producer.flush(10) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": metrics_broker.bootstrap,
            "group.id": "laggards",
            "enable.auto.commit": False,
        }
    )
    committed = {0: 12, 1: 20}
    consumer.commit(
        offsets=[TopicPartition(topic, p, off) for p, off in committed.items()],
        asynchronous=False,
    )
    consumer.close()
    samples = scrape(_url(metrics_broker))
    end = {0: 50, 1: 20}
    for p, off in committed.items():
        labels = {"consumergroup": "laggards", "topic": topic, "partition": str(p)}
        assert value(samples, "kafka_consumergroup_current_offset", **labels) == off
        assert value(samples, "kafka_consumergroup_lag", **labels) == end[p] - off
    group = {"consumergroup": "laggards", "topic": topic}
    assert value(samples, "kafka_consumergroup_lag_sum", **group) == 38
    assert value(samples, "kafka_consumergroup_current_offset_sum", **group) == 32
    assert value(samples, "kafka_consumergroup_members", consumergroup="laggards") == 0


def test_rebalances_and_parked_fetches(metrics_broker: BrokerProcess) -> None:
    topic = "quiet"
    _create(metrics_broker, topic, 1)
    before = scrape(_url(metrics_broker))
    assert value(before, "riverhead_group_rebalances_total") == 0
    consumer = Consumer(
        {
            "bootstrap.servers": metrics_broker.bootstrap,
            "group.id": "joiners",
            "fetch.wait.max.ms": 5000,
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([topic])
    try:
        # One member joining an empty group: exactly one rebalance; then it long-polls
        # the empty topic, so a fetch waits in the purgatory.
        deadline = time.monotonic() + 30
        while True:
            consumer.poll(0.2)
            samples = scrape(_url(metrics_broker))
            members = total(samples, "kafka_consumergroup_members", consumergroup="joiners")
            parked = total(samples, "riverhead_purgatory_size", operation="fetch")
            if members == 1 and parked >= 1:
                break
            assert time.monotonic() < deadline, f"members {members}, parked fetches {parked}"
        assert value(samples, "riverhead_group_rebalances_total") == 1
        assert value(samples, "riverhead_groups", state="Stable") == 1
    finally:
        consumer.close()


def test_ready_endpoint_and_unknown_path(metrics_broker: BrokerProcess) -> None:
    url = _url(metrics_broker)
    with urllib.request.urlopen(f"{url}/v1/status/ready", timeout=5) as response:
        assert response.status == 200
        assert response.read() == b'{"status": "ready"}'
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{url}/nope", timeout=5)
    assert info.value.code == 404


def test_metrics_off_serves_nothing(tmp_path: Path) -> None:
    from tests.support.broker_process import free_port

    port = free_port()
    proc = BrokerProcess(tmp_path / "b", settings={"metrics.listener": ""}).start()
    try:
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
    finally:
        proc.stop()


def test_partition_series_are_capped(tmp_path: Path) -> None:
    from tests.support.broker_process import free_port

    url = f"http://127.0.0.1:{free_port()}"
    proc = BrokerProcess(
        tmp_path / "b",
        settings={"metrics.listener": url, "metrics.partition.series.max": "2"},
    ).start()
    try:
        _create(proc, "wide", 3)
        producer = Producer({"bootstrap.servers": proc.bootstrap})
        for p in range(3):
            producer.produce("wide", value=b"x", partition=p)
        assert producer.flush(10) == 0
        samples = scrape(url)
    finally:
        proc.stop()
    names = {name for name, _ in samples}
    assert "riverhead_log_size_bytes" not in names  # per-partition families left out
    assert "kafka_topic_partition_current_offset" not in names
    assert value(samples, "riverhead_metrics_partition_series_dropped") == 3
    assert value(samples, "riverhead_topic_log_size_bytes", topic="wide") > 0  # sums stay
    assert value(samples, "riverhead_topic_records_in_total", topic="wide") == 3
