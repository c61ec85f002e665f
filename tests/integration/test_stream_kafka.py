"""Kafka-to-Kafka topologies in one process (LocalRunner) against the real broker:
exact word counts, offsets committed only after the output is durable, dead letters,
headers passing through. The helpers here (topics, produce, read back, committed
offsets) are shared with test_stream_workers."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from riverhead.stream import Bolt, KafkaBolt, KafkaSpout, LocalRunner, Topology, Tuple
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

WAIT_S = 30.0

# ---- helpers (also used by test_stream_workers) ----------------------------------------


def create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, n, 1) for name, n in topics.items()], operation_timeout=WAIT_S
    )
    for f in futures.values():
        f.result(WAIT_S)


def produce_lines(bootstrap: str, topic: str, lines: Iterable[str], keyed: bool = True) -> int:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    n = 0
    for i, line in enumerate(lines):
        p.produce(topic, value=line.encode(), key=str(i).encode() if keyed else None,
                  headers=[("seq", str(i).encode())])
        n += 1
        if n % 1000 == 0:
            p.poll(0)
    assert p.flush(WAIT_S) == 0
    return n


def read_all(
    bootstrap: str, topic: str, expect: int, timeout: float = WAIT_S, settle: bool = True
) -> list[Any]:
    """Every record of ``topic`` (assign-only, from the start) once at least ``expect`` have
    been read and (``settle``) no more arrive for a moment; raises on timeout with the
    count so far."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader", "enable.auto.commit":
                  False, "enable.partition.eof": False})
    md = c.list_topics(topic, timeout=WAIT_S)
    c.assign([TopicPartition(topic, p, 0) for p in md.topics[topic].partitions])
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    quiet_until = None
    try:
        while time.monotonic() < deadline:
            msgs = c.consume(1000, timeout=0.2)
            good = [m for m in msgs if m.error() is None]
            out.extend(good)
            if good:
                quiet_until = None
            if len(out) >= expect and not settle:
                return out
            if not good and len(out) >= expect:
                quiet_until = quiet_until or time.monotonic() + 0.5
                if time.monotonic() >= quiet_until:
                    return out
        raise AssertionError(f"{topic}: read {len(out)} records, expected >= {expect}")
    finally:
        c.close()


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    md = c.list_topics(topic, timeout=WAIT_S)
    tps = [TopicPartition(topic, p) for p in md.topics[topic].partitions]
    try:
        return {tp.partition: tp.offset for tp in c.committed(tps, timeout=WAIT_S)}
    finally:
        c.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
    md = c.list_topics(topic, timeout=WAIT_S)
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=WAIT_S)[1]
                for p in md.topics[topic].partitions}
    finally:
        c.close()


def json_values(msgs: Iterable[Any]) -> list[Any]:
    return [json.loads(m.value()) for m in msgs]


# ---- tests ----------------------------------------------------------------------------

VOCAB = [
    "the", "cow", "jumped", "over", "moon", "an", "apple", "a", "day", "river", "head", "stream",
]


def sentences(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(1, 8))) for _ in range(n)]


class Split(Bolt):
    outputs = ("word",)

    def process(self, tup: Tuple) -> None:
        for word in tup["value"].split():
            self.emit((word,), anchors=[tup])
        self.ack(tup)


class Count(Bolt):
    outputs = ("word", "count")

    def prepare(self, context: Any) -> None:
        self.counts: dict[str, int] = {}

    def process(self, tup: Tuple) -> None:
        word = tup["word"]
        self.counts[word] = self.counts.get(word, 0) + 1
        self.emit((word, self.counts[word]), anchors=[tup])
        self.ack(tup)


def word_count(src: str, dst: str, group: str, brokers: str) -> Topology:
    t = Topology("kafka-word-count")
    t.spout("sentences", KafkaSpout(src, group, brokers, value_format="string"))
    t.bolt("split", Split(), parallelism=2).shuffle_grouping("sentences")
    t.bolt("count", Count(), parallelism=2).fields_grouping("split", "word")
    t.bolt("out", KafkaBolt(dst, key_field="word")).shuffle_grouping("count")
    return t


