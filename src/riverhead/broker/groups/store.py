"""Group metadata and committed offsets as records of the compacted topic ``__consumer_offsets``.

The log is the source of truth: every commit and every generation change is appended to
the partition that owns the group (``abs(java_hash(group_id)) % offsets.topic.num.partitions``,
as Kafka places groups), and the coordinator's in-memory state is rebuilt by replaying
those partitions at start-up. The topic is compacted, so the latest record per key wins.

Record format (JSON, UTF-8; a null value is a tombstone)::

    key   {"offset": [group, topic, partition]}
    value {"offset": 42, "leader_epoch": -1, "metadata": "", "commit_timestamp": 1700000000000}

    key   {"group": group}
    value {"protocol_type": "consumer", "generation": 7, "protocol": "range"}

Members are not persisted: after a broker restart every group is Empty at its last
generation, and consumers rejoin when their next heartbeat gets UNKNOWN_MEMBER_ID (their
committed offsets are kept). Riverhead's record format is its own — the broker reads
only what it wrote — so it differs from Kafka's binary schemas on purpose (readable with
any consumer).

Thread-safety: appends go through :meth:`Partition.append` (per-partition lock).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from riverhead.protocol.batch import read_header
from riverhead.protocol.errors import ErrorCode
from riverhead.protocol.records import CorruptRecordError, Record, decode_batches, encode_batch

if TYPE_CHECKING:
    from riverhead.broker.state import BrokerState

log = logging.getLogger("riverhead.broker.groups")

TOPIC = "__consumer_offsets"
COMMIT_TIMEOUT_S = 5.0


def java_hash(text: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units), as a signed 32-bit int."""
    data = text.encode("utf-16-be")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offset_key(group: str, topic: str, partition: int) -> bytes:
    return json.dumps({"offset": [group, topic, partition]}).encode()


def group_key(group: str) -> bytes:
    return json.dumps({"group": group}).encode()


class OffsetStore:
    def __init__(self, state: BrokerState, partitions: int) -> None:
        self.state = state
        self.partitions = partitions

    def partition_for(self, group: str) -> int:
        return (java_hash(group) & 0x7FFFFFFF) % self.partitions

    def ensure_topic(self) -> None:
        if self.state.topics.get(TOPIC) is None:
            result = self.state.create_topic(
                TOPIC,
                self.partitions,
                {"cleanup.policy": "compact", "segment.bytes": str(100 << 20)},
                replication_factor=self.state.offsets_replication_factor(),
            )
            if not result.ok and result.error != ErrorCode.TOPIC_ALREADY_EXISTS:
                raise OSError(f"cannot create {TOPIC}: {result.message}")

    def append(self, group: str, entries: Sequence[tuple[bytes, bytes | None]], now_ms: int) -> int:
        """Append records for ``group``; returns a Kafka error code (0 on success)."""
        self.ensure_topic()
        part = self.state.partition(TOPIC, self.partition_for(group))
        if part is None:
            return int(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        records = [Record(0, now_ms, key, value) for key, value in entries]
        data = bytearray(encode_batch(records))
        outcome = part.append(data, read_header(data), now_ms)
        if outcome.error or not part.replicated:
            return int(outcome.error)
        # Cluster mode: a commit is done once the ISR has it (offsets.commit.required.acks
        # = -1, as in Kafka). The wait is short in steady state: one follower fetch.
        part.maybe_advance_hw(self.state.min_isr(TOPIC))
        deadline = time.monotonic() + COMMIT_TIMEOUT_S
        while part.log.high_watermark <= outcome.last_offset:
            if time.monotonic() > deadline or not part.is_leader:
                return int(ErrorCode.REQUEST_TIMED_OUT)
            time.sleep(0.001)
        return 0

    def replay(
        self, only: set[int] | None = None
    ) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        """Every (key, value) in log order, partition by partition (``only`` those)."""
        info = self.state.topics.get(TOPIC)
        if info is None:
            return
        for index in range(info.partitions):
            if only is not None and index not in only:
                continue
            part = self.state.partition(TOPIC, index)
            if part is None:
                continue
            plog = part.log
            offset = plog.log_start_offset
            while offset < plog.log_end_offset:
                chunk = plog.read(offset, 1 << 20, upper_bound=plog.log_end_offset)
                if chunk is None:
                    break
                try:
                    records = decode_batches(chunk.read())
                except CorruptRecordError as exc:
                    log.error(
                        "%s-%d: unreadable group records at %d: %s", TOPIC, index, offset, exc
                    )
                    break
                if not records:
                    break
                for record in records:
                    if record.key is None:
                        continue
                    try:
                        key = json.loads(record.key)
                        value = None if record.value is None else json.loads(record.value)
                    except ValueError:
                        continue
                    yield key, value
                offset = records[-1].offset + 1
