"""Durability: what a producer was told is stored survives kill -9, corrupt tails and restarts.

Invariants checked after every restart:

* every record whose delivery was acknowledged (acks=all) is served at the offset it was
  acknowledged with, with its value;
* offsets are dense from 0 and never reused: the next produce after a restart gets the
  offset that ended the surviving log;
* a corrupt tail (garbage, a torn batch, a flipped byte) found at an unclean start is cut
  exactly at the last valid batch, and the broker log says where (file and byte position).

A SIGKILL does not lose the page cache, so data ``os.write``-ten before the kill must
survive; only a power loss could lose unflushed bytes, which these tests do not model.
"""

from __future__ import annotations

import datetime
import os
import random
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from riverhead.log.manager import CLEAN_SHUTDOWN_FILE
from riverhead.protocol.records import encode_batch
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient, check_healthy, produce

pytestmark = pytest.mark.integration

_OFF_LEN = struct.Struct(">qi")


# ---- helpers -------------------------------------------------------------------------------


def producer(bootstrap: str, **extra: Any) -> Producer:
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
            "message.timeout.ms": 60000,
            "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200,
            "topic.metadata.refresh.interval.ms": 1000,
            **extra,
        }
    )


def produce_sync(bootstrap: str, topic: str, values: list[bytes]) -> list[int]:
    """Produce ``values`` one batch each (flush after every record); returns their offsets."""
    p = producer(bootstrap, **{"linger.ms": 0})
    offsets: list[int] = []
    errors: list[Any] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(err)
        else:
            offsets.append(msg.offset())

    for value in values:
        p.produce(topic, value, partition=0, on_delivery=on_delivery)
        assert p.flush(30) == 0, "produce not delivered in 30s"
    assert not errors, errors
    return offsets


def consume_all(bootstrap: str, topic: str, timeout: float = 30.0) -> list[tuple[int, bytes]]:
    """Every record of partition 0 from offset 0 to the high watermark, as (offset, value)."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"durability-{topic}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_uncommitted",
        }
    )
    try:
        low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        assert low == 0, f"log start offset {low}, expected 0"
        if high == 0:
            return []
        c.assign([TopicPartition(topic, 0, 0)])
        out: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    if out and out[-1][0] >= high - 1:
                        return out
                    continue
                raise AssertionError(f"consume error: {err}")
            out.append((msg.offset(), msg.value()))
            if msg.offset() >= high - 1:
                return out
        raise AssertionError(f"read {len(out)} records, high watermark {high}, timed out")
    finally:
        c.close()


def assert_dense(records: list[tuple[int, bytes]]) -> None:
    offsets = [o for o, _ in records]
    assert offsets == list(range(len(offsets))), (
        f"offsets not dense from 0: first gap after {_first_gap(offsets)}"
    )


def _first_gap(offsets: list[int]) -> int | None:
    for i, o in enumerate(offsets):
        if o != i:
            return i - 1
    return None


def start(broker: BrokerProcess) -> None:
    """Start (or restart) and fail fast, with the reason, if the broker cannot serve."""
    broker.start()
    check_healthy(broker.bootstrap)


def log_dir(broker: BrokerProcess) -> Path:
    return broker.data_dir / "logs"


def segment_files(broker: BrokerProcess, topic: str) -> list[Path]:
    return sorted((log_dir(broker) / f"{topic}-0").glob("*.log"))


def batch_positions(data: bytes) -> list[tuple[int, int]]:
    """(position, size) of every whole batch in a segment's bytes."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        _, length = _OFF_LEN.unpack_from(data, pos)
        size = length + 12
        if pos + size > len(data):
            break
        out.append((pos, size))
        pos += size
    return out


def new_offset_after_restart(bootstrap: str, topic: str, expected: int) -> None:
    """A fresh producer's first record lands exactly at ``expected`` (offsets not reused)."""
    (offset,) = produce_sync(bootstrap, topic, [b"after-restart"])
    assert offset == expected, f"new record got offset {offset}, expected {expected}"


# ---- kill -9 while producing ---------------------------------------------------------------


