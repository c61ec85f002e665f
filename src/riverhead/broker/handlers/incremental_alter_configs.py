"""IncrementalAlterConfigs (key 44), v0-1: SET/DELETE/APPEND/SUBTRACT topic configs.

Broker configs are static (set in the properties file, environment or flags); altering
them is refused with INVALID_REQUEST and a message saying so.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode

TOPIC = 2


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    responses = []
    for res in req.resources:
        out: dict[str, Any] = {
            "error_code": 0,
            "error_message": None,
            "resource_type": res.resource_type,
            "resource_name": res.resource_name,
        }
        if res.resource_type != TOPIC:
            out["error_code"] = ErrorCode.INVALID_REQUEST
            out["error_message"] = "only topic configs can be altered; broker configs are static"
        else:
            changes = [(c.name, int(c.config_operation), c.value) for c in res.configs]
            result = state.alter_topic_configs(
                res.resource_name, changes, validate_only=bool(req.validate_only)
            )
            out["error_code"] = result.error
            out["error_message"] = result.message
        responses.append(out)
    return {"throttle_time_ms": 0, "responses": responses}
