"""A leader cut off from ZooKeeper and from its peers (fault-injecting proxies).

The isolated leader keeps running and believes it leads until it hears otherwise. Safety
needs: the controller elects a new leader from the ISR once the isolated broker's
session expires; the isolated broker never acknowledges an acks=all write (its followers
have gone to the new leader, so its high watermark cannot move, and its ISR shrink is
refused by the controller's epoch check); after healing it re-registers with a new
broker epoch, truncates its unacknowledged tail by leader epoch, and rejoins the ISR.
"""

from __future__ import annotations

import time

import pytest

from riverhead.protocol.records import Record, encode_batch
from tests.cluster.test_faults import TOPIC, finish, start_load
from tests.support.cluster import Cluster
from tests.support.raw_client import RawClient, produce

pytestmark = pytest.mark.cluster


@pytest.fixture
def proxied_cluster(tmp_path):
    c = Cluster(tmp_path, proxied=True).start()
    try:
        yield c
    finally:
        c.stop()


def test_isolated_leader_never_acknowledges_and_rejoins(proxied_cluster: Cluster) -> None:
    cluster = proxied_cluster
    producer = start_load(cluster)
    old = cluster.leader(TOPIC)
    cluster.isolate(old)
    try:
        # A client that still reaches the isolated leader directly (its real port) gets
        # no acknowledgement for an acks=all write.
        probe = encode_batch([Record(0, int(time.time() * 1000), None, b"-1")])
        with RawClient(cluster.brokers[old].bootstrap, timeout=20) as raw:
            error, _ = produce(raw, TOPIC, 0, probe)
        assert error != 0
        cluster.wait_until(
            lambda: cluster.leader(TOPIC) not in (old, -1), 30, "a leader elected without it"
        )
        producer.wait_acked(200)  # the rest of the cluster goes on
    finally:
        cluster.heal(old)
    stats = finish(cluster, producer)
    assert stats["acked"] >= 400
