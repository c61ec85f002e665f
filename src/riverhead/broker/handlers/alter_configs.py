"""AlterConfigs (key 33), v0-2: the legacy, non-incremental config update.

The request names the *complete* set of a topic's configs: keys it lists are set, every
other topic-level override is removed (back to the broker default) — Kafka's semantics,
which is why IncrementalAlterConfigs replaced it. Served because aiokafka's admin client
has only this one. Broker configs are static and refused, as in IncrementalAlterConfigs.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode

TOPIC = 2
SET, DELETE = 0, 1


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
        info = state.topics.get(res.resource_name) if res.resource_type == TOPIC else None
        if res.resource_type != TOPIC:
            out["error_code"] = ErrorCode.INVALID_REQUEST
            out["error_message"] = "only topic configs can be altered; broker configs are static"
        elif info is None:
            out["error_code"] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            out["error_message"] = f"no topic {res.resource_name!r}"
        else:
            wanted = {c.name: c.value for c in res.configs}
            changes: list[tuple[str, int, str | None]] = [
                (key, DELETE, None) for key in info.configs if key not in wanted
            ]
            changes += [
                (key, SET, value) if value is not None else (key, DELETE, None)
                for key, value in wanted.items()
            ]
            result = state.alter_topic_configs(
                res.resource_name, changes, validate_only=bool(req.validate_only)
            )
            out["error_code"] = result.error
            out["error_message"] = result.message
        responses.append(out)
    return {"throttle_time_ms": 0, "responses": responses}
