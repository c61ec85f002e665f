"""The four real Kafka clients, driven the same way against a Riverhead broker.

Tests produce :class:`Record` values and read back :class:`Consumed` values with
:func:`produce` and :func:`consume`, whichever client (``CLIENTS``) does either side, so a
record produced by kcat can be compared byte for byte with what confluent-kafka reads.

* Consumers are assign-only: the broker does not implement the group APIs yet
  (FindCoordinator/JoinGroup are not advertised). confluent-kafka still gets a
  ``group.id`` because librdkafka wants one for some calls; kafka-python and aiokafka run
  with ``group_id=None``.
* Every wait is bounded by a deadline (:data:`WAIT_S`) and fails with what it waited for;
  nothing sleeps to let something happen, and nothing asserts on elapsed time.
* A produce that the broker rejects raises :class:`ProduceFailed` carrying the Kafka error
  code the client reported, so tests assert on codes (:class:`Err`) across clients.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from pathlib import Path
from typing import Any, TypeVar

import aiokafka
import aiokafka.errors
import confluent_kafka
import kafka
import kafka.errors
from aiokafka.admin import AIOKafkaAdminClient
from confluent_kafka.admin import AdminClient, NewTopic

WAIT_S = 15.0
"""Upper bound of every wait in the integration tests (a deadline, not an expectation)."""

CLIENTS = ("confluent", "kafka-python", "aiokafka", "kcat")
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
CREATE_TIME = "CreateTime"
LOG_APPEND_TIME = "LogAppendTime"

# Where a consumer starts: an absolute offset, or one of these.
EARLIEST = "earliest"
LATEST = "latest"
Start = int | str

T = TypeVar("T")


class Err(IntEnum):
    """The Kafka error codes these tests expect brokers to return."""

    NONE = 0
    OFFSET_OUT_OF_RANGE = 1
    UNKNOWN_TOPIC_OR_PARTITION = 3
    MESSAGE_TOO_LARGE = 10
    INVALID_TOPIC_EXCEPTION = 17
    TOPIC_ALREADY_EXISTS = 36
    INVALID_PARTITIONS = 37
    INVALID_REPLICATION_FACTOR = 38
    INVALID_CONFIG = 40


# librdkafka's local error for "the broker's metadata says this topic does not exist".
RD_UNKNOWN_TOPIC = confluent_kafka.KafkaError._UNKNOWN_TOPIC


@dataclass(frozen=True)
class Record:
    """One record as a producer sends it. ``timestamp_ms=None`` lets the client stamp it."""

    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None
    partition: int = 0


@dataclass(frozen=True)
class Consumed:
    """One record as a consumer read it back."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int
    timestamp_type: str

    def as_record(self) -> Record:
        return Record(self.value, self.key, self.headers, self.timestamp_ms, self.partition)


@dataclass
class ProduceFailed(Exception):
    """The client reported a failed produce; ``code`` is the Kafka (or librdkafka) error code."""

    client: str
    code: int
    detail: str = field(default="")

    def __str__(self) -> str:
        return f"{self.client} produce failed with error {self.code}: {self.detail}"


@dataclass
class ConsumeFailed(Exception):
    """The consumer surfaced an error; ``code`` is the Kafka (or librdkafka) error code."""

    client: str
    code: int
    detail: str = field(default="")

    def __str__(self) -> str:
        return f"{self.client} consume failed with error {self.code}: {self.detail}"


# ---- waiting -------------------------------------------------------------------------------


class Deadline:
    def __init__(self, seconds: float = WAIT_S) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end


def wait_until(
    probe: Callable[[], T],
    what: str | Callable[[], str],
    timeout: float = WAIT_S,
    interval: float = 0.05,
) -> T:
    """Call ``probe`` until it returns something truthy; fail naming ``what`` at the deadline
    (a callable ``what`` is called then, so it describes the state at the deadline)."""
    deadline = Deadline(timeout)
    last: Any = None
    while True:
        last = probe()
        if last:
            return last
        if deadline.expired():
            text = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {text} (last: {last!r})")
        time.sleep(interval)


# ---- sample data ---------------------------------------------------------------------------


def now_ms() -> int:
    return int(time.time() * 1000)


