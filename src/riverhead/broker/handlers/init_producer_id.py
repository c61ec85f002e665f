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
from riverhead.security.checks import (
    cluster_denied,
    enabled,
    may,
    transactional_id_denied,
)

log = logging.getLogger("riverhead.broker")
MAX_EPOCH = 32767


def _denied(state: BrokerState, request: Request, transactional_id: str | None) -> ErrorCode:
    """Write on the transactional id; else IdempotentWrite on the cluster or, since
    KIP-679, Write on any topic (Kafka 3's rule)."""
    if not enabled(state):
        return ErrorCode.NONE
    if transactional_id is not None:
        return transactional_id_denied(state, request, "WRITE", transactional_id)
    if may(state, request, "IDEMPOTENT_WRITE", "CLUSTER", "kafka-cluster"):
        return ErrorCode.NONE
    if any(may(state, request, "WRITE", "TOPIC", t.name) for t in state.topics.all()):
        return ErrorCode.NONE
    return cluster_denied(state, request, "IDEMPOTENT_WRITE")


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    denied = _denied(state, request, req.transactional_id)
    if denied:
        return {"throttle_time_ms": 0, "error_code": denied, "producer_id": -1,
                "producer_epoch": -1}
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
