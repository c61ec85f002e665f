"""Fixtures of the differential suite: Riverhead and Apache Kafka side by side.

Both brokers start once per session with the same settings (Kafka's defaults, plus
``group.initial.rebalance.delay.ms=0`` on both). A test receives ``targets``: the two as
:class:`~tests.interop.diff.Target` values, Riverhead first, runs the same scenario on each
and compares what the clients observed (:func:`~tests.interop.diff.assert_same`).
Apache Kafka comes from ``interop/`` (fetched through Maven on first use); when it
cannot be fetched or started the fixture fails with the reason, it does not skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.diff import Target
from tests.support.broker_process import BrokerProcess
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


@pytest.fixture(scope="session")
def kafka_reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaProcess]:
    proc = KafkaProcess(
        tmp_path_factory.mktemp("kafka"), settings={**COMMON_SETTINGS, **KAFKA_SETTINGS}
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def riverhead_reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    proc = BrokerProcess(tmp_path_factory.mktemp("riverhead"), settings=dict(COMMON_SETTINGS))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def targets(
    riverhead_reference: BrokerProcess, kafka_reference: KafkaProcess
) -> tuple[Target, Target]:
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
