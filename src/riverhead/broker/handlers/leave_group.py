"""LeaveGroup (key 13), v0-5: one member (v0-2) or a batch of members (v3+, KIP-345)."""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.security.checks import group_denied


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    denied = group_denied(state, request, "READ", req.group_id)
    if denied:
        return {"throttle_time_ms": 0, "error_code": denied, "members": []}
    if request.version >= 3:
        leaving = [(m.member_id, m.group_instance_id) for m in req.members]
    else:
        leaving = [(req.member_id, None)]
    error, results = state.groups.leave(req.group_id, leaving)
    if request.version < 3 and results:
        error = results[0][2]
    return {
        "throttle_time_ms": 0,
        "error_code": error,
        "members": [
            {"member_id": m, "group_instance_id": i, "error_code": e} for m, i, e in results
        ],
    }
