from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A fresh 3-broker cluster with its own ZooKeeper (stopped by PID afterwards)."""
    c = Cluster(tmp_path).start()
    try:
        yield c
    finally:
        c.stop()