def sample_records(base_ts: int | None = None) -> list[Record]:
    """Records covering the shapes a broker must carry untouched, over partitions 0 and 1.

    Keys and values: set, null key, tombstone (null value), empty value, empty key, every
    byte value, a 64 KiB value. Headers: none, one, repeated names, empty value, binary value,
    non-ASCII name. Timestamps are set by the producer (CreateTime), distinct per record and
    deliberately not monotonic.
    """
    base = now_ms() - 60_000 if base_ts is None else base_ts
    rnd = random.Random(20261126)
    every_byte = bytes(range(256))
    records = [
        Record(b"value-0", b"key-0", (("h", b"v"),)),
        Record(b"null key", None),
        Record(None, b"tombstone"),
        Record(b"", b"empty value"),
        Record(b"empty key", b""),
        Record(every_byte[::-1] * 4, every_byte),
        Record(
            b"headers",
            b"hdrs",
            (
                ("dup", b"1"),
                ("dup", b"2"),
                ("empty", b""),
                ("bin", b"\x01\xff\x80\x7f"),  # no NUL: kcat prints header values as C strings
                ("ключ", "значение".encode()),
            ),
        ),
        Record(rnd.randbytes(65_536), b"large"),
        Record(b"p1-a", b"p1", (("p", b"1"),), partition=1),
        Record(None, b"", partition=1),  # null value, empty key (both null: kafka-python refuses)
        Record(b"p1-c", b"p1", partition=1),
    ]
    offsets = [0, 5, 3, 9, 1, 2, 8, 4, 7, 6, 10]  # not monotonic on purpose
    return [
        replace(r, timestamp_ms=base + 1000 * o + 7) for r, o in zip(records, offsets, strict=True)
    ]


def numbered(count: int, partition: int = 0, prefix: str = "r", **kw: Any) -> list[Record]:
    """``count`` small keyed records ``<prefix>-<i>``."""
    return [
        Record(f"{prefix}-{i}".encode(), f"k{i}".encode(), partition=partition, **kw)
        for i in range(count)
    ]


def time_lookup_case(base: int) -> tuple[list[Record], dict[int, int], int]:
    """Records to look up by time, the queries with the offset each must find, and a miss.

    The records are stamped out of order on purpose: a query finds the first offset whose
    timestamp is >= its target. The last value is a timestamp past every record.
    """
    stamps = [0, 3000, 1000, 2000, 4000]
    sent = [Record(f"t{d}".encode(), timestamp_ms=base + d) for d in stamps]
    queries = {base - 5: 0, base: 0, base + 1: 1, base + 1500: 1, base + 3500: 4, base + 4000: 4}
    return sent, queries, base + 4001


def by_partition(records: Iterable[Record]) -> dict[int, list[Record]]:
    out: dict[int, list[Record]] = {}
    for r in records:
        out.setdefault(r.partition, []).append(r)
    return out


def assert_round_trip(
    sent: Sequence[Record], got: Sequence[Consumed], *, exact_ts: bool = True
) -> None:
    """Per partition, ``got`` is ``sent`` in order, at dense offsets, byte for byte."""
    got_by_p: dict[int, list[Consumed]] = {}
    for c in got:
        got_by_p.setdefault(c.partition, []).append(c)
    sent_by_p = by_partition(sent)
    assert sorted(got_by_p) == sorted(sent_by_p), "partitions differ"
    for p, expected in sent_by_p.items():
        records = sorted(got_by_p[p], key=lambda c: c.offset)
        first = records[0].offset
        assert [c.offset for c in records] == list(range(first, first + len(records))), (
            f"partition {p}: offsets are not dense"
        )
        assert len(records) == len(expected), f"partition {p}: {len(records)} != {len(expected)}"
        for i, (want, have) in enumerate(zip(expected, records, strict=True)):
            where = f"partition {p} record {i} (offset {have.offset})"
            assert have.key == want.key, f"{where}: key {have.key!r:.80} != {want.key!r:.80}"
            assert have.value == want.value, (
                f"{where}: value {have.value!r:.80} != {want.value!r:.80}"
            )
            assert have.headers == want.headers, (
                f"{where}: headers {have.headers} != {want.headers}"
            )
            assert have.timestamp_type == CREATE_TIME, f"{where}: {have.timestamp_type}"
            if exact_ts and want.timestamp_ms is not None:
                assert have.timestamp_ms == want.timestamp_ms, f"{where}: timestamp"


