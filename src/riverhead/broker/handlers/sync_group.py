"""SyncGroup (key 14), v0-5: the leader hands out the assignment; everyone waits for it."""

from __future__ import annotations

from riverhead.broker.engine import PARKED
from riverhead.broker.request import Reply, Request
from riverhead.broker.state import BrokerState
from riverhead.security.checks import group_denied


def handle(state: BrokerState, request: Request) -> Reply:
    req = request.decode()
    denied = group_denied(state, request, "READ", req.group_id)
    if denied:
        return {"throttle_time_ms": 0, "error_code": denied, "protocol_type": None,
                "protocol_name": None, "assignment": b""}
    answer = state.groups.sync(
        request,
        group_id=req.group_id,
        member_id=req.member_id,
        generation=int(req.generation_id),
        instance_id=getattr(req, "group_instance_id", None),
        assignments={a.member_id: bytes(a.assignment) for a in req.assignments},
    )
    return PARKED if answer is None else answer
