"""AlterPartition (key 56, v2) between a partition leader and the controller.

The leader proposes a new ISR for partitions it leads, naming the leader epoch and the
partition epoch it based the proposal on; the controller answers per partition with the
committed state or an error (FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION,
INELIGIBLE_REPLICA, NOT_LEADER_OR_FOLLOWER, STALE_BROKER_EPOCH, NOT_CONTROLLER).
v2 names topics by id. Pure conversions between kio objects and the controller's types.
"""

from __future__ import annotations

import uuid
from typing import Any

from kio.schema.alter_partition.v2 import request as _schema

from riverhead.cluster.controller import IsrChange, IsrResult
from riverhead.cluster.model import PartitionState
from riverhead.protocol.errors import ErrorCode

# kio's classes want its NewType'd ints; plain ints encode the same.
_REQUEST: Any = _schema.AlterPartitionRequest
_TOPIC: Any = _schema.TopicData
_PARTITION: Any = _schema.PartitionData


def encode_request(
    broker_id: int, broker_epoch: int, changes: list[IsrChange], topic_ids: dict[str, str]
) -> Any:
    by_topic: dict[str, list[Any]] = {}
    for c in changes:
        by_topic.setdefault(c.topic, []).append(
            _PARTITION(
                partition_index=c.partition,
                leader_epoch=c.leader_epoch,
                new_isr=tuple(c.new_isr),
                leader_recovery_state=0,
                partition_epoch=c.partition_epoch,
            )
        )
    return _REQUEST(
        broker_id=broker_id,
        broker_epoch=broker_epoch,
        topics=tuple(
            _TOPIC(topic_id=uuid.UUID(topic_ids[t]), partitions=tuple(ps))
            for t, ps in by_topic.items()
        ),
    )


def decode_request(req: Any, names: dict[str, str]) -> list[IsrChange | None]:
    """Changes in request order; None for a partition of an unknown topic id."""
    out: list[IsrChange | None] = []
    for topic in req.topics:
        name = names.get(str(topic.topic_id))
        for p in topic.partitions:
            if name is None:
                out.append(None)
                continue
            out.append(
                IsrChange(
                    name,
                    int(p.partition_index),
                    int(p.leader_epoch),
                    int(p.partition_epoch),
                    tuple(int(b) for b in p.new_isr),
                )
            )
    return out


def response_tree(
    req: Any, results: list[IsrResult | None], error: ErrorCode = ErrorCode.NONE
) -> dict[str, Any]:
    topics = []
    it = iter(results)
    for topic in req.topics:
        parts = []
        for p in topic.partitions:
            result = next(it, None)
            state = result.state if result is not None else None
            code = ErrorCode.UNKNOWN_TOPIC_ID if result is None else result.error
            parts.append(
                {
                    "partition_index": int(p.partition_index),
                    "error_code": code,
                    "leader_id": state.leader if state else -1,
                    "leader_epoch": state.leader_epoch if state else -1,
                    "isr": list(state.isr) if state else [],
                    "leader_recovery_state": 0,
                    "partition_epoch": state.partition_epoch if state else -1,
                }
            )
        topics.append({"topic_id": topic.topic_id, "partitions": parts})
    return {"throttle_time_ms": 0, "error_code": error, "topics": topics}


def decode_results(
    response: Any, changes: list[IsrChange], names: dict[str, str]
) -> list[IsrResult]:
    if int(response.error_code) != ErrorCode.NONE:
        return [IsrResult(ErrorCode(int(response.error_code))) for _ in changes]
    found: dict[tuple[str, int], IsrResult] = {}
    for topic in response.topics:
        name = names.get(str(topic.topic_id), "")
        for p in topic.partitions:
            error = ErrorCode(int(p.error_code))
            state = None
            if error == ErrorCode.NONE:
                state = PartitionState(
                    int(p.leader_id),
                    int(p.leader_epoch),
                    tuple(int(b) for b in p.isr),
                    -1,
                    int(p.partition_epoch),
                )
            found[(name, int(p.partition_index))] = IsrResult(error, state)
    return [
        found.get((c.topic, c.partition), IsrResult(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
        for c in changes
    ]