# ---- topics (through confluent-kafka's admin client: the reference client) ----------------


def create_topic(
    bootstrap: str, topic: str, partitions: int = 1, config: Mapping[str, str] | None = None
) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(topic, partitions, 1, config=dict(config or {}))],
        operation_timeout=WAIT_S,
        request_timeout=WAIT_S,
    )
    futures[topic].result(WAIT_S)


def topic_partitions(client: str, bootstrap: str, topic: str) -> list[int]:
    """The partition ids ``client``'s own metadata API reports for ``topic`` (which must exist)."""
    if client == "confluent":
        md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=WAIT_S)
        assert md.topics[topic].error is None, md.topics[topic].error
        return sorted(md.topics[topic].partitions)
    if client == "kafka-python":
        with KpConsumer(bootstrap) as c:
            found = c.consumer.partitions_for_topic(topic)
        assert found is not None, f"kafka-python does not know topic {topic}"
        return sorted(found)
    if client == "aiokafka":

        async def describe() -> list[int]:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                (described,) = await admin.describe_topics([topic])
                assert described["error_code"] == 0, described
                return sorted(p["partition"] for p in described["partitions"])
            finally:
                await admin.close()

        return asyncio.run(describe())
    raise ValueError(client)


# ---- produce -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProduceOptions:
    """Producer settings every client maps to its own names.

    ``idempotent=None`` keeps the client's default (kafka-python: idempotent when acks=all;
    the others: not idempotent). ``max_request_bytes`` raises the client's own size limit so
    an oversized record reaches the broker.
    """

    acks: str = "all"  # "0", "1" or "all"
    compression: str = "none"
    idempotent: bool | None = None
    max_request_bytes: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def produce(
    client: str,
    bootstrap: str,
    topic: str,
    records: Sequence[Record],
    opts: ProduceOptions | None = None,
) -> list[tuple[int, int]]:
    """Produce ``records`` in order; return ``(partition, offset)`` per record.

    With acks=0 the offsets are ``-1`` (no response). Raises :class:`ProduceFailed`.
    """
    opts = opts or ProduceOptions()
    if client == "confluent":
        return ck_produce(bootstrap, topic, records, opts)
    if client == "kafka-python":
        return kp_produce(bootstrap, topic, records, opts)
    if client == "aiokafka":
        return asyncio.run(aio_produce(bootstrap, topic, records, opts))
    if client == "kcat":
        return kcat_produce(bootstrap, topic, records, opts)
    raise ValueError(client)


def ck_producer_config(bootstrap: str, opts: ProduceOptions) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "acks": opts.acks,
        "compression.type": opts.compression,
        "linger.ms": 5,
        "message.timeout.ms": int(WAIT_S * 1000),
        "topic.metadata.propagation.max.ms": 1000,
    }
    if opts.idempotent is not None:
        conf["enable.idempotence"] = opts.idempotent
    if opts.max_request_bytes is not None:
        conf["message.max.bytes"] = opts.max_request_bytes
    conf.update(opts.extra)
    return conf


def ck_produce(
    bootstrap: str, topic: str, records: Sequence[Record], opts: ProduceOptions
) -> list[tuple[int, int]]:
    producer = confluent_kafka.Producer(ck_producer_config(bootstrap, opts))
    results: list[Any] = [None] * len(records)

    def delivered(i: int) -> Callable[[Any, Any], None]:
        def cb(err: Any, msg: Any) -> None:
            results[i] = err if err is not None else (msg.partition(), msg.offset())

        return cb

    for i, r in enumerate(records):
        producer.produce(
            topic,
            value=r.value,
            key=r.key,
            partition=r.partition,
            timestamp=r.timestamp_ms or 0,
            headers=list(r.headers) or None,
            on_delivery=delivered(i),
        )
        producer.poll(0)
    left = producer.flush(WAIT_S)
    assert left == 0, f"confluent-kafka: {left} records undelivered after {WAIT_S}s"
    for res in results:
        if isinstance(res, confluent_kafka.KafkaError):
            raise ProduceFailed("confluent", res.code(), f"{res.name()}: {res.str()}")
    return [(-1, -1) if opts.acks == "0" and r is not None else r for r in results]


