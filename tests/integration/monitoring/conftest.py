from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker_process import BrokerProcess, free_port


@pytest.fixture
def metrics_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    """A broker of the test's own with its metrics endpoint on a known free port
    (``proc.settings["metrics.listener"]``)."""
    port = free_port()
    proc = BrokerProcess(
        tmp_path / "broker",
        settings={"metrics.listener": f"http://127.0.0.1:{port}", "num.io.threads": "3"},
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
