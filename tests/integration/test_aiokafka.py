"""aiokafka 0.14 against a real broker: produce, consume, errors.

Consumers are assign-only (``group_id=None``): the broker has no group APIs yet. aiokafka
speaks old, non-flexible versions (Produce v7, Fetch v11, ListOffsets v3, Metadata v5,
InitProducerId v0), so these tests cover the broker's lower version ranges.

The scenarios every client runs the same way are in test_clients.py, parametrized over the
clients; this module keeps what is aiokafka's own.
"""

from __future__ import annotations

import asyncio

import aiokafka
import aiokafka.errors
import pytest

from tests.support.broker_process import BrokerProcess
from tests.support.clients import (
    LATEST,
    Err,
    ProduceFailed,
    ProduceOptions,
    Record,
    aio_assign,
    aio_consumer,
    aio_read,
    create_topic,
    now_ms,
    numbered,
    produce,
    time_lookup_case,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def topic_name(topic_name: str) -> str:
    """Prefixed: the shared fixture derives names from test names, which repeat per client."""
    return "aio-" + topic_name


ME = "aiokafka"


def test_consume_from_latest_sees_only_new_records(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce(ME, broker.bootstrap, topic_name, numbered(3))

    async def from_latest() -> tuple[int, list[tuple[int, bytes | None]]]:
        c = aio_consumer(broker.bootstrap)
        await c.start()
        try:
            await aio_assign(c, topic_name, {0: LATEST})
            position = await c.position(aiokafka.TopicPartition(topic_name, 0))
            await asyncio.to_thread(produce, ME, broker.bootstrap, topic_name, [Record(b"new")])
            return position, [(g.offset, g.value) for g in await aio_read(c, 1)]
        finally:
            await c.stop()

    assert asyncio.run(from_latest()) == (3, [(3, b"new")])


def test_offsets_for_times_and_watermarks(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name, partitions=2)
    sent, queries, past = time_lookup_case(now_ms() - 100_000)
    produce(ME, broker.bootstrap, topic_name, sent)
    tp0, tp1 = (aiokafka.TopicPartition(topic_name, p) for p in (0, 1))

    async def ask() -> tuple[dict[int, object], object, object]:
        c = aio_consumer(broker.bootstrap)
        await c.start()
        try:
            found = {ts: (await c.offsets_for_times({tp0: ts}))[tp0] for ts in [*queries, past]}
            return found, await c.beginning_offsets([tp0, tp1]), await c.end_offsets([tp0, tp1])
        finally:
            await c.stop()

    found, beginning, end = asyncio.run(ask())
    assert {ts: (f.offset, f.timestamp) for ts, f in found.items() if f is not None} == {  # type: ignore[attr-defined]
        ts: (off, sent[off].timestamp_ms) for ts, off in queries.items()
    }
    assert found[past] is None  # past the last record
    assert beginning == {tp0: 0, tp1: 0}
    assert end == {tp0: 5, tp1: 0}


def test_empty_partition_then_long_poll_receives_new_record(
    broker: BrokerProcess, topic_name: str
) -> None:
    create_topic(broker.bootstrap, topic_name)

    async def run() -> tuple[list[object], list[tuple[int, bytes | None, bytes | None]]]:
        c = aio_consumer(broker.bootstrap)
        await c.start()
        try:
            await aio_assign(c, topic_name, {0: 0})
            empty = await aio_read(c, 1, timeout=1.0)  # an empty partition: nothing, no error
            await asyncio.to_thread(
                produce, ME, broker.bootstrap, topic_name, [Record(b"late", b"k")]
            )
            return empty, [(g.offset, g.key, g.value) for g in await aio_read(c, 1)]
        finally:
            await c.stop()

    assert asyncio.run(run()) == ([], [(0, b"k", b"late")])


def test_fetch_out_of_range(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    produce(ME, broker.bootstrap, topic_name, numbered(3))
    tp = aiokafka.TopicPartition(topic_name, 0)

    async def read_at_100(reset: str) -> list[int]:
        c = aio_consumer(broker.bootstrap, auto_offset_reset=reset)
        await c.start()
        try:
            await aio_assign(c, topic_name, {0: 100})
            return [g.offset for g in await aio_read(c, 3)]
        finally:
            await c.stop()

    with pytest.raises(aiokafka.errors.OffsetOutOfRangeError) as failed:
        asyncio.run(read_at_100("none"))
    assert failed.value.args[0] == {tp: 100}
    assert asyncio.run(read_at_100("earliest")) == [0, 1, 2]


def test_produce_to_unknown_topic_without_auto_create(fresh_broker: BrokerProcess) -> None:
    fresh_broker.settings["auto.create.topics.enable"] = "false"
    fresh_broker.start()
    opts = ProduceOptions(extra={"request_timeout_ms": 2000})
    with pytest.raises(ProduceFailed) as failed:
        produce(ME, fresh_broker.bootstrap, "no-such-topic", [Record(b"x")], opts)
    assert failed.value.code == Err.UNKNOWN_TOPIC_OR_PARTITION, failed.value