def kp_producer(bootstrap: str, opts: ProduceOptions) -> kafka.KafkaProducer:
    conf: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "acks": "all" if opts.acks == "all" else int(opts.acks),
        "compression_type": None if opts.compression == "none" else opts.compression,
        "linger_ms": 5,
        "max_block_ms": int(WAIT_S * 1000),
        "request_timeout_ms": int(WAIT_S * 1000),
        "retries": 2,
    }
    # kafka-python 3 defaults to idempotence, which requires acks=all.
    conf["enable_idempotence"] = (
        opts.idempotent if opts.idempotent is not None else opts.acks == "all"
    )
    if opts.max_request_bytes is not None:
        conf["max_request_size"] = opts.max_request_bytes
    conf.update(opts.extra)
    return kafka.KafkaProducer(**conf)


def kp_produce(
    bootstrap: str, topic: str, records: Sequence[Record], opts: ProduceOptions
) -> list[tuple[int, int]]:
    producer = kp_producer(bootstrap, opts)
    try:
        futures = [
            producer.send(
                topic,
                value=r.value,
                key=r.key,
                headers=list(r.headers) or None,
                partition=r.partition,
                timestamp_ms=r.timestamp_ms,
            )
            for r in records
        ]
        producer.flush(WAIT_S)
        out = []
        for f in futures:
            md = f.get(WAIT_S)
            out.append((md.partition, md.offset))
        return out
    except kafka.errors.KafkaError as exc:
        raise ProduceFailed("kafka-python", getattr(exc, "errno", None) or -1, repr(exc)) from exc
    finally:
        producer.close(WAIT_S)


async def aio_produce(
    bootstrap: str, topic: str, records: Sequence[Record], opts: ProduceOptions
) -> list[tuple[int, int]]:
    conf: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "acks": "all" if opts.acks == "all" else int(opts.acks),
        "compression_type": None if opts.compression == "none" else opts.compression,
        "linger_ms": 5,
        "request_timeout_ms": int(WAIT_S * 1000),
        "enable_idempotence": bool(opts.idempotent),
    }
    if opts.max_request_bytes is not None:
        conf["max_request_size"] = opts.max_request_bytes
    conf.update(opts.extra)
    producer = aiokafka.AIOKafkaProducer(**conf)
    await asyncio.wait_for(producer.start(), WAIT_S)
    try:
        futures = [
            await producer.send(
                topic,
                value=r.value,
                key=r.key,
                headers=list(r.headers) or None,
                partition=r.partition,
                timestamp_ms=r.timestamp_ms,
            )
            for r in records
        ]
        out = []
        for f in futures:
            md = await asyncio.wait_for(f, WAIT_S)
            out.append((-1, -1) if md is None else (md.partition, md.offset))  # None: acks=0
        return out
    except aiokafka.errors.KafkaError as exc:
        raise ProduceFailed("aiokafka", getattr(exc, "errno", None) or -1, repr(exc)) from exc
    finally:
        await producer.stop()


# ---- kcat ----------------------------------------------------------------------------------


def kcat_path() -> str:
    path = shutil.which("kcat")
    assert path, "kcat is not installed: run `make system-deps` (apt-get install kcat)"
    return path


