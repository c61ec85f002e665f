"""ListOffsets through each client: earliest, latest, by timestamp, max timestamp, on an
empty partition, after appends and after DeleteRecords moved the log start.

Every client asks the broker its own way (confluent-kafka: ``get_watermark_offsets`` and
``offsets_for_times``, plus the admin's ``list_offsets`` with leader epochs and the
max-timestamp spec; kafka-python and aiokafka: ``beginning_offsets``/``end_offsets``/
``offsets_for_times``; kcat: ``-Q``). What is compared is the offsets (and timestamps where
the API returns them) each client reports.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiokafka
import confluent_kafka
import kafka
import pytest
from confluent_kafka.admin import AdminClient, OffsetSpec

from tests.interop.diff import Target, assert_same, observe, wait_topic_ready
from tests.support.clients import (
    WAIT_S,
    CkConsumer,
    ProduceOptions,
    Record,
    aio_consumer,
    create_topic,
    kcat,
    now_ms,
    produce,
    stored_batch_codecs,
    time_lookup_case,
)

pytestmark = pytest.mark.interop

CLIENTS = ("confluent", "kafka-python", "aiokafka", "kcat")
EARLIEST, LATEST = -2, -1


def lookup(
    client: str, bootstrap: str, topic: str, partition: int, times: list[int]
) -> dict[str, Any]:
    """Earliest, latest and the offset found for each timestamp (None: no such record)."""
    if client == "confluent":
        with CkConsumer(bootstrap) as c:
            tp = confluent_kafka.TopicPartition(topic, partition)
            low, high = c.consumer.get_watermark_offsets(tp, timeout=WAIT_S, cached=False)
            found = c.consumer.offsets_for_times(
                [confluent_kafka.TopicPartition(topic, partition, ts) for ts in times[:1]],
                timeout=WAIT_S,
            )
            # librdkafka maps a multi-partition answer wrongly when one partition is asked
            # twice (docs/compatibility.md): one request per timestamp.
            by_time = []
            for ts in times:
                (res,) = c.consumer.offsets_for_times(
                    [confluent_kafka.TopicPartition(topic, partition, ts)], timeout=WAIT_S
                )
                by_time.append(None if res.offset < 0 else res.offset)
            del found
        return {"earliest": low, "latest": high, "by time": by_time}
    if client == "kafka-python":
        c = kafka.KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        try:
            tp = kafka.TopicPartition(topic, partition)
            res = {
                "earliest": c.beginning_offsets([tp])[tp],
                "latest": c.end_offsets([tp])[tp],
                "by time": [],
            }
            for ts in times:
                hit = c.offsets_for_times({tp: ts})[tp]
                res["by time"].append(None if hit is None else hit.offset)
            return res
        finally:
            c.close()
    if client == "aiokafka":

        async def run() -> dict[str, Any]:
            c = aio_consumer(bootstrap)
            await c.start()
            try:
                tp = aiokafka.TopicPartition(topic, partition)
                res = {
                    "earliest": (await c.beginning_offsets([tp]))[tp],
                    "latest": (await c.end_offsets([tp]))[tp],
                    "by time": [],
                }
                for ts in times:
                    hit = (await c.offsets_for_times({tp: ts}))[tp]
                    res["by time"].append(None if hit is None else hit.offset)
                return res
            finally:
                await c.stop()

        return asyncio.run(run())
    if client == "kcat":

        def q(ts: int) -> int | None:
            out = kcat(bootstrap, "-Q", "-t", f"{topic}:{partition}:{ts}").stdout.decode()
            m = re.search(r"offset (-?\d+)", out)
            assert m, out
            return None if int(m.group(1)) < 0 else int(m.group(1))

        return {"earliest": q(EARLIEST), "latest": q(LATEST), "by time": [q(ts) for ts in times]}
    raise ValueError(client)


def admin_offsets(bootstrap: str, topic: str, partition: int, miss: int = 2**50) -> dict[str, Any]:
    """ListOffsets v7+ through confluent-kafka's admin: offset, timestamp, leader epoch."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    tp = confluent_kafka.TopicPartition(topic, partition)
    out = {}
    for name, spec in (
        ("earliest", OffsetSpec.earliest()),
        ("latest", OffsetSpec.latest()),
        ("max timestamp", OffsetSpec.max_timestamp()),
        ("by time, no match", OffsetSpec.for_timestamp(miss)),
    ):
        info = admin.list_offsets({tp: spec}, request_timeout=WAIT_S)[tp].result(WAIT_S)
        out[name] = (info.offset, info.timestamp, info.leader_epoch)
    return out


