"""Consumer groups (classic protocol) through each client on both brokers: join, a second
member's join (rebalance), commits, a clean leave, resume at the committed offsets, and
what the admin API describes. Members run in child processes (the integration suite's
:class:`~tests.integration.test_groups.Member`), with the range assignor.

Compared: the assignment shapes (member ids are generated, so which member gets which
partitions is not, but how many each gets and that they cover the topic is), the records
each phase consumed, the committed offsets, the resume point, and the group as described
(state, protocol type, assignor, member count).
"""

from __future__ import annotations

from typing import Any

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient

from tests.integration.test_groups import (
    PARTITIONS,
    Member,
    committed_offsets,
    group_id,
    spread,
    values,
    wait_consumed,
    wait_owns_all,
    wait_split,
)
from tests.interop.diff import Target, assert_same, observe
from tests.support.clients import WAIT_S, Record, create_topic, produce, wait_until

pytestmark = pytest.mark.interop

GROUP_CLIENTS = ("confluent", "kafka-python", "aiokafka", "kcat")


def describe_group(bootstrap: str, group: str) -> dict[str, Any]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    desc = admin.describe_consumer_groups([group], request_timeout=WAIT_S)[group].result(WAIT_S)
    return {
        "state": desc.state.name,
        "simple": desc.is_simple_consumer_group,
        "assignor": desc.partition_assignor,
        "members": len(desc.members),
        "assigned partitions": sorted(
            tp.partition for m in desc.members for tp in m.assignment.topic_partitions
        ),
    }


@pytest.mark.parametrize("client", GROUP_CLIENTS)
def test_group_life_cycle(targets: tuple[Target, Target], topic_name: str, client: str) -> None:
    def scenario(t: Target) -> dict[str, Any]:
        bs = t.bootstrap
        create_topic(bs, topic_name, PARTITIONS)
        group = group_id()
        produced: list[Record] = []
        started: list[Member] = []
        out: dict[str, Any] = {}

        def send(prefix: str, count: int) -> set[str]:
            recs = spread(prefix, count)
            produce("confluent", bs, topic_name, recs)
            produced.extend(recs)
            return values(recs)

        def start() -> Member:
            started.append(Member(client, bs, topic_name, group))
            return started[-1]

        try:
            first = send("a", 12)
            c1 = start()
            wait_owns_all(c1, "the only member owns every partition")
            wait_consumed([c1], first, "the only member")
            out["alone"] = sorted(c1.assignment or ())

            c2 = start()
            split = wait_split([c1, c2], "two members split the partitions")
            out["split sizes"] = sorted(len(a) for a in split)
            if client != "kcat":  # kcat reports no group description of its own
                out["described (2 members)"] = wait_until(
                    lambda: (d := describe_group(bs, group))["state"] == "STABLE" and d,
                    "a stable group",
                )
            second = send("b", 12)
            wait_consumed([c1, c2], second, "two members")

            c1.close()  # LeaveGroup
            wait_owns_all(c2, "the survivor of a clean leave owns every partition")
            out["after leave"] = sorted(c2.assignment or ())
            third = send("c", 12)
            wait_consumed([c2], third, "the survivor")
            c2.close()

            ends = {p: sum(1 for r in produced if r.partition == p) for p in range(PARTITIONS)}
            out["committed == log end"] = wait_until(
                lambda: committed_offsets(bs, group, topic_name) == ends, "commits at log end"
            )
            out["described (empty)"] = describe_group(bs, group)

            c3 = start()
            fourth = send("d", 8)
            wait_consumed([c3], fourth, "the restarted member")
            out["resumed reads"] = sorted(c3.values())
            out["resumed at"] = {
                p: min((o for q, o, _ in c3.snapshot() if q == p), default=None)
                for p in range(PARTITIONS)
            }
            c3.close()
            out["errors"] = [e for m in started for e in m.errors + m.fatal]
        finally:
            for m in started:
                m.ensure_dead()
        return out

    seen = assert_same(observe(targets, scenario))
    assert seen["split sizes"] == [2, 2] and seen["errors"] == [], seen


