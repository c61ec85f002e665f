"""kcat 1.7.1 (Debian; librdkafka 2.0.2) against a real broker: -L, -P, -C.

kcat's old librdkafka enables features only when specific API versions fall inside the
broker's advertised ranges (Produce 0 for gzip/snappy/lz4, 7 + Fetch 10 for zstd, ...), and
it speaks Metadata v4, Produce v7, Fetch v11, ListOffsets v2. kcat is installed by
``make system-deps``; a missing kcat fails these tests (see ``kcat_path``).

The scenarios every client runs the same way are in test_clients.py, parametrized over the
clients, where kcat reads back what the others produce. kcat produces here, through its own
command lines: it cannot set timestamps or send an empty value (see ``kcat_produce``).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.support.broker_process import BrokerProcess
from tests.support.clients import (
    CLIENTS,
    CODEC_IDS,
    CODECS,
    CREATE_TIME,
    LOG_APPEND_TIME,
    WAIT_S,
    ProduceOptions,
    Record,
    assert_round_trip,
    consume_all,
    create_topic,
    high_watermark,
    kcat,
    kcat_consume,
    kcat_path,
    now_ms,
    produce,
    stored_batch_codecs,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def topic_name(topic_name: str) -> str:
    """Prefixed: the shared fixture derives names from test names, which repeat per client."""
    return "kcat-" + topic_name


ME = "kcat"


def kcat_records() -> list[Record]:
    """What kcat can produce: no timestamps, no empty values, keys as command-line text."""
    return [
        Record(b"value-0", b"key-0", (("h", b"v"),)),
        Record(b"null key", None),
        Record(None, b"tombstone"),
        Record(bytes(range(256)) * 4, b"binary value"),
        Record(b"headers", b"hdrs", (("dup", b"1"), ("dup", b"2"), ("empty", b""), ("k", b"v"))),
        Record(b"p1", b"p1", partition=1),
    ]


def json_lines(stdout: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.decode().splitlines()]


def test_kcat_is_installed() -> None:
    assert "1.7" in subprocess.run([kcat_path(), "-V"], capture_output=True, text=True).stdout


def test_metadata_json(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name, partitions=3)
    (doc,) = json_lines(kcat(broker.bootstrap, "-L", "-J", "-t", topic_name).stdout)
    assert doc["brokers"] == [{"id": 0, "name": broker.bootstrap}]
    assert doc["controllerid"] == 0
    (topic,) = doc["topics"]
    assert topic["topic"] == topic_name
    assert "error" not in topic, topic
    assert [
        (p["partition"], p["leader"], p["replicas"], p["isrs"]) for p in topic["partitions"]
    ] == [(p, 0, [{"id": 0}], [{"id": 0}]) for p in range(3)]
    # all topics (a null topic array)
    (everything,) = json_lines(kcat(broker.bootstrap, "-L", "-J").stdout)
    assert topic_name in {t["topic"] for t in everything["topics"]}


def test_unknown_topic_without_auto_create(fresh_broker: BrokerProcess) -> None:
    fresh_broker.settings["auto.create.topics.enable"] = "false"
    fresh_broker.start()
    b = fresh_broker.bootstrap
    (doc,) = json_lines(kcat(b, "-L", "-J", "-t", "no-such-topic").stdout)
    (topic,) = doc["topics"]
    assert topic["error"] == "Broker: Unknown topic or partition", topic
    done = kcat(
        b, "-P", "-t", "no-such-topic", "-X", "message.timeout.ms=3000", stdin=b"x\n", check=False
    )
    # librdkafka 2.0.2 keeps waiting for the topic to appear until the message times out
    assert done.returncode != 0
    assert b"Delivery failed" in done.stderr, done.stderr
    (doc,) = json_lines(kcat(b, "-L", "-J").stdout)  # and the broker did not create it
    assert doc["topics"] == []


@pytest.mark.parametrize("consumer", CLIENTS)
def test_round_trip(broker: BrokerProcess, topic_name: str, consumer: str) -> None:
    create_topic(broker.bootstrap, topic_name, partitions=2)
    sent = kcat_records()
    before = now_ms()
    produce(ME, broker.bootstrap, topic_name, sent)
    after = now_ms()
    got = consume_all(consumer, broker.bootstrap, topic_name, sent)
    assert_round_trip(sent, got, exact_ts=False)  # kcat cannot set timestamps: librdkafka does
    for g in got:
        assert before <= g.timestamp_ms <= after, (before, g, after)


def test_produce_lines_with_key_delimiter_and_headers(
    broker: BrokerProcess, topic_name: str
) -> None:
    create_topic(broker.bootstrap, topic_name)
    kcat(
        broker.bootstrap,
        "-P",
        "-t",
        topic_name,
        "-K",
        ":",
        "-Z",
        "-H",
        "a=1",
        "-H",
        "b=",
        stdin=b"k1:v1\nk2:v:with:colons\n:null key\nk3:\n",
    )
    got = consume_all("confluent", broker.bootstrap, topic_name, [Record(b"")] * 4)
    headers = (("a", b"1"), ("b", b""))
    assert [(g.offset, g.key, g.value, g.headers, g.timestamp_type) for g in got] == [
        (0, b"k1", b"v1", headers, CREATE_TIME),
        (1, b"k2", b"v:with:colons", headers, CREATE_TIME),
        (2, None, b"null key", headers, CREATE_TIME),  # -Z: empty key is NULL
        (3, b"k3", None, headers, CREATE_TIME),  # -Z: empty value is a tombstone
    ]


@pytest.mark.parametrize("codec", CODECS)
def test_compressed_produce(broker: BrokerProcess, topic_name: str, codec: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    lines = [b"compressible line %d " % i + b"x" * 200 for i in range(50)]
    args = ["-P", "-t", topic_name, "-K", ":", "-X", "linger.ms=50"]
    if codec != "none":
        args += ["-z", codec]
    kcat(broker.bootstrap, *args, stdin=b"".join(b"k%d:%s\n" % (i, v) for i, v in enumerate(lines)))
    # kcat's librdkafka silently sends uncompressed batches when the advertised API
    # versions lack what it needs for a codec: check what the broker stored.
    codecs = stored_batch_codecs(broker.data_dir / "logs", topic_name)
    assert codecs and set(codecs) == {CODEC_IDS[codec]}, codecs
    sent = [Record(v, b"k%d" % i) for i, v in enumerate(lines)]
    assert_round_trip(sent, consume_all(ME, broker.bootstrap, topic_name, sent), exact_ts=False)
    assert_round_trip(
        sent, consume_all("confluent", broker.bootstrap, topic_name, sent), exact_ts=False
    )


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_produce_with_acks(broker: BrokerProcess, topic_name: str, acks: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    kcat(
        broker.bootstrap,
        "-P",
        "-t",
        topic_name,
        "-X",
        f"acks={acks}",
        stdin=b"".join(b"v%d\n" % i for i in range(20)),
    )
    wait_until(lambda: high_watermark(broker.bootstrap, topic_name) == 20, "high watermark 20")
    got = kcat_consume(broker.bootstrap, topic_name, 0, "earliest", 20)
    assert [(g.offset, g.value) for g in got] == [(i, b"v%d" % i) for i in range(20)]


def test_consume_offsets(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    base = now_ms() - 100_000
    produce(
        "confluent",
        broker.bootstrap,
        topic_name,
        [Record(b"v%d" % i, timestamp_ms=base + 1000 * i) for i in range(10)],
    )

    def offsets(*args: str) -> list[int]:
        out = kcat(broker.bootstrap, "-C", "-t", topic_name, "-p", "0", "-e", "-f", "%o\\n", *args)
        return [int(x) for x in out.stdout.split()]

    assert offsets("-o", "beginning") == list(range(10))
    assert offsets("-o", "end") == []  # -e: exits at the end, nothing new
    assert offsets("-o", "4") == list(range(4, 10))
    assert offsets("-o", "-3") == [7, 8, 9]
    assert offsets("-o", f"s@{base + 4500}") == list(range(5, 10))
    assert offsets("-o", f"s@{base}") == list(range(10))


def test_consume_empty_partition_exits_at_end(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    done = kcat(broker.bootstrap, "-C", "-t", topic_name, "-o", "beginning", "-e", "-J")
    assert done.stdout == b""
    assert b"Reached end of topic" in done.stderr, done.stderr


def test_format_and_json_output(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    ts = now_ms() - 5000
    produce(
        "confluent",
        broker.bootstrap,
        topic_name,
        [
            Record(b"hello", b"k", (("h1", b"a"), ("h2", b"b")), ts),
            Record(b"bye", None, (), ts + 1),
        ],
    )
    fmt = kcat(
        broker.bootstrap,
        "-C",
        "-t",
        topic_name,
        "-o",
        "beginning",
        "-e",
        "-f",
        "%t|%p|%o|%K|%k|%S|%s|%T|%h\\n",
    ).stdout
    assert fmt.decode().splitlines() == [
        f"{topic_name}|0|0|1|k|5|hello|{ts}|h1=a,h2=b",
        f"{topic_name}|0|1|-1||3|bye|{ts + 1}|",
    ]
    docs = json_lines(
        kcat(broker.bootstrap, "-C", "-t", topic_name, "-o", "beginning", "-e", "-J").stdout
    )
    assert [
        (
            d["topic"],
            d["partition"],
            d["offset"],
            d["tstype"],
            d["ts"],
            d["key"],
            d["payload"],
            d.get("headers"),
        )
        for d in docs
    ] == [
        (topic_name, 0, 0, "create", ts, "k", "hello", ["h1", "a", "h2", "b"]),
        (topic_name, 0, 1, "create", ts + 1, None, "bye", None),
    ]


def test_consumer_waits_for_a_record_produced_later(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce("confluent", broker.bootstrap, topic_name, [Record(b"old")] * 3)
    # Start at offset 3, the end: whether kcat's first fetch comes before or after the
    # produce below, the record at offset 3 is the one it must print.
    proc = subprocess.Popen(
        [
            kcat_path(),
            "-b",
            broker.bootstrap,
            "-C",
            "-t",
            topic_name,
            "-p",
            "0",
            "-o",
            "3",
            "-c",
            "1",
            "-f",
            "%o %s\\n",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        produce("confluent", broker.bootstrap, topic_name, [Record(b"new")])
        out, err = proc.communicate(timeout=WAIT_S)
    finally:
        proc.kill()
    assert (proc.returncode, out) == (0, b"3 new\n"), err


def test_out_of_range_offset_resets(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce("confluent", broker.bootstrap, topic_name, [Record(b"v%d" % i) for i in range(3)])
    got = kcat_consume(broker.bootstrap, topic_name, 0, 100, 3, "-X", "auto.offset.reset=earliest")
    assert [(g.offset, g.value) for g in got] == [(0, b"v0"), (1, b"v1"), (2, b"v2")]


def test_log_append_time(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name, config={"message.timestamp.type": "LogAppendTime"})
    before = now_ms()
    produce(ME, broker.bootstrap, topic_name, [Record(b"a"), Record(b"b")], ProduceOptions())
    after = now_ms()
    got = kcat_consume(broker.bootstrap, topic_name, 0, "earliest", 2)
    assert [g.value for g in got] == [b"a", b"b"]
    for g in got:
        assert g.timestamp_type == LOG_APPEND_TIME, g
        assert before <= g.timestamp_ms <= after, (before, g, after)


def test_oversized_record_is_rejected(fresh_broker: BrokerProcess) -> None:
    fresh_broker.settings["message.max.bytes"] = "10000"
    fresh_broker.start()
    create_topic(fresh_broker.bootstrap, "limited")
    done = kcat(fresh_broker.bootstrap, "-P", "-t", "limited", stdin=b"y" * 20_000, check=False)
    assert done.returncode != 0
    assert b"too large" in done.stderr.lower(), done.stderr
    assert high_watermark(fresh_broker.bootstrap, "limited") == 0