class NumberedProducer:
    """Produces b"0", b"1", ... in a thread; records the offset of every acknowledged one."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.acked: dict[int, int] = {}  # value number -> offset
        self.failed: dict[int, str] = {}
        self.fatal: list[str] = []
        self.sent = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._producer = producer(bootstrap, error_cb=self._on_error)
        self._thread = threading.Thread(target=self._run, name="numbered-producer", daemon=True)

    def _on_error(self, err: Any) -> None:
        if err.fatal():
            self.fatal.append(str(err))

    def _on_delivery(self, err: Any, msg: Any) -> None:
        n = int(msg.value())
        with self._lock:
            if err is None:
                self.acked[n] = msg.offset()
            else:
                self.failed[n] = str(err)

    def _run(self) -> None:
        p = self._producer
        while not self._stop.is_set():
            try:
                p.produce(
                    self.topic, str(self.sent).encode(), partition=0, on_delivery=self._on_delivery
                )
                self.sent += 1
            except BufferError:
                p.poll(0.05)
                continue
            p.poll(0)
            if self.sent % 50 == 0:
                time.sleep(0.005)

    def __enter__(self) -> NumberedProducer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def finish(self, timeout: float = 60) -> int:
        self._stop.set()
        self._thread.join()
        return self._producer.flush(timeout)

    def snapshot(self) -> dict[int, int]:
        with self._lock:
            return dict(self.acked)

    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    def wait_acked(self, more_than: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.acked_count() <= more_than:
            assert time.monotonic() < deadline, (
                f"no new acknowledgements in {timeout}s (have {self.acked_count()}; "
                f"failed {len(self.failed)}; fatal {self.fatal})"
            )
            time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("segments", ["default", "small"])
def test_kill9_during_produce_keeps_every_acknowledged_record(
    fresh_broker: BrokerProcess, topic_name: str, segments: str
) -> None:
    if segments == "small":  # crashes land mid-roll: new segments, background flushes
        fresh_broker.settings["log.segment.bytes"] = "4096"
    start(fresh_broker)
    crashes = 3
    with NumberedProducer(fresh_broker.bootstrap, topic_name) as prod:
        for _ in range(crashes):
            before = prod.acked_count()
            prod.wait_acked(before + 200)  # the producer is flowing
            fresh_broker.kill()
            acked_at_kill = prod.snapshot()
            time.sleep(0.2)
            start(fresh_broker)  # same port, same data dir
            prod.wait_acked(len(acked_at_kill))  # and flows again after the restart
            # Nothing acknowledged before the crash changed its offset afterwards.
            for n, off in acked_at_kill.items():
                assert prod.acked[n] == off
        unflushed = prod.finish()
    assert not prod.fatal, f"producer hit fatal errors: {prod.fatal}"
    assert unflushed == 0, f"{unflushed} records still undelivered"
    assert not prod.failed, f"deliveries failed: {list(prod.failed.items())[:5]}"

    records = consume_all(fresh_broker.bootstrap, topic_name)
    assert_dense(records)
    by_offset = dict(records)
    for n, off in prod.acked.items():
        assert off in by_offset, f"acknowledged record {n} at offset {off} is missing"
        assert by_offset[off] == str(n).encode(), (
            f"offset {off} holds {by_offset[off]!r}, acknowledged as {n}"
        )
    # acks=all + idempotence: exactly once and in order, despite retries across crashes.
    values = [int(v) for _, v in records]
    assert values == sorted(set(values)), "duplicated or reordered records in the log"
    assert len(set(prod.acked.values())) == len(prod.acked), "an offset was acknowledged twice"
    new_offset_after_restart(fresh_broker.bootstrap, topic_name, len(records))


# ---- corrupt tails after an unclean shutdown -----------------------------------------------

N_RECORDS = 20


def _prepare(fresh_broker: BrokerProcess, topic: str) -> tuple[Path, list[tuple[int, int]]]:
    """N one-record batches, clean stop, marker removed; returns the segment and batches."""
    start(fresh_broker)
    offsets = produce_sync(
        fresh_broker.bootstrap, topic, [f"r{i}".encode() for i in range(N_RECORDS)]
    )
    assert offsets == list(range(N_RECORDS))
    assert fresh_broker.stop() == 0
    marker = log_dir(fresh_broker) / CLEAN_SHUTDOWN_FILE
    assert marker.exists(), f"clean shutdown left no {marker}"
    marker.unlink()  # as after a crash
    (segment,) = segment_files(fresh_broker, topic)
    batches = batch_positions(segment.read_bytes())
    assert len(batches) == N_RECORDS
    assert sum(size for _, size in batches) == segment.stat().st_size
    return segment, batches


def _truncation_logged(broker: BrokerProcess, segment: Path, position: int) -> None:
    lines = [
        line
        for line in broker.log_path.read_text(errors="replace").splitlines()
        if "truncat" in line.lower() and segment.name in line
    ]
    assert lines, f"no truncation of {segment.name} in the broker log:\n{broker.log_tail()}"
    assert any(str(position) in line for line in lines), (
        f"truncation line does not give byte position {position}: {lines}"
    )


@pytest.mark.parametrize("damage", ["garbage", "torn_batch", "flipped_byte"])
def test_corrupt_tail_is_truncated_at_unclean_start(
    fresh_broker: BrokerProcess, topic_name: str, damage: str
) -> None:
    segment, batches = _prepare(fresh_broker, topic_name)
    last_pos, last_size = batches[-1]
    rng = random.Random(damage)
    if damage == "garbage":
        good_end = segment.stat().st_size
        with segment.open("ab") as f:
            f.write(bytes(rng.randrange(256) for _ in range(333)))
        survivors = N_RECORDS
    elif damage == "torn_batch":
        good_end = last_pos
        os.truncate(segment, last_pos + last_size // 2)
        survivors = N_RECORDS - 1
    else:
        good_end = last_pos
        data = bytearray(segment.read_bytes())
        at = last_pos + 61 + rng.randrange(last_size - 61)  # inside the CRC-covered records
        data[at] ^= 0x5A
        segment.write_bytes(bytes(data))
        survivors = N_RECORDS - 1

    start(fresh_broker)
    records = consume_all(fresh_broker.bootstrap, topic_name)
    assert_dense(records)
    assert [v for _, v in records] == [f"r{i}".encode() for i in range(survivors)]
    assert segment.stat().st_size == good_end
    _truncation_logged(fresh_broker, segment, good_end)
    new_offset_after_restart(fresh_broker.bootstrap, topic_name, survivors)


# ---- many segments ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["clean", "kill9"])
def test_many_segments_survive_restart(
    fresh_broker: BrokerProcess, topic_name: str, stop: str
) -> None:
    fresh_broker.settings["log.segment.bytes"] = "4096"
    start(fresh_broker)
    p = producer(fresh_broker.bootstrap, **{"batch.size": 1500, "linger.ms": 1})
    total = 1500
    acked: dict[int, int] = {}

    def on_delivery(err: Any, msg: Any) -> None:
        assert err is None, err
        acked[int(msg.value()[:6])] = msg.offset()

    for i in range(total):
        p.produce(topic_name, f"{i:06d}".encode() + b"x" * 60, partition=0, on_delivery=on_delivery)
        if i % 100 == 0:
            p.poll(0)
    assert p.flush(30) == 0
    assert sorted(acked.values()) == list(range(total))
    n_segments = len(segment_files(fresh_broker, topic_name))
    assert n_segments >= 20, f"only {n_segments} segments rolled"

    if stop == "clean":
        assert fresh_broker.stop() == 0
        assert (log_dir(fresh_broker) / CLEAN_SHUTDOWN_FILE).exists()
    else:
        fresh_broker.kill()
    start(fresh_broker)
    if stop == "clean":
        assert not (log_dir(fresh_broker) / CLEAN_SHUTDOWN_FILE).exists(), (
            "the clean-shutdown marker must be consumed at start (a later crash must recover)"
        )
    records = consume_all(fresh_broker.bootstrap, topic_name)
    assert_dense(records)
    assert len(records) == total
    for i, off in acked.items():
        assert records[off][1][:6] == f"{i:06d}".encode()
    assert len(segment_files(fresh_broker, topic_name)) == n_segments
    log_text = fresh_broker.log_path.read_text(errors="replace")
    assert "truncated" not in log_text, "a healthy log was truncated at restart"
    new_offset_after_restart(fresh_broker.bootstrap, topic_name, total)


# ---- damaged indexes ------------------------------------------------------------------------


def first_offset_from(bootstrap: str, topic: str, offset: int) -> int:
    """The offset of the first record a consumer assigned at ``offset`` receives."""
    c = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"idx-{topic}", "enable.auto.commit": False}
    )
    try:
        c.assign([TopicPartition(topic, 0, offset)])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is not None and not msg.error():
                return int(msg.offset())
        raise AssertionError(f"nothing fetched from offset {offset}")
    finally:
        c.close()


@pytest.mark.parametrize("damage", ["deleted", "garbage", "zeroed"])
def test_damaged_indexes_are_rebuilt(
    fresh_broker: BrokerProcess, topic_name: str, damage: str
) -> None:
    """Offset/time indexes are derived data: with the clean-shutdown marker present but the
    indexes deleted or overwritten, start-up must notice and rebuild them, and fetches at
    any offset must start at that offset (a wrong index entry would skip records)."""
    fresh_broker.settings["log.segment.bytes"] = "16384"
    fresh_broker.settings["log.index.interval.bytes"] = "256"  # many index entries
    start(fresh_broker)
    total = 2000
    p = producer(fresh_broker.bootstrap, **{"batch.size": 400, "linger.ms": 1})
    for i in range(total):
        p.produce(topic_name, f"{i:06d}".encode() + b"i" * 40, partition=0)
    assert p.flush(30) == 0
    assert fresh_broker.stop() == 0
    rng = random.Random(damage)
    indexes = sorted((log_dir(fresh_broker) / f"{topic_name}-0").glob("*index"))
    assert len(indexes) >= 2 * 5
    for path in indexes:
        if damage == "deleted":
            path.unlink()
        elif damage == "garbage":
            size = max(path.stat().st_size, 64)
            path.write_bytes(bytes(rng.randrange(256) for _ in range(size)))
        else:
            path.write_bytes(b"\x00" * max(path.stat().st_size, 64))
    start(fresh_broker)
    records = consume_all(fresh_broker.bootstrap, topic_name)
    assert_dense(records)
    assert [v[:6] for _, v in records] == [f"{i:06d}".encode() for i in range(total)]
    for offset in [*sorted(rng.sample(range(total), 8)), total - 1]:
        got = first_offset_from(fresh_broker.bootstrap, topic_name, offset)
        assert got == offset, f"fetch at {offset} started at {got}"
    new_offset_after_restart(fresh_broker.bootstrap, topic_name, total)


# ---- idempotent producer state across a clean restart ----------------------------------------


def _init_producer_id(client: RawClient) -> tuple[int, int]:
    resp = client.call(
        22,
        4,
        transactional_id=None,
        transaction_timeout=datetime.timedelta(seconds=60),
        producer_id=-1,
        producer_epoch=-1,
    )
    assert int(resp.error_code) == 0, resp
    return int(resp.producer_id), int(resp.producer_epoch)


def _create_topic(client: RawClient, topic: str) -> None:
    meta = client.call(3, 4, topics=(_meta_topic(topic),), allow_auto_topic_creation=True)
    assert int(meta.topics[0].error_code) == 0, meta


def _meta_topic(topic: str) -> Any:
    from kio.schema.metadata.v4.request import MetadataRequestTopic

    return MetadataRequestTopic(name=topic)


def make(pid: int, epoch: int, seq: int, n: int) -> bytes:
    """An idempotent batch of ``n`` records with sequences ``seq..seq+n-1``."""
    return encode_batch(
        [(None, f"s{seq + i}".encode()) for i in range(n)],
        producer_id=pid,
        producer_epoch=epoch,
        base_sequence=seq,
    )


@pytest.mark.parametrize("stop", ["clean", "kill9"])
def test_idempotent_producer_state_survives_restart(
    fresh_broker: BrokerProcess, topic_name: str, stop: str
) -> None:
    """Observable with a raw client: after a restart, a retried batch is still recognised
    as a duplicate (original offset, not appended twice) and the sequence goes on."""
    start(fresh_broker)
    with RawClient(fresh_broker.bootstrap) as client:
        _create_topic(client, topic_name)
        pid, epoch = _init_producer_id(client)
        assert produce(client, topic_name, 0, make(pid, epoch, 0, 3)) == (0, 0)
        assert produce(client, topic_name, 0, make(pid, epoch, 3, 2)) == (0, 3)
    started = time.monotonic()
    if stop == "clean":
        assert fresh_broker.stop() == 0
    else:
        fresh_broker.kill()
    start(fresh_broker)
    restart_s = time.monotonic() - started
    with RawClient(fresh_broker.bootstrap) as client:
        # the retry of the last batch: a duplicate, answered with its original offset
        assert produce(client, topic_name, 0, make(pid, epoch, 3, 2)) == (0, 3)
        # a sequence gap is still refused: the broker remembers where the producer was
        err, _ = produce(client, topic_name, 0, make(pid, epoch, 9, 1))
        assert err == 45, f"gap in sequence answered with error {err}, expected 45"
        assert produce(client, topic_name, 0, make(pid, epoch, 5, 1)) == (0, 5)
    records = consume_all(fresh_broker.bootstrap, topic_name)
    assert [v for _, v in records] == [f"s{i}".encode() for i in range(6)]
    assert restart_s < 20


def test_clean_restart_skips_recovery(fresh_broker: BrokerProcess, topic_name: str) -> None:
    """With the marker, start-up trusts the logs: no truncation, no index rebuild, marker
    consumed; and nothing is lost."""
    start(fresh_broker)
    produce_sync(fresh_broker.bootstrap, topic_name, [b"a", b"b", b"c"])
    assert fresh_broker.stop() == 0
    assert (log_dir(fresh_broker) / CLEAN_SHUTDOWN_FILE).exists()
    size_before = fresh_broker.log_path.stat().st_size
    start(fresh_broker)
    assert not (log_dir(fresh_broker) / CLEAN_SHUTDOWN_FILE).exists()
    new_lines = fresh_broker.log_path.read_bytes()[size_before:].decode(errors="replace")
    assert "truncated" not in new_lines and "rebuilding" not in new_lines, new_lines
    assert [v for _, v in consume_all(fresh_broker.bootstrap, topic_name)] == [b"a", b"b", b"c"]
