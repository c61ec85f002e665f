"""Fixtures of the differential suite: Riverhead and Apache Kafka side by side.

Both brokers start once for this package (and stop after its last test, so a full test
run does not keep a JVM up through the other suites) with the same settings (Kafka's
defaults, plus those in ``COMMON_SETTINGS`` on both). A test receives ``targets``: the
two as :class:`~tests.interop.diff.Target` values, Riverhead first, runs the same scenario
on each and compares what the clients observed (:func:`~tests.interop.diff.assert_same`).
Apache Kafka comes from ``interop/`` (fetched through Maven on first use); when it
cannot be fetched or started the fixture fails with the reason, it does not skip.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import confluent_kafka
import pytest

from tests.interop.diff import Target
from tests.support.broker_process import BrokerProcess
from tests.support.clients import create_topic
from tests.support.kafka_reference import KafkaProcess

# Settings both brokers run with (each also has its own defaults, which match Kafka's):
# no initial rebalance delay, retention checked every 500 ms (test_retention.py).
COMMON_SETTINGS = {
    "group.initial.rebalance.delay.ms": "0",
    "log.retention.check.interval.ms": "500",
}
# Kafka only: start its retention task at once (default 30 s after start-up); Riverhead's
# first check runs one interval after start.
KAFKA_SETTINGS = {"log.initial.task.delay.ms": "0"}


@pytest.fixture(scope="package")
def kafka_reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaProcess]:
    proc = KafkaProcess(
        tmp_path_factory.mktemp("kafka"), settings={**COMMON_SETTINGS, **KAFKA_SETTINGS}
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="package")
def riverhead_reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    proc = BrokerProcess(tmp_path_factory.mktemp("riverhead"), settings=dict(COMMON_SETTINGS))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def warm_up_groups(bootstrap: str) -> None:
    """One committed offset, retried until accepted: Kafka creates and loads
    ``__consumer_offsets`` on first use (seconds on a busy machine), which would otherwise
    land inside the first group test's deadlines."""
    create_topic(bootstrap, "interop-warm-up")
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "interop-warm-up"}
    )
    tp = confluent_kafka.TopicPartition("interop-warm-up", 0, 0)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                consumer.commit(offsets=[tp], asynchronous=False)
                return
            except confluent_kafka.KafkaException as exc:
                # a synchronous commit is not retried by librdkafka: NOT_COORDINATOR and
                # COORDINATOR_LOAD_IN_PROGRESS while Kafka loads the new partitions
                if not exc.args[0].retriable() and exc.args[0].code() not in (14, 15, 16):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()


@pytest.fixture(scope="package")
def targets(
    riverhead_reference: BrokerProcess, kafka_reference: KafkaProcess
) -> tuple[Target, Target]:
    for proc in (riverhead_reference, kafka_reference):
        warm_up_groups(proc.bootstrap)
    return (
        Target(
            "riverhead",
            riverhead_reference.bootstrap,
            riverhead_reference.data_dir / "logs",
            riverhead_reference.pid,
        ),
        Target("kafka", kafka_reference.bootstrap, kafka_reference.log_dir, kafka_reference.pid),
    )


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name unique to the test (the same on both brokers)."""
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
    return "i-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:200]
