"""Consumer groups (Kafka's classic protocol) end to end, with every client.

Each group member runs in a process of its own, so killing one (``kill -9``) is a real
crash: confluent-kafka, kafka-python and aiokafka members run :data:`WORKER` with
``sys.executable``; kcat runs as ``kcat -G``. A member prints one line per event on stdout:

* ``A 0,2`` (or ``A -``): its whole assignment after a rebalance callback;
* ``R <partition> <offset> <value>``: a record it processed;
* ``C <partition> <next offset>``: a synchronous commit the broker accepted (after ``R``);
* ``E ...``/``F <code> ...``: an error / a fatal error; ``X``: closed cleanly (LeaveGroup).

kcat prints records with ``-f '%p %o %s\\n'`` and its assignment on stderr
(``% Group g rebalanced (memberid m): assigned: t [0], t [1]``); it auto-commits.

Everything waits on a deadline (``tests.support.clients.wait_until``); groups and topics
are unique per test, so the session broker is shared.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import confluent_kafka
import kafka
import kafka.errors
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from confluent_kafka.admin import AdminClient

from tests.support.broker_process import BrokerProcess
from tests.support.clients import (
    WAIT_S,
    Record,
    create_topic,
    kcat_path,
    produce,
    wait_until,
)

pytestmark = pytest.mark.integration

PARTITIONS = 4
SESSION_MS = 6000  # the broker's minimum session timeout
HEARTBEAT_MS = 500
FAILOVER_S = 25.0  # session timeout + rebalance + client timers, as a deadline
GROUP_CLIENTS = ("confluent", "kafka-python", "aiokafka", "kcat")

WORKER = r"""
import json, sys, threading

client, bootstrap, topic, group, extra = sys.argv[1:6]
extra = json.loads(extra)
stop = threading.Event()
assigned = set()


def out(*parts):
    print(*parts, flush=True)


def show():
    out("A", ",".join(str(p) for p in sorted(assigned)) or "-")


def watch_stdin():
    for line in sys.stdin:
        if line.strip() == "close":
            break
    stop.set()


threading.Thread(target=watch_stdin, daemon=True).start()

if client == "confluent":
    import confluent_kafka as ck

    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "partition.assignment.strategy": "range",
        "fetch.wait.max.ms": 100,
        "topic.metadata.refresh.interval.ms": 1000,
    }
    conf.update(extra)
    fatal = []

    def on_error(err):
        if err.fatal():
            fatal.append(err)
            out("F", err.code(), err.name(), err.str())

    conf["error_cb"] = on_error
    c = ck.Consumer(conf)

    def on_assign(cons, parts):
        assigned.update(p.partition for p in parts)
        show()

    def on_revoke(cons, parts):
        assigned.difference_update(p.partition for p in parts)
        show()

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
    while not stop.is_set() and not fatal:
        msg = c.poll(0.1)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == ck.KafkaError._FATAL or msg.error().fatal():
                fatal.append(msg.error())
                out("F", msg.error().code(), msg.error().str())
                break
            out("E", msg.error().code(), msg.error().str())
            continue
        out("R", msg.partition(), msg.offset(), msg.value().decode())
        try:
            res = c.commit(message=msg, asynchronous=False)
            for tp in res:
                if tp.error is None:
                    out("C", tp.partition, tp.offset)
                else:
                    out("E", "commit", tp.error)
        except ck.KafkaException as exc:
            out("E", "commit", exc.args[0].code(), exc.args[0].str())
    if not fatal:
        c.close()
    out("X")

