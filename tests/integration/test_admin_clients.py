"""Topic administration through each admin client: confluent-kafka ``AdminClient``,
kafka-python ``KafkaAdminClient`` and aiokafka ``AIOKafkaAdminClient``.

Each client is wrapped in a small adapter that reports Kafka error codes (``Err``), so one
test states the broker's contract and runs against all three request encodings
(CreateTopics v4/v7/v3, DescribeConfigs v1/v4/v2, DeleteTopics v4/v6/v3, ...).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import aiokafka.errors
import confluent_kafka
import kafka
import kafka.admin
import kafka.errors
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, RecordsToDelete
from aiokafka.admin import NewTopic as AioNewTopic
from aiokafka.admin.config_resource import ConfigResource as AioConfigResource
from aiokafka.admin.config_resource import ConfigResourceType as AioConfigResourceType
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from tests.support.broker_process import BrokerProcess
from tests.support.clients import (
    WAIT_S,
    Err,
    ck_watermarks,
    consume,
    numbered,
    produce,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def topic_name(topic_name: str) -> str:
    """Prefixed: the shared fixture derives names from test names, which repeat per client."""
    return "admin-" + topic_name


ADMINS = ("confluent", "kafka-python", "aiokafka")


class CkAdmin:
    def __init__(self, bootstrap: str) -> None:
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def close(self) -> None:
        pass

    @staticmethod
    def _code(future: Any) -> int:
        try:
            future.result(WAIT_S)
        except confluent_kafka.KafkaException as exc:
            return int(exc.args[0].code())
        return Err.NONE

    def create_topic(
        self, name: str, partitions: int = 1, rf: int = 1, config: Mapping[str, str] = {}
    ) -> int:
        new = NewTopic(name, partitions, rf, config=dict(config))
        return self._code(self.admin.create_topics([new], operation_timeout=WAIT_S)[name])

    def partitions(self, name: str) -> int | list[int]:
        """Partition ids of a topic, or its error code."""
        topics = self.admin.describe_topics(confluent_kafka.TopicCollection([name]))
        try:
            desc = topics[name].result(WAIT_S)
        except confluent_kafka.KafkaException as exc:
            return int(exc.args[0].code())
        assert {p.leader.id for p in desc.partitions} == {0}
        assert {tuple(r.id for r in p.replicas) for p in desc.partitions} == {(0,)}
        return [p.id for p in desc.partitions]

    def topic_names(self) -> set[str]:
        return set(self.admin.list_topics(timeout=WAIT_S).topics)

    def cluster(self) -> tuple[list[tuple[int, str, int]], int]:
        desc = self.admin.describe_cluster(request_timeout=WAIT_S).result(WAIT_S)
        return [(n.id, n.host, n.port) for n in desc.nodes], desc.controller.id

    def configs(self, kind: str, name: str) -> dict[str, str]:
        res = ConfigResource(ResourceType.TOPIC if kind == "topic" else ResourceType.BROKER, name)
        entries = self.admin.describe_configs([res])[res].result(WAIT_S)
        return {k: e.value for k, e in entries.items()}

    def set_topic_config(self, name: str, key: str, value: str) -> int:
        entry = ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
        res = ConfigResource(ResourceType.TOPIC, name, incremental_configs=[entry])
        return self._code(self.admin.incremental_alter_configs([res])[res])

    def create_partitions(self, name: str, total: int) -> int:
        new = confluent_kafka.admin.NewPartitions(name, total)
        return self._code(self.admin.create_partitions([new], operation_timeout=WAIT_S)[name])

    def delete_topic(self, name: str) -> int:
        return self._code(self.admin.delete_topics([name], operation_timeout=WAIT_S)[name])

    def delete_records(self, name: str, partition: int, before: int) -> int:
        tp = confluent_kafka.TopicPartition(name, partition, before)
        return int(self.admin.delete_records([tp])[tp].result(WAIT_S).low_watermark)


class KpAdmin:
    def __init__(self, bootstrap: str) -> None:
        self.admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap)

    def close(self) -> None:
        self.admin.close()

    @staticmethod
    def _code(call: Any, *args: Any, **kw: Any) -> int:
        try:
            call(*args, **kw)
        except kafka.errors.KafkaError as exc:
            return int(exc.errno)  # type: ignore[attr-defined]
        return Err.NONE

    def create_topic(
        self, name: str, partitions: int = 1, rf: int = 1, config: Mapping[str, str] = {}
    ) -> int:
        spec = {"num_partitions": partitions, "replication_factor": rf, "configs": dict(config)}
        return self._code(self.admin.create_topics, {name: spec})

    def partitions(self, name: str) -> int | list[int]:
        (desc,) = self.admin.describe_topics([name])
        if desc["error_code"]:
            return int(desc["error_code"])
        assert {p["leader_id"] for p in desc["partitions"]} == {0}
        assert {tuple(p["replica_nodes"]) for p in desc["partitions"]} == {(0,)}
        return sorted(p["partition_index"] for p in desc["partitions"])

    def topic_names(self) -> set[str]:
        return set(self.admin.list_topics())

    def cluster(self) -> tuple[list[tuple[int, str, int]], int]:
        desc = self.admin.describe_cluster()
        nodes = [(b["broker_id"], b["host"], b["port"]) for b in desc["brokers"]]
        return nodes, desc["controller_id"]

    def configs(self, kind: str, name: str) -> dict[str, str]:
        rtype = (
            kafka.admin.ConfigResourceType.TOPIC
            if kind == "topic"
            else (kafka.admin.ConfigResourceType.BROKER)
        )
        found = self.admin.describe_configs(
            [kafka.admin.ConfigResource(rtype, name)], config_filter="all"
        )
        return {k: v["value"] for k, v in found[kind][name].items()}

    def set_topic_config(self, name: str, key: str, value: str) -> int:
        res = kafka.admin.ConfigResource(
            kafka.admin.ConfigResourceType.TOPIC, name, configs={key: value}
        )
        result = self.admin.alter_configs([res], incremental=True)["topic"][name]
        return Err.NONE if result == "OK" else int(result.errno)

    def create_partitions(self, name: str, total: int) -> int:
        return self._code(self.admin.create_partitions, {name: total})

    def delete_topic(self, name: str) -> int:
        return self._code(self.admin.delete_topics, [name])

    def delete_records(self, name: str, partition: int, before: int) -> int:
        tp = kafka.TopicPartition(name, partition)
        result = self.admin.delete_records({tp: before})[tp]
        assert result["error_code"] == 0, result
        return int(result["low_watermark"])


class AioAdmin:
    """aiokafka's admin, driven from a private event loop (the tests are synchronous)."""

    def __init__(self, bootstrap: str) -> None:
        self.loop = asyncio.new_event_loop()

        async def started() -> AIOKafkaAdminClient:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)  # needs a running loop
            await admin.start()
            return admin

        self.admin = self.run(started())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, WAIT_S))

    def close(self) -> None:
        self.run(self.admin.close())
        self.loop.close()

    def create_topic(
        self, name: str, partitions: int = 1, rf: int = 1, config: Mapping[str, str] = {}
    ) -> int:
        new = AioNewTopic(name, partitions, rf, topic_configs=dict(config))
        (err,) = self.run(self.admin.create_topics([new])).topic_errors
        return int(err[1])

    def partitions(self, name: str) -> int | list[int]:
        (desc,) = self.run(self.admin.describe_topics([name]))
        if desc["error_code"]:
            return int(desc["error_code"])
        assert {p["leader"] for p in desc["partitions"]} == {0}
        assert {tuple(p["replicas"]) for p in desc["partitions"]} == {(0,)}
        return sorted(p["partition"] for p in desc["partitions"])

    def topic_names(self) -> set[str]:
        return set(self.run(self.admin.list_topics()))

    def cluster(self) -> tuple[list[tuple[int, str, int]], int]:
        desc = self.run(self.admin.describe_cluster())
        return [(b["node_id"], b["host"], b["port"]) for b in desc["brokers"]], desc[
            "controller_id"
        ]

    def configs(self, kind: str, name: str) -> dict[str, str]:
        rtype = AioConfigResourceType.TOPIC if kind == "topic" else AioConfigResourceType.BROKER
        (response,) = self.run(self.admin.describe_configs([AioConfigResource(rtype, name)]))
        (resource,) = response.resources
        assert resource[0] == 0, resource
        return {entry[0]: entry[1] for entry in resource[4]}

    def set_topic_config(self, name: str, key: str, value: str) -> int:
        raise AssertionError("aiokafka has no IncrementalAlterConfigs (only AlterConfigs)")

    def create_partitions(self, name: str, total: int) -> int:
        try:
            self.run(self.admin.create_partitions({name: NewPartitions(total)}))
        except aiokafka.errors.KafkaError as exc:
            return int(exc.errno)  # type: ignore[attr-defined]
        return Err.NONE

    def delete_topic(self, name: str) -> int:
        (err,) = self.run(self.admin.delete_topics([name])).topic_error_codes
        return int(err[1])

    def delete_records(self, name: str, partition: int, before: int) -> int:
        tp = kafka.TopicPartition(name, partition)
        result = self.run(self.admin.delete_records({tp: RecordsToDelete(before)}))
        return int(next(iter(result.values())))


