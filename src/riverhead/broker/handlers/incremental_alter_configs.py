"""IncrementalAlterConfigs (key 44), v0-1: SET/DELETE/APPEND/SUBTRACT topic configs.

Broker configs are static (set in the properties file, environment or flags); altering
them is refused with INVALID_REQUEST and a message saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.broker.topics import TopicInfo
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import config_resource_denied

TOPIC = 2
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
Changes = list[tuple[str, int, str | None]]


def alter_resources(
    state: BrokerState,
    resources: Any,
    validate_only: bool,
    changes_for: Callable[[Any, TopicInfo], Changes],
    request: Request | None = None,
) -> dict[str, Any]:
    """Apply ``changes_for(resource, topic)`` to each topic resource; shared with the
    legacy AlterConfigs, which differs only in how a resource becomes changes."""
    responses = []
    for res in resources:
        out: dict[str, Any] = {
            "error_code": 0,
            "error_message": None,
            "resource_type": res.resource_type,
            "resource_name": res.resource_name,
        }
        info = state.topics.get(res.resource_name) if res.resource_type == TOPIC else None
        denied = request is not None and config_resource_denied(
            state, request, "ALTER_CONFIGS", res.resource_type, res.resource_name
        )
        if denied:
            out["error_code"] = denied
            out["error_message"] = "not authorized to alter these configs"
        elif res.resource_type != TOPIC:
            out["error_code"] = ErrorCode.INVALID_REQUEST
            out["error_message"] = "only topic configs can be altered; broker configs are static"
        elif info is None:
            out["error_code"] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            out["error_message"] = f"no topic {res.resource_name!r}"
        else:
            result = state.alter_topic_configs(
                res.resource_name, changes_for(res, info), validate_only=validate_only
            )
            out["error_code"] = result.error
            out["error_message"] = result.message
        responses.append(out)
    return {"throttle_time_ms": 0, "responses": responses}


def _incremental(res: Any, _info: TopicInfo) -> Changes:
    return [(c.name, int(c.config_operation), c.value) for c in res.configs]


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    return alter_resources(state, req.resources, bool(req.validate_only), _incremental, request)
