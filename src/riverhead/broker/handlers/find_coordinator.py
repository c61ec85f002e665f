"""FindCoordinator (key 10), v0-4: no coordinators exist yet.

Advertised although groups and transactions are not implemented, because librdkafka
before 2.11.1 — and, for lz4, current librdkafka too — enables compression codecs only
when FindCoordinator v0 lies in the advertised range (``rdkafka_feature.c``); without it
lz4 batches are silently sent uncompressed. Every lookup is answered
COORDINATOR_NOT_AVAILABLE (retriable), which clients treat as "try again later".
v4 answers the batched form (KIP-699).
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode

_MESSAGE = "consumer groups and transactions are not supported by this broker yet"


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    error = ErrorCode.COORDINATOR_NOT_AVAILABLE
    if request.version >= 4:
        return {
            "throttle_time_ms": 0,
            "coordinators": [
                {
                    "key": key,
                    "node_id": -1,
                    "host": "",
                    "port": -1,
                    "error_code": error,
                    "error_message": _MESSAGE,
                }
                for key in req.coordinator_keys
            ],
        }
    return {
        "throttle_time_ms": 0,
        "error_code": error,
        "error_message": _MESSAGE,
        "node_id": -1,
        "host": "",
        "port": -1,
    }