def final_counts(records: list[Any]) -> dict[str, int]:
    finals: dict[str, int] = {}
    for rec in records:
        finals[rec["word"]] = max(finals.get(rec["word"], 0), rec["count"])
    return finals


def test_kafka_to_kafka_word_count_is_exact(broker: BrokerProcess, topic_name: str) -> None:
    src, dst, group = f"{topic_name}-in", f"{topic_name}-out", f"{topic_name}-g"
    create_topics(broker.bootstrap, {src: 3, dst: 2})
    lines = sentences(3000)
    produce_lines(broker.bootstrap, src, lines)
    expected = Counter(w for line in lines for w in line.split())
    total = sum(expected.values())

    runner = LocalRunner(
        word_count(src, dst, group, broker.bootstrap), collect=["count"],
        brokers=broker.bootstrap,  # the sink takes its brokers from the run's config
    )
    result = runner.run(
        until_idle=False, timeout=60,
        until=lambda: runner.metrics()["out"].acked >= total,
    )
    assert result.reason == "until", result.reason
    assert (result.acked, result.failed, result.pending) == (3000, 0, 0)
    records = json_values(read_all(broker.bootstrap, dst, total))
    assert len(records) == total
    assert final_counts(records) == dict(expected)
    # Offsets were committed exactly to the end once every tree completed.
    assert committed(broker.bootstrap, group, src) == end_offsets(broker.bootstrap, src)


class Picky(Bolt):
    """Fails tuples whose value contains "poison"; passes the rest with their headers."""

    outputs = ("value", "headers")

    def process(self, tup: Tuple) -> None:
        if "poison" in tup["value"]:
            raise ValueError("poisoned record")
        self.emit((tup["value"].upper(), tup["headers"]), anchors=tup)
        self.ack(tup)


def test_retries_then_dead_letter_with_error_headers(
    broker: BrokerProcess, topic_name: str
) -> None:
    src, dst, group = f"{topic_name}-in", f"{topic_name}-out", f"{topic_name}-g"
    dlq = f"{src}.dead-letter"
    create_topics(broker.bootstrap, {src: 2, dst: 1, dlq: 1})
    lines = [f"line {i}" if i % 10 else f"poison {i}" for i in range(50)]
    produce_lines(broker.bootstrap, src, lines)

    t = Topology("dlq")
    spout = KafkaSpout(src, group, broker.bootstrap, value_format="string", max_retries=2)
    t.spout("in", spout)
    t.bolt("picky", Picky()).shuffle_grouping("in")
    t.bolt("out", KafkaBolt(dst, value_field="value", value_format="string",
                            brokers=broker.bootstrap)).shuffle_grouping("picky")
    runner = LocalRunner(t, collect=False)

    def done() -> bool:
        m = runner.metrics()["in"]
        return m.acked >= 45 and m.extra["dead_lettered"] >= 5

    result = runner.run(until_idle=False, timeout=60, until=done)
    assert result.reason == "until"
    # 5 poisoned records: 1 attempt + 2 retries each, then the dead-letter topic.
    assert result.failed == 15 and result.acked == 45
    assert result.metrics["in"].extra["dead_lettered"] == 5
    out = read_all(broker.bootstrap, dst, 45)
    assert sorted(m.value().decode() for m in out) == sorted(
        line.upper() for line in lines if "poison" not in line)
    # Headers passed through from the input records to the output records.
    assert all(dict(m.headers())["seq"].decode().isdigit() for m in out)
    dead = read_all(broker.bootstrap, dlq, 5)
    assert sorted(m.value().decode() for m in dead) == [f"poison {i}" for i in range(0, 50, 10)]
    h = dict(dead[0].headers())
    assert h["riverhead.error.reason"] == b"error"
    assert b"poisoned record" in h["riverhead.error.message"]
    assert h["riverhead.error.attempts"] == b"3"
    assert h["riverhead.source.topic"] == src.encode()
    assert committed(broker.bootstrap, group, src) == end_offsets(broker.bootstrap, src)


