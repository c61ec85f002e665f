"""Topic administration through each admin client (confluent-kafka, kafka-python, aiokafka):
create/describe/delete topics, describe and alter configs, create partitions, and the
error codes of each refusal. The adapters are the integration suite's
(tests/integration/test_admin_clients.py), which report Kafka error codes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import confluent_kafka
import kafka.admin
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from tests.integration.test_admin_clients import AioAdmin, CkAdmin, KpAdmin
from tests.interop.diff import Target, assert_same, observe
from tests.support.clients import WAIT_S, Err, consume_all, numbered, produce, wait_until

pytestmark = pytest.mark.interop


class KpAdminCodes(KpAdmin):
    """kafka-python reports a failed alter as the text ``[Error 40] Name: message``; the
    integration adapter only expects success. Keep the code (messages differ per broker)."""

    def set_topic_config(self, name: str, key: str, value: str) -> int:
        res = kafka.admin.ConfigResource(
            kafka.admin.ConfigResourceType.TOPIC, name, configs={key: value}
        )
        result = self.admin.alter_configs([res], incremental=True)["topic"][name]
        if result == "OK":
            return Err.NONE
        match = re.match(r"\[Error (-?\d+)\]", result)
        assert match, result
        return int(match.group(1))


ADMINS: dict[str, Callable[[str], Any]] = {
    "confluent": CkAdmin,
    "kafka-python": KpAdminCodes,
    "aiokafka": AioAdmin,
}


def eventually(probe: Callable[[], Any], want: Any, what: str) -> Any:
    """Kafka applies topic changes asynchronously (its metadata log propagates to the
    broker side a moment after the controller answers): read until ``want`` is seen."""
    wait_until(lambda: probe() == want, what)
    return want


@pytest.mark.parametrize("client", ADMINS)
def test_topic_lifecycle(targets: tuple[Target, Target], topic_name: str, client: str) -> None:
    config = {"retention.ms": "123456", "cleanup.policy": "compact"}

    def scenario(t: Target) -> dict[str, Any]:
        admin = ADMINS[client](t.bootstrap)
        out: dict[str, Any] = {}
        try:
            out["create"] = admin.create_topic(topic_name, partitions=3, config=config)
            out["partitions"] = eventually(
                lambda: admin.partitions(topic_name), [0, 1, 2], "3 partitions"
            )
            described = admin.configs("topic", topic_name)
            out["configs set"] = {k: described.get(k) for k in config}
            out["defaults"] = {
                k: described.get(k)
                for k in (
                    "retention.bytes",
                    "segment.bytes",
                    "max.message.bytes",
                    "min.insync.replicas",
                    "message.timestamp.type",
                    "compression.type",
                )
            }
            out["create again"] = admin.create_topic(topic_name, partitions=5)
            out["bad name"] = admin.create_topic("has space")
            out["replication factor 3"] = admin.create_topic(topic_name + "-rf3", rf=3)
            out["0 partitions"] = admin.create_topic(topic_name + "-p0", partitions=0)
            out["grow to 5"] = admin.create_partitions(topic_name, 5)
            out["after grow"] = eventually(
                lambda: admin.partitions(topic_name), [0, 1, 2, 3, 4], "5 partitions"
            )
            out["shrink to 4"] = admin.create_partitions(topic_name, 4)
            out["grow unknown"] = admin.create_partitions(topic_name + "-none", 2)
            if client != "aiokafka":  # aiokafka has no IncrementalAlterConfigs
                out["set retention.ms"] = admin.set_topic_config(topic_name, "retention.ms", "2000")
                out["after set"] = admin.configs("topic", topic_name).get("retention.ms")
                out["set bad value"] = admin.set_topic_config(topic_name, "retention.ms", "x")
            if client == "confluent":  # kafka-python refuses unknown keys itself
                out["set unknown key"] = admin.set_topic_config(topic_name, "no.such.key", "1")
            out["delete"] = admin.delete_topic(topic_name)
            eventually(lambda: topic_name in admin.topic_names(), False, "topic gone")
            out["delete again"] = admin.delete_topic(topic_name)
        finally:
            admin.close()
        return out

    seen = assert_same(observe(targets, scenario))
    assert seen["create"] == Err.NONE and seen["create again"] == Err.TOPIC_ALREADY_EXISTS


def test_delete_records(targets: tuple[Target, Target], topic_name: str) -> None:
    def scenario(t: Target) -> dict[str, Any]:
        admin = AdminClient({"bootstrap.servers": t.bootstrap})
        CkAdmin(t.bootstrap).create_topic(topic_name, partitions=2)
        produce("confluent", t.bootstrap, topic_name, numbered(10))
        out = {}
        for name, p, before in (
            ("to 4", 0, 4),
            ("backwards to 2", 0, 2),
            ("past end", 0, 11),
            ("empty partition", 1, 0),
            ("unknown partition", 7, 0),
        ):
            tp = confluent_kafka.TopicPartition(topic_name, p, before)
            try:
                out[name] = (
                    admin.delete_records([tp], request_timeout=WAIT_S)[tp]
                    .result(WAIT_S)
                    .low_watermark
                )
            except confluent_kafka.KafkaException as exc:
                out[name] = exc.args[0].name()
        return out

    assert assert_same(observe(targets, scenario))["to 4"] == 4


def test_describe_cluster_and_broker_configs(targets: tuple[Target, Target]) -> None:
    """Broker-wide answers. Each broker's own port is normalised away; the cluster id is
    generated per cluster (compared only as present)."""

    def scenario(t: Target) -> dict[str, Any]:
        admin = AdminClient({"bootstrap.servers": t.bootstrap})
        desc = admin.describe_cluster(request_timeout=WAIT_S).result(WAIT_S)
        port = int(t.bootstrap.rsplit(":", 1)[1])
        res = ConfigResource(ResourceType.BROKER, "0")
        entries = admin.describe_configs([res])[res].result(WAIT_S)
        keys = (
            "num.partitions",
            "message.max.bytes",
            "auto.create.topics.enable",
            "log.retention.hours",
            "log.segment.bytes",
            "default.replication.factor",
            "min.insync.replicas",
            "offsets.topic.num.partitions",
            "log.cleanup.policy",
            "compression.type",
            "delete.topic.enable",
        )
        return {
            "nodes": [(n.id, n.host, n.port == port) for n in desc.nodes],
            "controller": desc.controller.id,
            "has cluster id": bool(desc.cluster_id),
            "broker configs": {k: entries[k].value if k in entries else None for k in keys},
        }

    assert_same(observe(targets, scenario))


# Topic configs Apache Kafka 4.1 describes that Riverhead does not implement (documented in
# docs/compatibility.md): tiered storage, replication throttles, compression levels,
# segment jitter, compaction max lag, unclean election per topic.
KAFKA_ONLY_TOPIC_CONFIGS = {
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
    "follower.replication.throttled.replicas",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    "segment.jitter.ms",
    "unclean.leader.election.enable",
}


def test_topic_config_inventory(targets: tuple[Target, Target], topic_name: str) -> None:
    """Every topic config both describe has the same default value, source, read-only and
    sensitive flags; the keys only Kafka has are exactly the documented ones."""

    def scenario(t: Target) -> dict[str, tuple[Any, ...]]:
        CkAdmin(t.bootstrap).create_topic(topic_name)
        admin = AdminClient({"bootstrap.servers": t.bootstrap})
        res = ConfigResource(ResourceType.TOPIC, topic_name)

        def described() -> Any:
            try:
                return admin.describe_configs([res])[res].result(WAIT_S)
            except confluent_kafka.KafkaException:  # Kafka: metadata still propagating
                return None

        entries = wait_until(described, "topic configs")
        return {
            k: (e.value, int(e.source), e.is_read_only, e.is_sensitive) for k, e in entries.items()
        }

    seen = observe(targets, scenario)
    rh, kafka_ = seen["riverhead"], seen["kafka"]
    assert set(kafka_) - set(rh) == KAFKA_ONLY_TOPIC_CONFIGS
    assert set(rh) - set(kafka_) == set()
    # Kafka 4 writes a cluster-wide dynamic default min.insync.replicas=1 when formatting
    # KRaft storage (source DYNAMIC_DEFAULT_BROKER_CONFIG, 3); Riverhead's is its
    # built-in default (DEFAULT_CONFIG, 5). Same value.
    assert rh.pop("min.insync.replicas") == ("1", 5, False, False)
    assert kafka_.pop("min.insync.replicas") == ("1", 3, False, False)
    assert_same({"riverhead": rh, "kafka": {k: kafka_[k] for k in rh}})


def test_delete_and_recreate_a_topic(targets: tuple[Target, Target], topic_name: str) -> None:
    """A topic deleted and created again under the same name starts empty at offset 0 with
    its new partition count; nothing of the old one is readable."""

    def scenario(t: Target) -> dict[str, Any]:
        admin = CkAdmin(t.bootstrap)
        admin.create_topic(topic_name, partitions=2)
        produce("confluent", t.bootstrap, topic_name, numbered(5))
        deleted = admin.delete_topic(topic_name)
        # Kafka removes the topic asynchronously: creating it again may be refused for a
        # moment (TOPIC_ALREADY_EXISTS), as a client would see; retry until accepted
        recreated = wait_until(
            lambda: admin.create_topic(topic_name, partitions=3) == Err.NONE and "created",
            "the topic created again",
        )
        partitions = eventually(lambda: admin.partitions(topic_name), [0, 1, 2], "3 partitions")
        sent = numbered(2, prefix="new")
        offsets = produce("confluent", t.bootstrap, topic_name, sent)
        got = consume_all("confluent", t.bootstrap, topic_name, sent)
        return {
            "delete": deleted,
            "create again": recreated,
            "partitions": partitions,
            "offsets": offsets,
            "read from the beginning": [(c.partition, c.offset, c.value) for c in got],
        }

    seen = assert_same(observe(targets, scenario))
    assert seen["offsets"] == [(0, 0), (0, 1)], seen