def kcat(
    bootstrap: str,
    *args: str,
    stdin: bytes | None = None,
    timeout: float = WAIT_S,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    try:
        done = subprocess.run(
            [kcat_path(), "-b", bootstrap, "-m", "10", *args],
            input=stdin,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-600:].decode(errors="replace")
        raise AssertionError(
            f"kcat {' '.join(args)} still running after {timeout}s: {tail}"
        ) from None
    if check:
        assert done.returncode == 0, (
            f"kcat {' '.join(args)} exited {done.returncode}: {done.stderr!r}"
        )
    return done


def kcat_produce(
    bootstrap: str, topic: str, records: Sequence[Record], opts: ProduceOptions
) -> list[tuple[int, int]]:
    """One ``kcat -P`` run per record (kcat cannot vary headers or null-ness within a run).

    A value goes through a file (``kcat -P file``: the file is one message, any bytes); a
    tombstone goes through stdin with ``-Z -K`` (an empty value after the key delimiter is
    sent as NULL). kcat cannot set timestamps (librdkafka stamps CreateTime), cannot send an
    empty value, takes the key as a command-line string, and reports no offsets: offsets
    are returned as ``-1``.
    """
    for r in records:
        assert r.timestamp_ms is None, "kcat cannot set record timestamps"
        assert r.value != b"", "kcat cannot send an empty value"
        args = ["-P", "-t", topic, "-p", str(r.partition), "-X", f"acks={opts.acks}"]
        if opts.compression != "none":
            args += ["-z", opts.compression]
        for k, v in opts.extra.items():
            args += ["-X", f"{k}={v}"]
        for name, value in r.headers:
            args += ["-H", f"{name}={value.decode()}"]
        if r.value is None:
            stdin = (r.key or b"") + b"\x1f"
            kcat(bootstrap, *args, "-Z", "-K", "\\x1f", stdin=stdin)
            continue
        if r.key is not None:
            args += ["-k", r.key.decode()]
        with tempfile.NamedTemporaryFile(prefix="kcat-value-") as f:
            f.write(r.value)
            f.flush()
            kcat(bootstrap, *args, f.name)
    return [(-1, -1)] * len(records)


def kcat_consume(
    bootstrap: str, topic: str, partition: int, start: Start, count: int, *extra: str
) -> list[Consumed]:
    """Read ``count`` records of one partition with ``kcat -C -e``, byte-exact.

    ``-f`` with length fields gives exact key/value bytes; a ``-J`` pass gives the
    timestamp type, which ``-f`` has no token for.
    """
    offset = {EARLIEST: "beginning", LATEST: "end"}.get(str(start), str(start))
    base = ["-C", "-t", topic, "-p", str(partition), "-o", offset, "-e", "-c", str(count), *extra]
    raw = kcat(bootstrap, *base, "-f", "%p %o %T %K %S\\n%k%s\\n%h\\n").stdout
    types = {}
    for line in kcat(bootstrap, *base, "-J").stdout.splitlines():
        doc = json.loads(line.decode("utf-8", "replace"))  # binary keys/values are lossy here
        types[doc["offset"]] = {"create": CREATE_TIME, "logappend": LOG_APPEND_TIME}.get(
            doc["tstype"], doc["tstype"]
        )
    out = []
    pos = 0
    while pos < len(raw):
        nl = raw.index(b"\n", pos)
        p, o, ts, klen, vlen = (int(x) for x in raw[pos:nl].split())
        pos = nl + 1
        key = None if klen < 0 else raw[pos : pos + klen]
        pos += max(klen, 0)
        value = None if vlen < 0 else raw[pos : pos + vlen]
        pos += max(vlen, 0)
        assert raw[pos : pos + 1] == b"\n", f"kcat output misparsed at byte {pos}"
        nl = raw.index(b"\n", pos + 1)
        headers = _kcat_headers(raw[pos + 1 : nl])
        pos = nl + 1
        out.append(Consumed(p, o, key, value, headers, ts, types.get(o, "?")))
    return out


def _kcat_headers(text: bytes) -> tuple[tuple[str, bytes], ...]:
    if not text:
        return ()
    pairs = []
    for item in text.split(b","):
        name, _, value = item.partition(b"=")
        pairs.append((name.decode(), value))
    return tuple(pairs)


# ---- consume -------------------------------------------------------------------------------


def consume(
    client: str,
    bootstrap: str,
    topic: str,
    starts: Mapping[int, Start],
    count: int,
    timeout: float = WAIT_S,
) -> list[Consumed]:
    """Assign the partitions in ``starts``, read until ``count`` records or the deadline."""
    if client == "confluent":
        with CkConsumer(bootstrap) as c:
            c.assign(topic, starts)
            return c.read(count, timeout)
    if client == "kafka-python":
        with KpConsumer(bootstrap) as c:
            c.assign(topic, starts)
            return c.read(count, timeout)
    if client == "aiokafka":
        return asyncio.run(aio_consume(bootstrap, topic, starts, count, timeout))
    if client == "kcat":
        out: list[Consumed] = []
        for p, start in starts.items():
            out += kcat_consume(bootstrap, topic, p, start, count)
        return out
    raise ValueError(client)


def consume_all(client: str, bootstrap: str, topic: str, sent: Sequence[Record]) -> list[Consumed]:
    """Read back, from the beginning, as many records per partition as were ``sent``."""
    counts = {p: len(rs) for p, rs in by_partition(sent).items()}
    if client == "kcat":  # kcat -c counts per run, so run it per partition
        return [
            c for p, n in counts.items() for c in kcat_consume(bootstrap, topic, p, EARLIEST, n)
        ]
    return consume(client, bootstrap, topic, dict.fromkeys(counts, EARLIEST), sum(counts.values()))


class CkConsumer:
    """An assign-only confluent-kafka consumer."""

    def __init__(self, bootstrap: str, **config: Any) -> None:
        conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "group.id": "riverhead-tests",  # librdkafka wants one; no group API is used
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
            "enable.partition.eof": True,  # tells a test when the fetcher reached the end
        }
        conf.update(config)
        self.consumer = confluent_kafka.Consumer(conf)

    def __enter__(self) -> CkConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.consumer.close()

    def assign(self, topic: str, starts: Mapping[int, Start]) -> None:
        special = {EARLIEST: confluent_kafka.OFFSET_BEGINNING, LATEST: confluent_kafka.OFFSET_END}
        self.consumer.assign(
            [
                confluent_kafka.TopicPartition(topic, p, special.get(str(s), s))  # type: ignore[arg-type]
                for p, s in starts.items()
            ]
        )

    def read(self, count: int, timeout: float = WAIT_S) -> list[Consumed]:
        out: list[Consumed] = []
        deadline = Deadline(timeout)
        while len(out) < count and not deadline.expired():
            for msg in self.consumer.consume(count - len(out), min(0.2, deadline.remaining())):
                err = msg.error()
                if err is not None:
                    if err.code() == confluent_kafka.KafkaError._PARTITION_EOF:
                        continue
                    raise ConsumeFailed("confluent", err.code(), f"{err.name()}: {err.str()}")
                out.append(ck_consumed(msg))
        return out

    def wait_for_end(self, partition: int, timeout: float = WAIT_S) -> int:
        """Poll until the fetcher reports reaching the end of ``partition``; return that offset.

        Consumes nothing: call it before any record is expected (it fails on a record).
        """
        deadline = Deadline(timeout)
        while not deadline.expired():
            for msg in self.consumer.consume(1, min(0.2, deadline.remaining())):
                err = msg.error()
                if err is None:
                    raise AssertionError(f"unexpected record at offset {msg.offset()}")
                if err.code() != confluent_kafka.KafkaError._PARTITION_EOF:
                    raise ConsumeFailed("confluent", err.code(), f"{err.name()}: {err.str()}")
                if msg.partition() == partition:
                    return int(msg.offset())
        raise AssertionError(f"no end-of-partition event for partition {partition} in {timeout}s")


