"""FindCoordinator (key 10), v0-4: this broker coordinates every group.

Transaction coordinators (key type 1) are answered COORDINATOR_NOT_AVAILABLE:
transactions are not implemented. v4 answers the batched form (KIP-699).
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode

GROUP, TRANSACTION = 0, 1


def _lookup(state: BrokerState, key_type: int) -> dict[str, Any]:
    if key_type != GROUP:
        return {
            "error_code": ErrorCode.COORDINATOR_NOT_AVAILABLE,
            "error_message": "transactions are not supported",
            "node_id": -1,
            "host": "",
            "port": -1,
        }
    listener = state.config.advertised_listeners[0]
    return {
        "error_code": 0,
        "error_message": None,
        "node_id": state.node_id,
        "host": listener.host,
        "port": listener.port,
    }


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    key_type = int(getattr(req, "key_type", GROUP))
    if request.version >= 4:
        return {
            "throttle_time_ms": 0,
            "coordinators": [
                {"key": key, **_lookup(state, key_type)} for key in req.coordinator_keys
            ],
        }
    return {"throttle_time_ms": 0, **_lookup(state, key_type)}