def test_dsl_micro_batches_dead_letter_single_records(
    broker: BrokerProcess, topic_name: str
) -> None:
    """A DSL app reading micro-batches (the default for topics): a record that is not
    JSON is dead-lettered on its own as its batch is cut; a record whose user function
    raises fails its whole batch, which is replayed record by record, so only that
    record goes to the dead-letter topic after its retries. The source's watermark waits
    for records whose trees have not completed, so the replayed records are not late
    (no allowed lateness here): every good record is counted once in its window, and
    offsets commit to the end."""
    from riverhead.stream.aggregations import count
    from riverhead.stream.dsl import App
    from riverhead.stream.windows import tumbling

    src, dst = f"{topic_name}-in", f"{topic_name}-out"
    dlq = f"{src}.dead-letter"
    create_topics(broker.bootstrap, {src: 2, dst: 1, dlq: 1})
    lines = []
    for i in range(400):
        if i % 100 == 7:
            lines.append(f"not json {i}")
        elif i % 100 == 50:
            lines.append(json.dumps({"u": f"u{i % 5}", "ts": i * 10, "price": "bad"}))
        else:
            lines.append(json.dumps({"u": f"u{i % 5}", "ts": i * 10, "price": 1}))
    produce_lines(broker.bootstrap, src, lines)

    app = App("mb-dlq", brokers=broker.bootstrap)
    (app.source(src, name="events", timestamp=lambda e: e["ts"])
        .filter("priced", lambda e: e["price"] >= 0)  # raises on "bad": str >= int
        .key_by("by-user", lambda e: e["u"])
        .window("second", tumbling(seconds=1))
        .aggregate("n", count())
        .to(dst, key=lambda r: f'{r["key"]}@{r["window_start"]}'))
    good = [json.loads(line) for line in lines if line.startswith("{")]
    good = [e for e in good if e["price"] != "bad"]
    expected = Counter(f'{e["u"]}@{e["ts"] - e["ts"] % 1000}' for e in good)

    reader = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "table-reader",
                       "enable.auto.commit": False})
    reader.assign([TopicPartition(dst, 0, 0)])
    table: dict[str, int] = {}
    runner = LocalRunner(app.topology(), collect=False, brokers=broker.bootstrap)
    beat = Producer({"bootstrap.servers": broker.bootstrap})
    sent = []

    def done() -> bool:
        for m in reader.consume(1000, timeout=0):
            if m.error() is None:
                table[m.key().decode()] = json.loads(m.value())["result"]
        if runner.metrics()["events.read"].extra["dead_lettered"] < 8:
            return False
        if not sent:  # time moves on: a far-future event per partition fires every window
            for part in range(2):
                beat.produce(src, value=json.dumps({"u": "end", "ts": 10**9, "price": 0}),
                             partition=part)
            sent.append(beat.flush(WAIT_S))
        return all(table.get(k) == n for k, n in expected.items())

    try:
        result = runner.run(until_idle=False, timeout=90, until=done)
    finally:
        reader.close()
    stats = {c: (m.acked, m.failed, m.extra) for c, m in result.metrics.items()}
    assert result.reason == "until", (result.reason, len(table), len(expected), stats)
    assert {k: table[k] for k in expected} == dict(expected)
    assert result.metrics["events.read"].extra["dead_lettered"] == 8
    assert result.metrics["n"].extra["late"] == 0
    dead = sorted(m.value().decode() for m in read_all(broker.bootstrap, dlq, 8))
    assert dead == sorted(line for line in lines if "not json" in line or '"bad"' in line)
    assert committed(broker.bootstrap, "mb-dlq.events", src) == end_offsets(
        broker.bootstrap, src)
