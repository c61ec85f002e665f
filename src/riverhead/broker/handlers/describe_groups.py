"""DescribeGroups (key 15), v0-5: state, protocol, members with metadata and assignment.

Authorized operations are INT32_MIN ("not provided"): -1 crashes kafka-python's admin.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState

NOT_PROVIDED = -(2**31)


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    groups = []
    for group_id in req.groups:
        described = state.groups.describe(group_id)
        described["authorized_operations"] = NOT_PROVIDED
        groups.append(described)
    return {"throttle_time_ms": 0, "groups": groups}