def test_manual_commit_and_fetch_without_members(
    targets: tuple[Target, Target], topic_name: str
) -> None:
    """A consumer that only commits (no subscription: generation -1), OffsetFetch of
    committed, never-committed and unknown partitions, metadata round trip."""

    def scenario(t: Target) -> dict[str, Any]:
        create_topic(t.bootstrap, topic_name, 2)
        produce("confluent", t.bootstrap, topic_name, [Record(b"x")] * 5)
        group = group_id()
        c = confluent_kafka.Consumer(
            {"bootstrap.servers": t.bootstrap, "group.id": group, "enable.auto.commit": False}
        )
        try:
            c.commit(
                offsets=[confluent_kafka.TopicPartition(topic_name, 0, 3, "meta-data")],
                asynchronous=False,
            )
            got = c.committed(
                [confluent_kafka.TopicPartition(topic_name, p) for p in (0, 1, 9)], timeout=WAIT_S
            )
        finally:
            c.close()
        return {
            "committed": [
                (tp.partition, tp.offset, tp.metadata, tp.error.name() if tp.error else None)
                for tp in got
            ],
            "described": describe_group(t.bootstrap, group),
        }

    assert assert_same(observe(targets, scenario))["committed"][0][:2] == (0, 3)


def test_group_admin(targets: tuple[Target, Target], topic_name: str) -> None:
    """confluent-kafka's group admin: list, describe (unknown groups too), list and alter
    committed offsets, delete a group with members and without, delete an unknown group."""

    def code(future: Any) -> Any:
        try:
            future.result(WAIT_S)
            return "ok"
        except confluent_kafka.KafkaException as exc:
            return exc.args[0].name()

    def scenario(t: Target) -> dict[str, Any]:
        bs = t.bootstrap
        create_topic(bs, topic_name, PARTITIONS)
        produce("confluent", bs, topic_name, spread("x", 8))
        group, unknown = group_id(), group_id()
        admin = AdminClient({"bootstrap.servers": bs})
        out: dict[str, Any] = {}
        member = Member("confluent", bs, topic_name, group)
        try:
            wait_owns_all(member, "the member owns every partition")
            wait_consumed([member], values(spread("x", 8)), "the member")
            listed = admin.list_consumer_groups(request_timeout=WAIT_S).result(WAIT_S)
            out["listed"] = [
                (g.group_id == group, g.is_simple_consumer_group, g.state.name)
                for g in listed.valid
                if g.group_id == group
            ]
            out["delete with a member"] = code(admin.delete_consumer_groups([group])[group])
            tps = [confluent_kafka.TopicPartition(topic_name, 0, 0)]
            req = confluent_kafka.ConsumerGroupTopicPartitions(group, tps)
            out["alter offsets with a member"] = code(
                admin.alter_consumer_group_offsets([req])[group]
            )
        finally:
            member.close()
        offsets = admin.list_consumer_group_offsets(
            [confluent_kafka.ConsumerGroupTopicPartitions(group)]
        )[group].result(WAIT_S)
        out["committed"] = sorted((tp.partition, tp.offset) for tp in offsets.topic_partitions)
        req = confluent_kafka.ConsumerGroupTopicPartitions(
            group, [confluent_kafka.TopicPartition(topic_name, 1, 0)]
        )
        out["alter offsets, empty group"] = code(admin.alter_consumer_group_offsets([req])[group])
        offsets = admin.list_consumer_group_offsets(
            [confluent_kafka.ConsumerGroupTopicPartitions(group)]
        )[group].result(WAIT_S)
        out["after alter"] = sorted((tp.partition, tp.offset) for tp in offsets.topic_partitions)
        out["describe unknown"] = describe_group(bs, unknown)
        out["delete unknown"] = code(admin.delete_consumer_groups([unknown])[unknown])
        out["delete empty"] = code(admin.delete_consumer_groups([group])[group])
        out["describe deleted"] = describe_group(bs, group)
        return out

    seen = assert_same(observe(targets, scenario))
    assert seen["delete with a member"] == "NON_EMPTY_GROUP", seen
    assert seen["delete empty"] == "ok" and seen["committed"] == [(p, 2) for p in range(4)], seen


