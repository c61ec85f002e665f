"""InitProducerId (key 22), v0-4: producer ids for idempotent producers.

A new producer gets a fresh id with epoch 0. v3+ lets a known producer bump its epoch
(KIP-360) by sending its current id and epoch; an epoch at its limit rolls to a new id.
v0-2 have no producer id/epoch fields: they are read as -1 (a new producer).
Transactions are not implemented: a transactional id is answered with INVALID_REQUEST
(Kafka has no "unsupported feature" code for this API) and logged.
"""

from __future__ import annotations

import logging
from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode

log = logging.getLogger("riverhead.broker")
MAX_EPOCH = 32767


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    if req.transactional_id is not None:
        log.warning(
            "InitProducerId for transactional id %r refused: transactions are not supported",
            req.transactional_id,
        )
        return {
            "throttle_time_ms": 0,
            "error_code": ErrorCode.INVALID_REQUEST,
            "producer_id": -1,
            "producer_epoch": -1,
        }
    pid = int(getattr(req, "producer_id", -1))
    epoch = int(getattr(req, "producer_epoch", -1))
    if pid >= 0 and 0 <= epoch < MAX_EPOCH - 1:
        return {
            "throttle_time_ms": 0,
            "error_code": 0,
            "producer_id": pid,
            "producer_epoch": epoch + 1,
        }
    return {
        "throttle_time_ms": 0,
        "error_code": 0,
        "producer_id": state.topics.next_producer_id(),
        "producer_epoch": 0,
    }
