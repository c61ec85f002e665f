"""`riverhead cluster health` and the replication metrics on a real 3-broker cluster."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from riverhead.cli.health import metrics_urls
from tests.support.cluster import Cluster
from tests.support.metrics import scrape, total

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path).start()
    try:
        yield c
    finally:
        c.stop()


def _health(bootstrap: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "riverhead", "-X", bootstrap, "--timeout", "5", "cluster", "health"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _until(predicate: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _sum(urls: dict[int, str], name: str, **labels: str) -> float:
    return sum(total(scrape(url), name, **labels) for url in urls.values())


def test_health_and_metrics_follow_a_broker_loss(cluster: Cluster) -> None:
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    for f in admin.create_topics([NewTopic("replicated", 1, 3), NewTopic("single", 3, 1)]).values():
        f.result(20)
    _until(lambda: all(cluster.leader("single", i) > 0 for i in range(3)), "leaders of 'single'")
    cluster.wait_for_isr("replicated", 3)
    md = cluster.metadata()
    urls = metrics_urls(admin, {int(b): "127.0.0.1" for b in md.brokers}, 5.0)
    assert sorted(urls) == [1, 2, 3]  # every broker advertises its endpoint
    assert _sum(urls, "riverhead_active_controller") == 1

    ok = _health(cluster.bootstrap)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "partitions have a leader" in ok.stdout

    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all"})
    for i in range(20):
        producer.produce("replicated", value=b"%d" % i)
    assert producer.flush(20) == 0

    # The victim follows 'replicated' (so its leader stays and shrinks the ISR) and is
    # the only replica of one partition of 'single' (which goes offline).
    leader = cluster.leader("replicated")
    followers = [b for b in (1, 2, 3) if b != leader]
    victim = next((b for b in followers if b != md.controller_id), followers[0])
    lost = next(i for i in range(3) if list(cluster.partition("single", i).replicas) == [victim])
    cluster.brokers[victim].kill()
    live = {b: u for b, u in urls.items() if b != victim}
    _until(lambda: cluster.leader("single", lost) < 0, "a partition of 'single' to go offline")
    bad = _health(cluster.bootstrap)
    assert bad.returncode == 1
    assert f"broker {victim} is down" in bad.stdout
    assert f"partition single-{lost} is offline: no leader" in bad.stdout
    assert "CLUSTER_UNHEALTHY" in bad.stderr

    # The active controller reports the offline partition; the leader of 'replicated'
    # shrinks its ISR and reports it under-replicated.
    _until(lambda: _sum(live, "riverhead_offline_partitions") == 1, "offline partitions = 1")
    _until(lambda: _sum(live, "riverhead_isr_shrinks_total") >= 1, "an ISR shrink")
    _until(
        lambda: _sum(live, "riverhead_under_replicated_partitions") >= 1,
        "an under-replicated partition",
    )
    assert _sum(live, "riverhead_active_controller") == 1

    cluster.brokers[victim].start()
    cluster.wait_for_isr("replicated", 3)
    _until(lambda: _health(cluster.bootstrap).returncode == 0, "health to pass again")
    _until(lambda: _sum(live, "riverhead_isr_expands_total") >= 1, "an ISR expansion")
