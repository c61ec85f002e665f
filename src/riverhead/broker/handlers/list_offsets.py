"""ListOffsets (key 2), v1-7: earliest (-2), latest (-1), max timestamp (-3, v7+), by time.
Any other negative timestamp: UNSUPPORTED_VERSION, as Kafka answers.

Latest is the high watermark (also for read_committed: the last stable offset equals it
without transactions). By time: the offset of the first record whose timestamp is at or
after the target, or offset -1 / timestamp -1 / leader epoch -1 when there is none.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import topic_denied

EARLIEST, LATEST, MAX_TIMESTAMP = -2, -1, -3


MAX_TIMESTAMP_SINCE = 7  # KIP-734: the max-timestamp spec needs ListOffsets v7


def _lookup(
    state: BrokerState, topic: str, index: int, timestamp: int, version: int
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "partition_index": index,
        "error_code": 0,
        "timestamp": -1,
        "offset": -1,
        "leader_epoch": -1,
    }
    part = state.partition(topic, index)
    if part is None:
        out["error_code"] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        return out
    if not part.is_leader:
        out["error_code"] = ErrorCode.NOT_LEADER_OR_FOLLOWER
        return out
    plog = part.log
    out["leader_epoch"] = part.leader_epoch
    if timestamp == EARLIEST:
        out["offset"] = plog.log_start_offset
    elif timestamp == LATEST:
        out["offset"] = plog.high_watermark
    elif timestamp == MAX_TIMESTAMP and version >= MAX_TIMESTAMP_SINCE:
        entry = plog.max_timestamp_entry()
        if entry is not None:
            out["offset"], out["timestamp"] = entry
    elif timestamp < 0:
        # As Kafka: any other negative spec (-3 before v7; -4 earliest-local, -5
        # latest-tiered and -6 earliest-pending-upload, which need v8-10, not served) is
        # refused as a version the request cannot use.
        out["error_code"] = ErrorCode.UNSUPPORTED_VERSION
    else:
        found = plog.offset_for_timestamp(timestamp)
        if found is not None:
            out["offset"], out["timestamp"] = found
    if out["offset"] == -1:  # nothing found: no epoch either (as Kafka answers)
        out["leader_epoch"] = -1
    return out


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    topics = []
    for topic in req.topics:
        denied = topic_denied(state, request, "DESCRIBE", topic.name)
        if denied:
            partitions = [
                {"partition_index": p.partition_index, "error_code": denied, "timestamp": -1,
                 "offset": -1, "leader_epoch": -1}
                for p in topic.partitions
            ]
            topics.append({"name": topic.name, "partitions": partitions})
            continue
        partitions = [
            _lookup(state, topic.name, p.partition_index, int(p.timestamp), request.version)
            for p in topic.partitions
        ]
        topics.append({"name": topic.name, "partitions": partitions})
    return {"throttle_time_ms": 0, "topics": topics}
