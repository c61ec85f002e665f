"""OffsetFetch (key 9), v1-8: committed offsets (-1 where none); v8 asks for many groups."""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.security.checks import group_denied


def _topics(state: BrokerState, group_id: str, topics: Any) -> list[dict[str, Any]]:
    wanted = None if topics is None else [(t.name, list(t.partition_indexes)) for t in topics]
    return [
        {
            "name": topic,
            "partitions": [
                {
                    "partition_index": partition,
                    "committed_offset": c.offset if c else -1,
                    "committed_leader_epoch": c.leader_epoch if c else -1,
                    "metadata": c.metadata if c else "",
                    "error_code": 0,
                }
                for partition, c in partitions
            ],
        }
        for topic, partitions in state.groups.fetch_offsets(group_id, wanted)
    ]


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    if request.version >= 8:
        groups = []
        for g in req.groups:
            error = group_denied(state, request, "DESCRIBE", g.group_id) or (
                state.groups.owner_error(g.group_id)
            )
            topics = [] if error else _topics(state, g.group_id, g.topics)
            groups.append({"group_id": g.group_id, "topics": topics, "error_code": error})
        return {"throttle_time_ms": 0, "groups": groups}
    error = group_denied(state, request, "DESCRIBE", req.group_id) or (
        state.groups.owner_error(req.group_id)
    )
    return {
        "throttle_time_ms": 0,
        "error_code": error,
        "topics": [] if error else _topics(state, req.group_id, req.topics),
    }
