"""ListGroups (key 16), v0-4: every group, optionally filtered by state (v4)."""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.security.checks import cluster_denied, enabled, may


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    if enabled(state) and cluster_denied(state, request, "DESCRIBE"):
        # Without Describe on the cluster: only the groups it may describe (as Kafka).
        states = set(getattr(req, "states_filter", ()) or ())
        return {"throttle_time_ms": 0, "error_code": 0, "groups": [
            {"group_id": g, "protocol_type": p, "group_state": s, "group_type": "classic"}
            for g, p, s in state.groups.list_groups(states)
            if may(state, request, "DESCRIBE", "GROUP", g)]}
    states = set(getattr(req, "states_filter", ()) or ())
    return {
        "throttle_time_ms": 0,
        "error_code": 0,
        "groups": [
            {"group_id": g, "protocol_type": p, "group_state": s, "group_type": "classic"}
            for g, p, s in state.groups.list_groups(states)
        ],
    }