Admin = CkAdmin | KpAdmin | AioAdmin


@pytest.fixture(params=ADMINS)
def admin(request: pytest.FixtureRequest, broker: BrokerProcess) -> Iterator[Admin]:
    cls = {"confluent": CkAdmin, "kafka-python": KpAdmin, "aiokafka": AioAdmin}[request.param]
    client = cls(broker.bootstrap)
    try:
        yield client
    finally:
        client.close()


def test_create_topic_with_partitions_and_configs(admin: Admin, topic_name: str) -> None:
    config = {"retention.ms": "123456", "cleanup.policy": "compact"}
    assert admin.create_topic(topic_name, partitions=3, config=config) == Err.NONE
    assert admin.partitions(topic_name) == [0, 1, 2]
    assert topic_name in admin.topic_names()
    described = admin.configs("topic", topic_name)
    assert {k: described.get(k) for k in config} == config


def test_create_existing_topic_fails(admin: Admin, topic_name: str) -> None:
    assert admin.create_topic(topic_name, partitions=2) == Err.NONE
    assert admin.create_topic(topic_name, partitions=5) == Err.TOPIC_ALREADY_EXISTS
    assert admin.partitions(topic_name) == [0, 1]


@pytest.mark.parametrize("bad", ["has space", "slash/name", "..", "a" * 250, "ü"])
def test_create_topic_with_invalid_name_fails(admin: Admin, bad: str) -> None:
    assert admin.create_topic(bad) == Err.INVALID_TOPIC_EXCEPTION
    assert bad not in admin.topic_names()


