from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker_process import BrokerProcess


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One real broker process shared by a test session (topics named per test)."""
    proc = BrokerProcess(tmp_path_factory.mktemp("broker")).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    """A broker of the test's own, for tests that restart or kill it."""
    proc = BrokerProcess(tmp_path / "broker")
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
    return "t-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:200]
