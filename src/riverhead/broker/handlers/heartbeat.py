"""Heartbeat (key 12), v0-4: keeps a member's session; REBALANCE_IN_PROGRESS asks it to rejoin."""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.security.checks import group_denied


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    denied = group_denied(state, request, "READ", req.group_id)
    if denied:
        return {"throttle_time_ms": 0, "error_code": denied}
    error = state.groups.heartbeat(
        group_id=req.group_id,
        member_id=req.member_id,
        generation=int(req.generation_id),
        instance_id=getattr(req, "group_instance_id", None),
    )
    return {"throttle_time_ms": 0, "error_code": error}