elif client == "kafka-python":
    import logging

    # The group events (joins, assignments, errors) on stderr: a failed wait shows them.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka.coordinator").setLevel(logging.INFO)
    import kafka
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.structs import OffsetAndMetadata

    class Listener(kafka.ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            assigned.difference_update(tp.partition for tp in revoked)
            show()

        def on_partitions_assigned(self, parts):
            assigned.update(tp.partition for tp in parts)
            show()

    conf = dict(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        fetch_max_wait_ms=100,
        metadata_max_age_ms=1000,
        partition_assignment_strategy=[RangePartitionAssignor],
    )
    conf.update(extra)
    c = kafka.KafkaConsumer(**conf)
    c.subscribe([topic], listener=Listener())
    # kafka-python 3.0.12 can drop a rebalance for good. A leader that assigned before it
    # knew the topic's partitions rejoins once metadata arrives; it wants that rejoin only
    # because its metadata snapshot changed, and assigning updates the snapshot. If
    # poll()'s timeout ends between that assignment and the SyncGroup answer, the next
    # poll() sees no reason to rejoin and never finishes the join: no assignment, no
    # heartbeats, the session expires (on Apache Kafka too). Learning the partitions
    # before the first poll() (after subscribe(), so the snapshot has them) makes the
    # first assignment complete: no rejoin starts from a metadata change.
    c.partitions_for_topic(topic)
    while not stop.is_set():
        for tp, records in c.poll(timeout_ms=100).items():
            for r in records:
                out("R", r.partition, r.offset, r.value.decode())
                try:
                    c.commit({tp: OffsetAndMetadata(r.offset + 1, "", -1)})
                    out("C", r.partition, r.offset + 1)
                except Exception as exc:
                    out("E", "commit", repr(exc))
    c.close()
    out("X")

elif client == "aiokafka":
    import asyncio
    import aiokafka
    from aiokafka.abc import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            assigned.difference_update(tp.partition for tp in revoked)
            show()

        def on_partitions_assigned(self, parts):
            assigned.update(tp.partition for tp in parts)
            show()

    async def main():
        from aiokafka.coordinator.assignors.range import RangePartitionAssignor

        conf = dict(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
            fetch_max_wait_ms=100,
            metadata_max_age_ms=1000,
            partition_assignment_strategy=(RangePartitionAssignor,),
        )
        conf.update(extra)
        c = aiokafka.AIOKafkaConsumer(**conf)
        await c.start()
        c.subscribe([topic], listener=Listener())
        try:
            while not stop.is_set():
                batch = await c.getmany(timeout_ms=100)
                for tp, records in batch.items():
                    for r in records:
                        out("R", r.partition, r.offset, r.value.decode())
                        try:
                            await c.commit({tp: r.offset + 1})
                            out("C", r.partition, r.offset + 1)
                        except Exception as exc:
                            out("E", "commit", repr(exc))
        finally:
            await c.stop()
        out("X")

    asyncio.run(main())
else:
    raise SystemExit("unknown client " + client)
"""

KCAT_ASSIGNED = re.compile(r"rebalanced \(memberid [^)]*\): (assigned|revoked): (.*)$")


class Member:
    """One group member in a child process; its events are collected by reader threads."""

    def __init__(self, client: str, bootstrap: str, topic: str, group: str, **extra: Any) -> None:
        self.client = client
        self.topic = topic
        self.group = group
        self.lock = threading.Lock()
        self.records: list[tuple[int, int, str]] = []  # (partition, offset, value), in order
        self.commits: list[tuple[int, int]] = []  # (partition, next offset), in order
        self.assignments: list[frozenset[int]] = []  # every assignment it reported
        self.errors: list[str] = []
        self.fatal: list[str] = []
        self.closed = False
        self.stderr_tail: list[str] = []
        if client == "kcat":
            args = [
                kcat_path(), "-b", bootstrap, "-G", group, topic, "-u",
                "-f", "%p %o %s\\n",
                "-X", f"session.timeout.ms={SESSION_MS}",
                "-X", f"heartbeat.interval.ms={HEARTBEAT_MS}",
                "-X", "auto.commit.interval.ms=100",
                # not `-o beginning`: kcat -G assigns every partition at that offset in its
                # rebalance callback, ignoring committed offsets (re-reads after each rebalance)
                "-X", "auto.offset.reset=earliest",
                "-X", "partition.assignment.strategy=range",
                "-X", "topic.metadata.refresh.interval.ms=1000",
            ]  # fmt: skip
            for k, v in extra.items():
                args += ["-X", f"{k}={v}"]
        else:
            args = [
                sys.executable,
                "-c",
                WORKER,
                client,
                bootstrap,
                topic,
                group,
                json.dumps(extra),
            ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self._kcat_assigned: set[int] = set()
        self.threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self.threads:
            t.start()

    # ---- event collection -----------------------------------------------------------------
    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.lock:
                if self.client == "kcat":
                    p, o, value = line.split(" ", 2)
                    self.records.append((int(p), int(o), value))
                    continue
                kind, _, rest = line.partition(" ")
                if kind == "A":
                    parts = frozenset() if rest == "-" else frozenset(map(int, rest.split(",")))
                    self.assignments.append(parts)
                elif kind == "R":
                    p, o, value = rest.split(" ", 2)
                    self.records.append((int(p), int(o), value))
                elif kind == "C":
                    p, o = rest.split()
                    self.commits.append((int(p), int(o)))
                elif kind == "E":
                    self.errors.append(rest)
                elif kind == "F":
                    self.fatal.append(rest)
                elif kind == "X":
                    self.closed = True

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.lock:
                self.stderr_tail = ([*self.stderr_tail, line])[-30:]
                if self.client != "kcat":
                    continue
                m = KCAT_ASSIGNED.search(line)
                if m is None:
                    continue
                parts = {int(x) for x in re.findall(r"\[(\d+)\]", m.group(2))}
                if m.group(1) == "assigned":
                    self._kcat_assigned |= parts
                else:
                    self._kcat_assigned -= parts
                self.assignments.append(frozenset(self._kcat_assigned))

    # ---- views ----------------------------------------------------------------------------
    @property
    def assignment(self) -> frozenset[int] | None:
        with self.lock:
            return self.assignments[-1] if self.assignments else None

    def values(self) -> list[str]:
        with self.lock:
            return [v for _, _, v in self.records]

    def snapshot(self) -> list[tuple[int, int, str]]:
        with self.lock:
            return list(self.records)

    def describe(self) -> str:
        with self.lock:
            return (
                f"{self.client} member: assignments={[sorted(a) for a in self.assignments]} "
                f"records={len(self.records)} errors={self.errors[-5:]} fatal={self.fatal} "
                f"stderr={self.stderr_tail[-8:]}"
            )

    # ---- life cycle -----------------------------------------------------------------------
    def close(self, timeout: float = WAIT_S) -> None:
        """A clean close: the client commits and sends LeaveGroup."""
        if self.proc.poll() is not None:
            return
        if self.client == "kcat":
            self.proc.send_signal(signal.SIGTERM)
        else:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"close\n")
            self.proc.stdin.flush()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"member did not close in {timeout}s: {self.describe()}") from None
        for t in self.threads:
            t.join(5)

    def kill(self) -> None:
        """kill -9: no commit, no LeaveGroup; the broker notices after the session timeout."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for t in self.threads:
            t.join(5)

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Members:
    """Starts members and kills every one still running when the test ends."""

    def __init__(self) -> None:
        self.started: list[Member] = []

    def start(self, *args: Any, **kw: Any) -> Member:
        m = Member(*args, **kw)
        self.started.append(m)
        return m

    def cleanup(self) -> None:
        for m in self.started:
            m.ensure_dead()


@pytest.fixture
def members() -> Iterable[Members]:
    ms = Members()
    try:
        yield ms
    finally:
        ms.cleanup()


# ---- helpers ---------------------------------------------------------------------------------


def group_id() -> str:
    return f"g-{uuid.uuid4().hex[:12]}"


def spread(prefix: str, count: int, partitions: int = PARTITIONS) -> list[Record]:
    """``count`` records with unique values, round-robin over the partitions."""
    return [Record(f"{prefix}-{i}".encode(), partition=i % partitions) for i in range(count)]


def values(records: Sequence[Record]) -> set[str]:
    return {r.value.decode() for r in records if r.value is not None}


def consumed(ms: Sequence[Member]) -> Counter[str]:
    total: Counter[str] = Counter()
    for m in ms:
        total.update(m.values())
    return total


def wait_consumed(
    ms: Sequence[Member], wanted: set[str], what: str, timeout: float = WAIT_S
) -> None:
    wait_until(
        lambda: wanted <= set(consumed(ms)),
        lambda: (
            f"{what}: {len(wanted)} records consumed "
            f"(missing {sorted(wanted - set(consumed(ms)))[:5]}; "
            + "; ".join(m.describe() for m in ms)
            + ")"
        ),
        timeout,
    )


def wait_split(ms: Sequence[Member], what: str, timeout: float = WAIT_S) -> list[frozenset[int]]:
    """Until every member has a non-empty assignment, pairwise disjoint, covering all."""

    def probe() -> list[frozenset[int]] | None:
        parts = [m.assignment for m in ms]
        if any(not p for p in parts):
            return None
        flat = [x for p in parts for x in p if p is not None]
        if len(flat) != len(set(flat)) or set(flat) != set(range(PARTITIONS)):
            return None
        return parts  # type: ignore[return-value]

    return wait_until(probe, lambda: f"{what} ({'; '.join(m.describe() for m in ms)})", timeout)


def wait_owns_all(m: Member, what: str, timeout: float = WAIT_S) -> None:
    wait_until(
        lambda: m.assignment == frozenset(range(PARTITIONS)),
        lambda: f"{what} ({m.describe()})",
        timeout,
    )


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets (OffsetFetch through confluent-kafka's committed())."""
    c = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    try:
        got = c.committed(
            [confluent_kafka.TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=WAIT_S
        )
        return {tp.partition: tp.offset for tp in got if tp.offset >= 0}
    finally:
        c.close()


# ---- the group life cycle, per client --------------------------------------------------------


@pytest.mark.parametrize("client", GROUP_CLIENTS)
def test_group_life_cycle(
    client: str, broker: BrokerProcess, topic_name: str, members: Members
) -> None:
    bs = broker.bootstrap
    create_topic(bs, topic_name, PARTITIONS)
    group = group_id()
    produced: list[Record] = []

    def send(prefix: str, count: int) -> set[str]:
        recs = spread(prefix, count)
        produce("confluent", bs, topic_name, recs)
        produced.extend(recs)
        return values(recs)

    # 1. One member reads everything.
    first = send("a", 20)
    c1 = members.start(client, bs, topic_name, group)
    wait_owns_all(c1, "the only member owns every partition")
    wait_consumed([c1], first, "the only member")

    # 2. A second member joins: the partitions are split.
    c2 = members.start(client, bs, topic_name, group)
    a1, a2 = wait_split([c1, c2], "two members split the partitions")
    assert a1 | a2 == set(range(PARTITIONS)) and not a1 & a2
    second = send("b", 20)
    wait_consumed([c1, c2], second, "two members")
    by_value = {v: p for p, _, v in c1.snapshot() + c2.snapshot()}
    for m in (c1, c2):
        own = m.assignment or frozenset()
        late = [(p, v) for p, _, v in m.snapshot() if v in second and p not in own]
        assert not late, f"{client}: records of partitions it does not own: {late[:5]}"
    assert {by_value[v] for v in second} == set(range(PARTITIONS))

    # 3. A clean leave: the survivor takes every partition.
    c1.close()
    wait_owns_all(c2, "the survivor of a clean leave owns every partition")
    third = send("c", 20)
    wait_consumed([c2], third, "the survivor of a clean leave")

    # 4. A crash: a third member joins, is killed, and the survivor takes over after the
    #    session timeout.
    c3 = members.start(client, bs, topic_name, group)
    wait_split([c2, c3], "a new member splits the partitions with the survivor")
    fourth = send("d", 20)
    wait_consumed([c2, c3], fourth, "two members before the crash")
    killed_parts = c3.assignment or frozenset()
    c3.kill()
    at_kill = committed_offsets(bs, group, topic_name)
    wait_owns_all(c2, "the survivor of a crash owns every partition", FAILOVER_S)
    fifth = send("e", 20)
    wait_consumed([c2], fifth, "the survivor of a crash")

    # No record lost; a record read twice only where commits allow it.
    everyone = [c1, c2, c3]
    counts = consumed(everyone)
    assert values(produced) <= set(counts), "records lost"
    first_reader: dict[tuple[int, int], Member] = {}
    for m in everyone:
        for p, o, _ in m.snapshot():
            first_reader.setdefault((p, o), m)
    dups = []
    for m in everyone:
        for p, o, v in m.snapshot():
            if counts[v] < 2 or first_reader[(p, o)] is m:
                continue
            after_crash = p in killed_parts and o >= at_kill.get(p, 0)
            reader = first_reader[(p, o)]
            uncommitted = client != "kcat" and not any(
                cp == p and co > o for cp, co in reader.commits
            )
            if not (after_crash or uncommitted):
                dups.append((p, o, v))
    assert not dups, (
        f"{client}: records read twice though no crash explains it: {dups[:10]} "
        "(kcat commits on revoke, during PreparingRebalance; see the unit test "
        "test_commit_during_preparing_rebalance_is_accepted) "
        f"(committed at the crash: {at_kill}, crashed member owned {sorted(killed_parts)})"
    )

    # 5. A restarted member resumes at the group's committed offsets.
    c2.close()
    resume_at = committed_offsets(bs, group, topic_name)
    ends = {p: sum(1 for r in produced if r.partition == p) for p in range(PARTITIONS)}
    assert resume_at == ends, f"{client}: committed {resume_at}, log ends {ends}"
    c4 = members.start(client, bs, topic_name, group)
    sixth = send("f", 8)
    wait_consumed([c4], sixth, "the restarted member")
    old = [v for v in c4.values() if v not in sixth]
    assert not old, f"{client}: restarted member re-read committed records {old[:5]}"
    assert min(o for p, o, _ in c4.snapshot() if p == 0) == resume_at[0]
    c4.close()


def test_mixed_clients_share_a_group(
    broker: BrokerProcess, topic_name: str, members: Members
) -> None:
    """confluent-kafka and kafka-python in one group, both with the range assignor."""
    bs = broker.bootstrap
    create_topic(bs, topic_name, PARTITIONS)
    group = group_id()
    ck = members.start("confluent", bs, topic_name, group)
    wait_owns_all(ck, "confluent alone owns every partition")
    kp = members.start("kafka-python", bs, topic_name, group)
    a_ck, a_kp = wait_split([ck, kp], "confluent and kafka-python split the partitions")
    assert sorted(a_ck | a_kp) == list(range(PARTITIONS)) and not a_ck & a_kp
    sent = spread("m", 16)
    produce("confluent", bs, topic_name, sent)
    wait_consumed([ck, kp], values(sent), "a mixed group")
    for m, own in ((ck, a_ck), (kp, a_kp)):
        assert {p for p, _, _ in m.snapshot()} <= own
    ck.close()
    wait_owns_all(kp, "kafka-python takes over after confluent left")
    kp.close()


def test_committed_offsets_survive_a_broker_restart(
    fresh_broker: BrokerProcess, topic_name: str, members: Members
) -> None:
    fresh_broker.start()
    bs = fresh_broker.bootstrap
    create_topic(bs, topic_name, PARTITIONS)
    group = group_id()
    sent = spread("r", 12)
    produce("confluent", bs, topic_name, sent)
    m = members.start("confluent", bs, topic_name, group)
    wait_consumed([m], values(sent), "before the restart")
    m.close()
    before = committed_offsets(bs, group, topic_name)
    assert before == dict.fromkeys(range(PARTITIONS), 3)
    fresh_broker.stop()
    fresh_broker.start()
    assert committed_offsets(bs, group, topic_name) == before
    more = spread("s", 4)
    produce("confluent", bs, topic_name, more)
    again = members.start("confluent", bs, topic_name, group)
    wait_consumed([again], values(more), "after the restart")
    assert sorted(again.values()) == sorted(values(more)), "re-read committed records"
    again.close()


# ---- admin clients -----------------------------------------------------------------------------


def assert_deleted(result: Any, group: str, expected: type[Exception] | None) -> None:
    """kafka-python's delete_groups result for one group: no error, or ``expected``."""
    pairs = dict(result.items()) if isinstance(result, dict) else dict(result)
    assert list(pairs) == [group], result
    error = pairs[group]
    name = error if isinstance(error, str) else getattr(error, "__name__", type(error).__name__)
    if expected is None:
        assert error is None or name in ("OK", "NoError", "NoneType"), result
    else:
        assert name == expected.__name__, result


def test_admin_list_describe_delete(
    broker: BrokerProcess, topic_name: str, members: Members
) -> None:
    bs = broker.bootstrap
    create_topic(bs, topic_name, PARTITIONS)
    group = group_id()
    sent = spread("x", 8)
    produce("confluent", bs, topic_name, sent)
    m = members.start("confluent", bs, topic_name, group)
    wait_consumed([m], values(sent), "the group's only member")
    wait_until(
        lambda: committed_offsets(bs, group, topic_name) == dict.fromkeys(range(PARTITIONS), 2),
        "commits",
    )

    # confluent-kafka
    admin = AdminClient({"bootstrap.servers": bs})
    listed = admin.list_consumer_groups(request_timeout=WAIT_S).result(WAIT_S)
    ids = {g.group_id: g for g in listed.valid}
    assert group in ids, f"confluent list_consumer_groups: {sorted(ids)}"
    assert ids[group].state == confluent_kafka.ConsumerGroupState.STABLE
    desc = admin.describe_consumer_groups([group], request_timeout=WAIT_S)[group].result(WAIT_S)
    assert desc.state == confluent_kafka.ConsumerGroupState.STABLE
    assert desc.partition_assignor == "range"
    assert len(desc.members) == 1
    assert {tp.partition for tp in desc.members[0].assignment.topic_partitions} == set(
        range(PARTITIONS)
    )

    # kafka-python
    kadmin = kafka.KafkaAdminClient(bootstrap_servers=bs, request_timeout_ms=int(WAIT_S * 1000))
    try:
        kp_listed = kadmin.list_groups()
        kp_ids = {(g["group_id"] if isinstance(g, dict) else g[0]) for g in kp_listed}
        assert group in kp_ids, kp_listed
        kp_desc = kadmin.describe_groups([group])
        info = kp_desc[group] if isinstance(kp_desc, dict) else kp_desc[0]
        text = json.dumps(info, default=str)
        assert "Stable" in text, text[:500]
        offsets = kadmin.list_group_offsets({group: None})[group]
        assert {tp.partition: om.offset for tp, om in offsets.items()} == dict.fromkeys(
            range(PARTITIONS), 2
        )
        assert_deleted(kadmin.delete_groups([group]), group, kafka.errors.NonEmptyGroupError)

        # aiokafka
        async def aio() -> tuple[list[Any], list[Any]]:
            client = AIOKafkaAdminClient(bootstrap_servers=bs)
            await client.start()
            try:
                return (
                    await client.list_consumer_groups(),
                    await client.describe_consumer_groups([group]),
                )
            finally:
                await client.close()

        aio_listed, aio_desc = asyncio.run(aio())
        assert group in {g[0] for g in aio_listed}, aio_listed
        (resp,) = aio_desc
        (g,) = resp.groups
        assert g[0] == 0 and g[1] == group and g[2] == "Stable", g[:3]
        assert len(g[5]) == 1, g

        m.close()
        wait_until(
            lambda: any(
                x.group_id == group and x.state == confluent_kafka.ConsumerGroupState.EMPTY
                for x in admin.list_consumer_groups(request_timeout=WAIT_S).result(WAIT_S).valid
            ),
            "the group Empty after its member left",
        )
        assert_deleted(kadmin.delete_groups([group]), group, None)
        assert_deleted(kadmin.delete_groups([group]), group, kafka.errors.GroupIdNotFoundError)
        assert committed_offsets(bs, group, topic_name) == {}, "offsets kept after delete"
    finally:
        kadmin.close()


# ---- static membership (group.instance.id) -----------------------------------------------------


def test_static_member_restart_keeps_the_other_members_assignment(
    broker: BrokerProcess, topic_name: str, members: Members
) -> None:
    """KIP-345: a static member that comes back within its session timeout gets its old
    assignment back, and the other members are not rebalanced."""
    bs = broker.bootstrap
    create_topic(bs, topic_name, PARTITIONS)
    group = group_id()
    a = members.start("confluent", bs, topic_name, group, **{"group.instance.id": "a"})
    wait_owns_all(a, "the first static member owns every partition")
    b = members.start("confluent", bs, topic_name, group, **{"group.instance.id": "b"})
    a_parts, _b_parts = wait_split([a, b], "two static members split the partitions")
    b_history = list(b.assignments)
    a.kill()  # a static member's session outlives its process
    a2 = members.start("confluent", bs, topic_name, group, **{"group.instance.id": "a"})
    wait_until(
        lambda: a2.assignment, lambda: f"the restarted static member's assignment ({a2.describe()})"
    )
    sent = spread("s", 8)
    produce("confluent", bs, topic_name, sent)
    wait_consumed([a2, b], values(sent), "after the static member came back")
    assert a2.assignment == a_parts, a2.describe()
    assert b.assignments == b_history, (
        f"the other member was rebalanced: {b_history} -> {b.assignments}"
    )


def test_duplicate_instance_id_fences_the_first_member(
    broker: BrokerProcess, topic_name: str, members: Members
) -> None:
    bs = broker.bootstrap
    create_topic(bs, topic_name, PARTITIONS)
    group = group_id()
    first = members.start("confluent", bs, topic_name, group, **{"group.instance.id": "dup"})
    wait_owns_all(first, "the first static member")
    second = members.start("confluent", bs, topic_name, group, **{"group.instance.id": "dup"})
    wait_until(
        lambda: first.fatal,
        lambda: f"FENCED_INSTANCE_ID as a fatal error for the first member ({first.describe()})",
    )
    # librdkafka raises _FATAL (-150) carrying the broker's FENCED_INSTANCE_ID (82) text.
    assert "fenced by other consumer with same group.instance.id" in first.fatal[0], first.fatal
    wait_owns_all(second, "the member that fenced it")
