"""Log compaction in a real broker: the background cleaner shrinks a compacted topic to
the latest record per key, at the offsets the producer got."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

KEYS = 20
UPDATES = 60


def _consume_all(bootstrap: str, topic: str, end: int) -> list[tuple[int, bytes, bytes | None]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        out: list[tuple[int, bytes, bytes | None]] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                if out and out[-1][0] >= end - 1:
                    break
                continue
            assert msg.error() is None, msg.error()
            out.append((msg.offset(), msg.key(), msg.value()))
            if msg.offset() >= end - 1:
                break
        return out
    finally:
        consumer.close()


def test_background_cleaner_keeps_latest_value_per_key(
    fresh_broker: BrokerProcess, topic_name: str
) -> None:
    fresh_broker.settings.update(
        {"log.segment.bytes": "4096", "log.retention.check.interval.ms": "200"}
    )
    fresh_broker.start()
    admin = AdminClient({"bootstrap.servers": fresh_broker.bootstrap})
    configs = {
        "cleanup.policy": "compact",
        "segment.bytes": "4096",
        "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "100",
    }
    for future in admin.create_topics([NewTopic(topic_name, 1, 1, config=configs)]).values():
        future.result(15)

    producer = Producer({"bootstrap.servers": fresh_broker.bootstrap, "linger.ms": 0})
    offsets: dict[int, tuple[bytes, bytes]] = {}

    def delivered(err: object, msg: object) -> None:
        assert err is None, err
        offsets[msg.offset()] = (msg.key(), msg.value())  # type: ignore[attr-defined]

    for i in range(UPDATES * KEYS):
        key = b"key-%d" % (i % KEYS)
        producer.produce(
            topic_name, key=key, value=b"value-%d-" % i + b"x" * 50, on_delivery=delivered
        )
        if i % 50 == 0:
            producer.flush(10)
    assert producer.flush(10) == 0
    end = max(offsets) + 1
    assert end == UPDATES * KEYS
    latest: dict[bytes, tuple[int, bytes]] = {}
    for offset in sorted(offsets):
        key, value = offsets[offset]
        latest[key] = (offset, value)

    deadline = time.monotonic() + 30
    while True:
        seen = _consume_all(fresh_broker.bootstrap, topic_name, end)
        # Records of the active segment are never cleaned: count the older ones only,
        # i.e. those before the last offset of every key but the tail we just wrote.
        tail_start = end - 4096 // 60
        head = [key for offset, key, _ in seen if offset < tail_start]
        if len(head) == len(set(head)) and seen and seen[-1][0] == end - 1:
            break
        assert time.monotonic() < deadline, (
            f"{len(head)} records in the head, {len(set(head))} keys"
        )
        time.sleep(0.3)
    for offset, key, value in seen:
        assert offsets[offset] == (key, value)  # a record is where the producer put it
    by_key = {key: (offset, value) for offset, key, value in seen}
    assert by_key == latest
    assert len(seen) < end // 2
