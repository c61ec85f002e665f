"""DeleteTopics (key 20), v1-6: by name (all versions) or by topic id (v6)."""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import topic_denied


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    wanted: list[tuple[str | None, Any]] = []
    if request.version >= 6:
        wanted = [(t.name, t.topic_id) for t in req.topics]
    else:
        wanted = [(name, None) for name in req.topic_names]
    responses = []
    for name, topic_id in wanted:
        if name is None and topic_id is not None:
            info = state.topics.by_id(topic_id)
            name = info.name if info is not None else None
        if name is None:
            responses.append(
                {
                    "name": None,
                    "topic_id": topic_id,
                    "error_code": ErrorCode.UNKNOWN_TOPIC_ID,
                    "error_message": "no topic with that id",
                }
            )
            continue
        info = state.topics.get(name)
        denied = topic_denied(state, request, "DELETE", name)
        if denied:
            responses.append({"name": name, "topic_id": topic_id, "error_code": denied,
                              "error_message": "not authorized to delete this topic"})
            continue
        result = state.delete_topic(name)
        responses.append(
            {
                "name": name,
                "topic_id": info.topic_id if info is not None else None,
                "error_code": result.error,
                "error_message": result.message,
            }
        )
    return {"throttle_time_ms": 0, "responses": responses}