@pytest.mark.parametrize("client", CLIENTS)
def test_list_offsets(targets: tuple[Target, Target], topic_name: str, client: str) -> None:
    base = now_ms() - 3_600_000
    sent, queries, miss = time_lookup_case(base)
    times = [*queries, miss]

    def scenario(t: Target) -> dict[str, Any]:
        create_topic(t.bootstrap, topic_name, partitions=2)
        out: dict[str, Any] = {"empty": lookup(client, t.bootstrap, topic_name, 1, times)}
        produce("confluent", t.bootstrap, topic_name, sent)
        out["after append"] = lookup(client, t.bootstrap, topic_name, 0, times)
        admin = AdminClient({"bootstrap.servers": t.bootstrap})
        deletions = [
            confluent_kafka.TopicPartition(topic_name, 0, 2),
            confluent_kafka.TopicPartition(topic_name, 1, 0),
        ]
        results = admin.delete_records(deletions, request_timeout=WAIT_S)
        out["low watermarks"] = [results[tp].result(WAIT_S).low_watermark for tp in deletions]
        out["after DeleteRecords"] = lookup(client, t.bootstrap, topic_name, 0, times)
        if client == "confluent":
            out["admin p0"] = admin_offsets(t.bootstrap, topic_name, 0)
            out["admin p1 (empty)"] = admin_offsets(t.bootstrap, topic_name, 1)
        return out

    seen = assert_same(observe(targets, scenario))
    assert seen["after append"]["latest"] == len(sent), seen


def test_list_offsets_after_everything_is_deleted(
    targets: tuple[Target, Target], topic_name: str
) -> None:
    """DeleteRecords to the high watermark (offset -1 means "up to the end"): the partition
    is empty again but keeps its offsets; new records continue after them."""
    base = now_ms() - 1000

    def scenario(t: Target) -> dict[str, Any]:
        create_topic(t.bootstrap, topic_name)
        produce(
            "confluent",
            t.bootstrap,
            topic_name,
            [Record(b"a", timestamp_ms=base), Record(b"b", timestamp_ms=base + 1)],
        )
        admin = AdminClient({"bootstrap.servers": t.bootstrap})
        tp = confluent_kafka.TopicPartition(topic_name, 0, -1)
        low = admin.delete_records([tp], request_timeout=WAIT_S)[tp].result(WAIT_S).low_watermark
        out = {
            "low watermark": low,
            "emptied": lookup("confluent", t.bootstrap, topic_name, 0, [base, base + 1]),
            "admin": admin_offsets(t.bootstrap, topic_name, 0),
        }
        produce("confluent", t.bootstrap, topic_name, [Record(b"c", timestamp_ms=base + 2)])
        out["appended"] = lookup("confluent", t.bootstrap, topic_name, 0, [base, base + 2])
        return out

    seen = observe(targets, scenario)
    # Deliberate difference (docs/compatibility.md): Kafka answers the max-timestamp query
    # from its segments' bookkeeping, which still counts the deleted records, and names an
    # offset below the log start that no consumer can fetch; Riverhead only considers
    # records that still exist.
    rh_max = seen["riverhead"]["admin"].pop("max timestamp")
    k_max = seen["kafka"]["admin"].pop("max timestamp")
    assert rh_max == (-1, -1, None)
    assert k_max[0] == 1 and k_max[1] == base + 1
    assert assert_same(seen)["low watermark"] == 2


def test_list_offsets_by_time_in_a_compressed_batch(
    targets: tuple[Target, Target], topic_name: str
) -> None:
    """The documented difference (docs/compatibility.md): in a compressed CreateTime batch
    Kafka decompresses and finds the exact record; Riverhead answers the batch's base
    offset and max timestamp (no decompression on a lookup). A consumer seeking there
    reads at most one batch more, and reads the same records."""
    base = now_ms() - 3_600_000
    sent, _, _ = time_lookup_case(base)  # one batch: linger lets them travel together
    # compressible values: librdkafka sends a batch uncompressed when gzip would not shrink it
    sent = [
        Record(r.value * 200 if r.value else r.value, timestamp_ms=r.timestamp_ms) for r in sent
    ]

    def scenario(t: Target) -> dict[str, Any]:
        create_topic(t.bootstrap, topic_name)
        wait_topic_ready(t.bootstrap, topic_name, 1)  # no retried first send: one batch
        produce(
            "confluent",
            t.bootstrap,
            topic_name,
            sent,
            ProduceOptions(compression="gzip", extra={"linger.ms": 500}),
        )
        stored = stored_batch_codecs(t.log_dir, topic_name)
        admin = AdminClient({"bootstrap.servers": t.bootstrap})
        tp = confluent_kafka.TopicPartition(topic_name, 0)
        spec = OffsetSpec.for_timestamp(base + 1500)
        info = admin.list_offsets({tp: spec}, request_timeout=WAIT_S)[tp].result(WAIT_S)
        return {"stored": stored, "found": (info.offset, info.timestamp)}

    seen = observe(targets, scenario)
    assert seen["riverhead"]["stored"] == seen["kafka"]["stored"] == [1]  # one gzip batch
    assert seen["kafka"]["found"] == (1, base + 3000)  # the exact record
    assert seen["riverhead"]["found"] == (0, base + 4000)  # the batch: base offset, max ts