def ck_consumed(msg: Any) -> Consumed:
    ts_type, ts = msg.timestamp()
    types = {
        confluent_kafka.TIMESTAMP_CREATE_TIME: CREATE_TIME,
        confluent_kafka.TIMESTAMP_LOG_APPEND_TIME: LOG_APPEND_TIME,
    }
    return Consumed(
        msg.partition(),
        msg.offset(),
        msg.key(),
        msg.value(),
        tuple(msg.headers() or ()),
        ts,
        types.get(ts_type, f"type {ts_type}"),
    )


class KpConsumer:
    """An assign-only kafka-python consumer (``group_id=None``)."""

    def __init__(self, bootstrap: str, **config: Any) -> None:
        conf: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "group_id": None,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "fetch_max_wait_ms": 100,
            "request_timeout_ms": int(WAIT_S * 1000) + 1000,
        }
        conf.update(config)
        self.consumer = kafka.KafkaConsumer(**conf)

    def __enter__(self) -> KpConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.consumer.close()

    def assign(self, topic: str, starts: Mapping[int, Start]) -> None:
        tps = {p: kafka.TopicPartition(topic, p) for p in starts}
        self.consumer.assign(list(tps.values()))
        for p, start in starts.items():
            if start == EARLIEST:
                self.consumer.seek_to_beginning(tps[p])
            elif start == LATEST:
                self.consumer.seek_to_end(tps[p])
            else:
                self.consumer.seek(tps[p], int(start))

    def read(self, count: int, timeout: float = WAIT_S) -> list[Consumed]:
        out: list[Consumed] = []
        deadline = Deadline(timeout)
        while len(out) < count and not deadline.expired():
            batch = self.consumer.poll(timeout_ms=200, max_records=count - len(out))
            for records in batch.values():
                out += [kp_consumed(r) for r in records]
        return out


