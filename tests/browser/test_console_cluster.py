"""The console's overview on a real 3-broker cluster losing a broker: under-replicated
partitions highlighted, offline ones too, the controller shown."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import NewTopic

from tests.browser.conftest import Console, shot, start_console, stop_console
from tests.support.cluster import Cluster

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.cluster]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "cluster").start()
    try:
        yield c
    finally:
        c.stop()


def test_overview_highlights_under_replicated_and_offline_partitions(
    cluster: Cluster, tmp_path: Path, page: Any
) -> None:
    admin = cluster.admin()
    for f in admin.create_topics([NewTopic("replicated", 1, 3), NewTopic("single", 3, 1)]).values():
        f.result(20)
    cluster.wait_for_isr("replicated", 3)
    cluster.wait_until(
        lambda: all(cluster.leader("single", i) > 0 for i in range(3)), what="leaders"
    )
    leader = cluster.leader("replicated")
    controller = cluster.metadata().controller_id
    victim = next(b for b in (1, 2, 3) if b not in (leader, controller))
    lost = next(i for i in range(3) if list(cluster.partition("single", i).replicas) == [victim])
    console: Console = start_console(
        f"127.0.0.1:{cluster.brokers[leader].port}", tmp_path / "console.log"
    )
    try:
        page.goto(console.url + "/")
        assert page.locator("#broker-count").inner_text() == "3"
        assert page.locator("#controller").inner_text() == str(controller)
        assert page.locator("#under-count").inner_text() == "0"
        cluster.brokers[victim].kill()
        cluster.wait_for_isr("replicated", 2)
        cluster.wait_until(lambda: cluster.leader("single", lost) < 0, what="offline partition")
        deadline = time.monotonic() + 20
        while page.locator("#offline-count").inner_text() != "1":
            assert time.monotonic() < deadline, "the overview never showed the offline partition"
            page.reload()
        assert page.locator("#broker-count").inner_text() == "2"
        urp = page.locator("tr.under-replicated")
        assert urp.count() == 1 and urp.first.get_attribute("data-topic") == "replicated"
        offline = page.locator("tr.offline")
        assert offline.count() == 1
        assert offline.first.get_attribute("data-partition") == str(lost)
        assert "none" in offline.first.inner_text()  # no leader
        shot(page, "overview-broker-lost")
    finally:
        stop_console(console)
