"""OffsetCommit (key 8), v2-8: commit positions, fenced by member id and generation.

``generation_id = -1`` with an empty member id is a "simple" commit (tools, assign-only
consumers), accepted only while the group has no members.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import enabled, group_denied, topic_denied


def _refused(state: BrokerState, request: Request, req: Any) -> dict[str, Any] | None:
    """Read on the group, then on each topic; None when everything is allowed."""
    group_error = group_denied(state, request, "READ", req.group_id)
    denied = {
        t.name: group_error or topic_denied(state, request, "READ", t.name) for t in req.topics
    }
    if not any(denied.values()):
        return None
    return {"throttle_time_ms": 0, "topics": [
        {"name": t.name, "partitions": [
            {"partition_index": p.partition_index,
             "error_code": denied[t.name] or ErrorCode.TOPIC_AUTHORIZATION_FAILED}
            for p in t.partitions]}
        for t in req.topics]}


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    if enabled(state):
        refused = _refused(state, request, req)
        if refused is not None:
            return refused
    offsets = [
        (
            t.name,
            int(p.partition_index),
            int(p.committed_offset),
            int(getattr(p, "committed_leader_epoch", -1)),
            p.committed_metadata,
        )
        for t in req.topics
        for p in t.partitions
    ]
    results = state.groups.commit(
        group_id=req.group_id,
        member_id=req.member_id,
        generation=int(req.generation_id_or_member_epoch),
        instance_id=getattr(req, "group_instance_id", None),
        offsets=offsets,
    )
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for topic, partition, error in results:
        by_topic.setdefault(topic, []).append({"partition_index": partition, "error_code": error})
    return {
        "throttle_time_ms": 0,
        "topics": [{"name": t, "partitions": parts} for t, parts in by_topic.items()],
    }