def kp_consumed(r: Any) -> Consumed:
    return Consumed(
        r.partition,
        r.offset,
        r.key,
        r.value,
        tuple(r.headers or ()),
        r.timestamp,
        LOG_APPEND_TIME if r.timestamp_type == 1 else CREATE_TIME,
    )


def aio_consumer(bootstrap: str, **config: Any) -> aiokafka.AIOKafkaConsumer:
    conf: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": 100,
        "request_timeout_ms": int(WAIT_S * 1000) + 1000,
    }
    conf.update(config)
    return aiokafka.AIOKafkaConsumer(**conf)


async def aio_assign(
    consumer: aiokafka.AIOKafkaConsumer, topic: str, starts: Mapping[int, Start]
) -> None:
    tps = {p: aiokafka.TopicPartition(topic, p) for p in starts}
    consumer.assign(list(tps.values()))
    for p, start in starts.items():
        if start == EARLIEST:
            await consumer.seek_to_beginning(tps[p])
        elif start == LATEST:
            await consumer.seek_to_end(tps[p])
        else:
            consumer.seek(tps[p], int(start))


async def aio_read(
    consumer: aiokafka.AIOKafkaConsumer, count: int, timeout: float = WAIT_S
) -> list[Consumed]:
    out: list[Consumed] = []
    deadline = Deadline(timeout)
    while len(out) < count and not deadline.expired():
        batch = await consumer.getmany(timeout_ms=200, max_records=count - len(out))
        for records in batch.values():
            out += [kp_consumed(r) for r in records]  # same record fields as kafka-python
    return out


async def aio_consume(
    bootstrap: str, topic: str, starts: Mapping[int, Start], count: int, timeout: float = WAIT_S
) -> list[Consumed]:
    consumer = aio_consumer(bootstrap)
    await asyncio.wait_for(consumer.start(), WAIT_S)
    try:
        await aio_assign(consumer, topic, starts)
        return await aio_read(consumer, count, timeout)
    finally:
        await consumer.stop()


# ---- watermarks ----------------------------------------------------------------------------


def ck_watermarks(bootstrap: str, topic: str, partition: int) -> tuple[int, int]:
    with CkConsumer(bootstrap) as c:
        low, high = c.consumer.get_watermark_offsets(
            confluent_kafka.TopicPartition(topic, partition), timeout=WAIT_S, cached=False
        )
        return int(low), int(high)


def high_watermark(bootstrap: str, topic: str, partition: int = 0) -> int:
    return ck_watermarks(bootstrap, topic, partition)[1]


def dense_offsets(records: Sequence[Record], first: int = 0) -> list[tuple[int, int]]:
    """The ``(partition, offset)`` each record gets when appended to empty partitions."""
    seen: dict[int, int] = {}
    out = []
    for r in records:
        out.append((r.partition, first + seen.get(r.partition, 0)))
        seen[r.partition] = seen.get(r.partition, 0) + 1
    return out


# ---- what the broker stored ----------------------------------------------------------------

CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def stored_batch_codecs(log_dir: Path, topic: str, partition: int = 0) -> list[int]:
    """The codec id (attribute bits 0-2) of every record batch in a partition's segments.

    Reads Kafka's on-disk layout (``<log.dirs>/<topic>-<p>/<base offset>.log``, batches back
    to back: baseOffset int64, batchLength int32, ..., attributes int16 at byte 21). It tells
    a compressed batch from one the client silently sent uncompressed, which no consumer
    API shows.
    """
    codecs = []
    for segment in sorted((log_dir / f"{topic}-{partition}").glob("*.log")):
        data = segment.read_bytes()
        pos = 0
        while pos + 23 <= len(data):
            (length,) = struct.unpack_from(">i", data, pos + 8)
            (attributes,) = struct.unpack_from(">h", data, pos + 21)
            codecs.append(attributes & 0x07)
            pos += 12 + length
    return codecs