def test_create_topic_with_replication_factor_3_fails(admin: Admin, topic_name: str) -> None:
    assert admin.create_topic(topic_name, rf=3) == Err.INVALID_REPLICATION_FACTOR
    assert topic_name not in admin.topic_names()


def test_describe_cluster(admin: Admin, broker: BrokerProcess) -> None:
    assert admin.cluster() == ([(0, "127.0.0.1", broker.port)], 0)


def test_describe_broker_configs(admin: Admin) -> None:
    configs = admin.configs("broker", "0")
    assert configs.get("num.partitions") == "1", configs
    assert configs.get("message.max.bytes") == "1048588", configs
    assert configs.get("auto.create.topics.enable") == "true", configs


@pytest.mark.parametrize("admin", ["confluent", "kafka-python"], indirect=True)
def test_incremental_alter_configs(admin: Admin, topic_name: str) -> None:
    assert (
        admin.create_topic(topic_name, config={"retention.ms": "1000", "retention.bytes": "5000"})
        == 0
    )
    assert admin.set_topic_config(topic_name, "retention.ms", "2000") == Err.NONE
    described = admin.configs("topic", topic_name)
    assert (described["retention.ms"], described["retention.bytes"]) == ("2000", "5000")


def test_legacy_alter_configs_replaces_the_whole_set(
    broker: BrokerProcess, topic_name: str
) -> None:
    """AlterConfigs (aiokafka's only way) sets the listed keys and resets every other."""
    aio = AioAdmin(broker.bootstrap)
    try:
        assert (
            aio.create_topic(topic_name, config={"retention.ms": "1000", "retention.bytes": "5000"})
            == Err.NONE
        )
        resource = AioConfigResource(
            AioConfigResourceType.TOPIC, topic_name, {"retention.ms": "2000"}
        )
        (response,) = aio.run(aio.admin.alter_configs([resource]))
        assert [int(r[0]) for r in response.resources] == [Err.NONE]
        described = aio.configs("topic", topic_name)
        assert described["retention.ms"] == "2000"
        assert described["retention.bytes"] == "-1", "an unlisted key goes back to its default"
        bad = AioConfigResource(AioConfigResourceType.TOPIC, topic_name, {"retention.ms": "x"})
        (response,) = aio.run(aio.admin.alter_configs([bad]))
        assert [int(r[0]) for r in response.resources] == [Err.INVALID_CONFIG]
    finally:
        aio.close()


def test_create_partitions(admin: Admin, topic_name: str) -> None:
    assert admin.create_topic(topic_name) == Err.NONE
    assert admin.create_partitions(topic_name, 3) == Err.NONE
    assert admin.partitions(topic_name) == [0, 1, 2]
    assert admin.create_partitions(topic_name, 2) == Err.INVALID_PARTITIONS
    assert admin.partitions(topic_name) == [0, 1, 2]


def test_delete_topic(admin: Admin, topic_name: str) -> None:
    assert admin.create_topic(topic_name) == Err.NONE
    assert admin.delete_topic(topic_name) == Err.NONE
    assert topic_name not in admin.topic_names()
    assert admin.delete_topic(topic_name) == Err.UNKNOWN_TOPIC_OR_PARTITION
    if not isinstance(admin, AioAdmin):
        # aiokafka's Metadata v5 asks for auto-creation, which would bring the topic back
        assert admin.partitions(topic_name) == Err.UNKNOWN_TOPIC_OR_PARTITION


def test_delete_records_advances_low_watermark(
    admin: Admin, broker: BrokerProcess, topic_name: str
) -> None:
    assert admin.create_topic(topic_name) == Err.NONE
    produce("confluent", broker.bootstrap, topic_name, numbered(10))
    assert admin.delete_records(topic_name, 0, 4) == 4
    assert ck_watermarks(broker.bootstrap, topic_name, 0) == (4, 10)
    got = consume("kafka-python", broker.bootstrap, topic_name, {0: "earliest"}, 6)
    assert [(g.offset, g.value) for g in got] == [(i, b"r-%d" % i) for i in range(4, 10)]