def test_static_membership(targets: tuple[Target, Target], topic_name: str) -> None:
    """KIP-345 with confluent-kafka: a static member killed and restarted within its
    session gets its partitions back and the other member is not rebalanced; a second
    member with the same group.instance.id fences the first (fatal error)."""

    def scenario(t: Target) -> dict[str, Any]:
        bs = t.bootstrap
        create_topic(bs, topic_name, PARTITIONS)
        group, fenced_group = group_id(), group_id()
        started: list[Member] = []

        def start(g: str, instance: str) -> Member:
            started.append(
                Member("confluent", bs, topic_name, g, **{"group.instance.id": instance})
            )
            return started[-1]

        out: dict[str, Any] = {}
        try:
            a = start(group, "a")
            wait_owns_all(a, "the first static member owns every partition")
            b = start(group, "b")
            a_parts, _ = wait_split([a, b], "two static members split the partitions")
            b_history = list(b.assignments)
            a.kill()
            a2 = start(group, "a")
            wait_until(lambda: a2.assignment, "the restarted static member's assignment")
            sent = spread("s", 8)
            produce("confluent", bs, topic_name, sent)
            wait_consumed([a2, b], values(sent), "after the static member came back")
            out["restarted member got its partitions back"] = a2.assignment == a_parts
            out["other member rebalanced"] = b.assignments != b_history

            first = start(fenced_group, "dup")
            wait_owns_all(first, "the first static member")
            second = start(fenced_group, "dup")
            wait_until(lambda: first.fatal, "a fatal error for the fenced member")
            out["fenced"] = (
                "fenced by other consumer with same group.instance.id" in (first.fatal[0])
            )
            wait_owns_all(second, "the member that fenced it")
        finally:
            for m in started:
                m.ensure_dead()
        return out

    assert assert_same(observe(targets, scenario)) == {
        "restarted member got its partitions back": True,
        "other member rebalanced": False,
        "fenced": True,
    }


def test_cooperative_sticky_rebalance(targets: tuple[Target, Target], topic_name: str) -> None:
    """KIP-429 (incremental cooperative rebalancing, client side) with confluent-kafka: a
    second member takes half the partitions from the first, which keeps the rest without
    giving them up in between."""

    def scenario(t: Target) -> dict[str, Any]:
        bs = t.bootstrap
        create_topic(bs, topic_name, PARTITIONS)
        group = group_id()
        conf = {"partition.assignment.strategy": "cooperative-sticky"}
        started: list[Member] = []
        try:
            a = Member("confluent", bs, topic_name, group, **conf)
            started.append(a)
            wait_owns_all(a, "the only member owns every partition")
            b = Member("confluent", bs, topic_name, group, **conf)
            started.append(b)
            split = wait_split([a, b], "two members split the partitions")
            a_sizes = [len(x) for x in a.assignments]
            sent = spread("c", 8)
            produce("confluent", bs, topic_name, sent)
            wait_consumed([a, b], values(sent), "two cooperative members")
            errors = [e for m in started for e in m.errors + m.fatal]
        finally:
            for m in started:
                m.ensure_dead()
        return {
            "split sizes": sorted(len(x) for x in split),
            # the first member never went through an empty assignment (no stop-the-world)
            "first member's assignment sizes": a_sizes,
            "errors": errors,
        }

    seen = assert_same(observe(targets, scenario))
    assert seen["split sizes"] == [2, 2] and 0 not in seen["first member's assignment sizes"]
