"""DeleteGroups (key 42), v0-2: only Empty groups (NON_EMPTY_GROUP otherwise)."""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.security.checks import enabled, group_denied


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    if enabled(state):
        return {"throttle_time_ms": 0, "results": [
            {"group_id": g, "error_code": group_denied(state, request, "DELETE", g)
             or state.groups.delete_group(g)} for g in req.groups_names]}
    return {
        "throttle_time_ms": 0,
        "results": [
            {"group_id": g, "error_code": state.groups.delete_group(g)} for g in req.groups_names
        ],
    }
