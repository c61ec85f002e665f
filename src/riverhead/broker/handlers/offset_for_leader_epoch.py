"""OffsetForLeaderEpoch (key 23), v2-4: where a leader epoch ends in this leader's log.

Consumers use it after a leader change to check that the log they were reading was not
truncated under them (KIP-320): for each partition, the largest epoch this leader knows
that is <= the requested one, and its end offset (the start of the next epoch, or the
log end for the latest epoch); ``(-1, -1)`` if the epoch is older than every epoch known.
Only the leader answers (NOT_LEADER_OR_FOLLOWER elsewhere); a ``current_leader_epoch``
older than the leader's is FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import cluster_denied, topic_denied


def _answer(state: BrokerState, topic: str, p: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "error_code": 0,
        "partition": int(p.partition),
        "leader_epoch": -1,
        "end_offset": -1,
    }
    part = state.partition(topic, int(p.partition))
    if part is None:
        out["error_code"] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    elif not part.is_leader:
        out["error_code"] = ErrorCode.NOT_LEADER_OR_FOLLOWER
    else:
        current = int(getattr(p, "current_leader_epoch", -1))
        if 0 <= current < part.leader_epoch:
            out["error_code"] = ErrorCode.FENCED_LEADER_EPOCH
        elif current > part.leader_epoch:
            out["error_code"] = ErrorCode.UNKNOWN_LEADER_EPOCH
        else:
            epoch, end = part.epochs.end_offset_for(int(p.leader_epoch), part.log.log_end_offset)
            out["leader_epoch"], out["end_offset"] = epoch, end
    return out


def _partitions(state: BrokerState, request: Request, req: Any, t: Any) -> list[dict[str, Any]]:
    # Followers need ClusterAction; consumers Describe on the topic.
    if int(getattr(req, "replica_id", -1)) >= 0:
        denied = cluster_denied(state, request, "CLUSTER_ACTION")
    else:
        denied = topic_denied(state, request, "DESCRIBE", t.topic)
    if denied:
        return [{"error_code": ErrorCode.TOPIC_AUTHORIZATION_FAILED, "partition": p.partition,
                 "leader_epoch": -1, "end_offset": -1} for p in t.partitions]
    return [_answer(state, t.topic, p) for p in t.partitions]


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    return {
        "throttle_time_ms": 0,
        "topics": [
            {"topic": t.topic, "partitions": _partitions(state, request, req, t)}
            for t in req.topics
        ],
    }
