"""CreatePartitions (key 37), v0-3: raise a topic's partition count."""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import topic_denied


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    results = []
    for topic in req.topics:
        denied = topic_denied(state, request, "ALTER", topic.name)
        if denied:
            results.append({"name": topic.name, "error_code": denied,
                            "error_message": "not authorized to alter this topic"})
            continue
        if topic.assignments and any(
            b != state.node_id for a in topic.assignments for b in a.broker_ids
        ):
            results.append(
                {
                    "name": topic.name,
                    "error_code": ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                    "error_message": f"only broker {state.node_id} exists",
                }
            )
            continue
        result = state.add_partitions(
            topic.name, int(topic.count), validate_only=bool(req.validate_only)
        )
        results.append(
            {"name": topic.name, "error_code": result.error, "error_message": result.message}
        )
    return {"throttle_time_ms": 0, "results": results}
