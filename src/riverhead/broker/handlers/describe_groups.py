"""DescribeGroups (key 15), v0-5: state, protocol, members with metadata and assignment.

Authorized operations are INT32_MIN ("not provided"): -1 crashes kafka-python's admin.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.security.checks import enabled, group_denied

NOT_PROVIDED = -(2**31)


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    if enabled(state):
        denied_groups = {g: group_denied(state, request, "DESCRIBE", g) for g in req.groups}
        if any(denied_groups.values()):
            return {"throttle_time_ms": 0, "groups": [
                {"error_code": code, "group_id": g, "group_state": "", "protocol_type": "",
                 "protocol_data": "", "members": [], "authorized_operations": NOT_PROVIDED}
                if code else {**state.groups.describe(g), "authorized_operations": NOT_PROVIDED}
                for g, code in denied_groups.items()]}
    groups = []
    for group_id in req.groups:
        described = state.groups.describe(group_id)
        described["authorized_operations"] = NOT_PROVIDED
        groups.append(described)
    return {"throttle_time_ms": 0, "groups": groups}
