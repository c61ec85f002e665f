"""Metadata as clients see it: automatic topic creation (on by default on both brokers)
through each client, partition leaders/replicas/ISR, internal topics, unknown topics with
auto creation off, and transactions (a documented difference)."""

from __future__ import annotations

from typing import Any

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient

from tests.interop.diff import Target, assert_same, observe
from tests.support.clients import (
    CLIENTS,
    WAIT_S,
    Record,
    consume_all,
    create_topic,
    produce,
    wait_until,
)

pytestmark = pytest.mark.interop


def describe(bootstrap: str, topic: str) -> Any:
    """Partitions as (id, leader, replicas, isr), or the error name."""
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=WAIT_S)
    t = md.topics[topic]
    if t.error is not None:
        return t.error.name()
    return sorted((p.id, p.leader, p.replicas, p.isrs) for p in t.partitions.values())


@pytest.mark.parametrize("client", CLIENTS)
def test_auto_created_topic(targets: tuple[Target, Target], topic_name: str, client: str) -> None:
    """Producing to a topic that does not exist creates it with num.partitions (1)."""
    sent = [Record(b"auto", b"k")]

    def scenario(t: Target) -> dict[str, Any]:
        offsets = produce(client, t.bootstrap, topic_name, sent)
        got = consume_all(client, t.bootstrap, topic_name, sent)
        return {
            "offsets": offsets,
            "read": [(c.partition, c.offset, c.value) for c in got],
            "partitions": wait_until(lambda: describe(t.bootstrap, topic_name), "metadata"),
        }

    assert assert_same(observe(targets, scenario))["partitions"] == [(0, 0, [0], [0])]


def test_unknown_topic_without_auto_creation(
    targets: tuple[Target, Target], topic_name: str
) -> None:
    def scenario(t: Target) -> dict[str, Any]:
        c = confluent_kafka.Consumer(
            {"bootstrap.servers": t.bootstrap, "group.id": "md", "allow.auto.create.topics": False}
        )
        try:
            md = c.list_topics(topic_name, timeout=WAIT_S)
            err = md.topics[topic_name].error
        finally:
            c.close()
        return {"error": err.name() if err else None}

    seen = assert_same(observe(targets, scenario))
    assert seen == {"error": "UNKNOWN_TOPIC_OR_PART"}


def test_auto_creation_by_metadata(targets: tuple[Target, Target], topic_name: str) -> None:
    """A Metadata request allowing auto creation (librdkafka's admin handle sends one)
    creates the topic on both. Kafka creates it asynchronously and may answer the first
    request UNKNOWN_TOPIC_OR_PARTITION (a documented difference, timing-dependent, so not
    compared); the topic both end up with is."""
    for t in targets:
        describe(t.bootstrap, topic_name)
    later = observe(
        targets,
        lambda t: wait_until(
            lambda: isinstance(d := describe(t.bootstrap, topic_name), list) and d, "creation"
        ),
    )
    assert assert_same(later) == [(0, 0, [0], [0])]


def test_internal_topic_after_group_use(targets: tuple[Target, Target], topic_name: str) -> None:
    """__consumer_offsets exists once a group committed, is internal, has 50 partitions.
    (When it is created differs, see docs/compatibility.md: Kafka at the first
    FindCoordinator, Riverhead at the first commit; the sessions' brokers are shared, so
    this test only looks after a commit.)"""

    def scenario(t: Target) -> dict[str, Any]:
        create_topic(t.bootstrap, topic_name)
        c = confluent_kafka.Consumer({"bootstrap.servers": t.bootstrap, "group.id": "md-g"})
        try:
            c.commit(offsets=[confluent_kafka.TopicPartition(topic_name, 0, 1)], asynchronous=False)
        finally:
            c.close()
        admin = AdminClient({"bootstrap.servers": t.bootstrap})
        offsets = admin.list_topics(timeout=WAIT_S).topics.get("__consumer_offsets")
        topics = confluent_kafka.TopicCollection(["__consumer_offsets"])
        d = admin.describe_topics(topics)["__consumer_offsets"].result(WAIT_S)
        return {
            "listed": offsets is not None,
            "partitions": len(offsets.partitions) if offsets else None,
            "internal": d.is_internal,
        }

    assert assert_same(observe(targets, scenario)) == {
        "listed": True,
        "partitions": 50,
        "internal": True,
    }


def test_transactions_are_a_documented_difference(
    targets: tuple[Target, Target], topic_name: str
) -> None:
    """Kafka runs a transactional producer; Riverhead has no transaction coordinator
    (docs/compatibility.md): FindCoordinator for a transactional id answers
    COORDINATOR_NOT_AVAILABLE, which librdkafka retries until init_transactions() times
    out (5 s here)."""

    def scenario(t: Target) -> Any:
        p = confluent_kafka.Producer(
            {
                "bootstrap.servers": t.bootstrap,
                "transactional.id": f"{topic_name}-tx",
                "transaction.timeout.ms": 10_000,
            }
        )
        try:
            p.init_transactions(5.0)
            return "ok"
        except confluent_kafka.KafkaException as exc:
            return exc.args[0].name()

    seen = observe(targets, scenario)
    assert seen["kafka"] == "ok"
    assert seen["riverhead"] == "_TIMED_OUT", seen
