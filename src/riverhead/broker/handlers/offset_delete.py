"""OffsetDelete (key 47), v0: drop committed offsets of a group no member consumes.

Kafka refuses only partitions a Stable group is subscribed to; Riverhead refuses every
partition while the group has members (GROUP_SUBSCRIBED_TO_TOPIC), which is stricter.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import enabled, group_denied, topic_denied


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    if enabled(state):
        denied = group_denied(state, request, "DELETE", req.group_id)
        if denied:
            return {"error_code": denied, "throttle_time_ms": 0, "topics": []}
        blocked = {t.name for t in req.topics if topic_denied(state, request, "READ", t.name)}
        if blocked:
            return {"error_code": 0, "throttle_time_ms": 0, "topics": [
                {"name": t.name, "partitions": [
                    {"partition_index": p.partition_index,
                     "error_code": ErrorCode.TOPIC_AUTHORIZATION_FAILED} for p in t.partitions]}
                for t in req.topics if t.name in blocked]}
    wanted = [(t.name, int(p.partition_index)) for t in req.topics for p in t.partitions]
    error, results = state.groups.delete_offsets(req.group_id, wanted)
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for topic, partition, code in results:
        by_topic.setdefault(topic, []).append({"partition_index": partition, "error_code": code})
    return {
        "error_code": error,
        "throttle_time_ms": 0,
        "topics": [{"name": t, "partitions": parts} for t, parts in by_topic.items()],
    }
