"""AlterPartition (key 56), v2: a partition leader asks the controller to change an ISR.

Served only by the active controller (others answer NOT_CONTROLLER); the controller
applies the compare-and-set on its own thread, so this handler waits for the answer
(a ZooKeeper round trip). See :mod:`riverhead.cluster.alter_partition`.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.cluster.alter_partition import decode_request, response_tree
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import cluster_denied


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    denied = cluster_denied(state, request, "CLUSTER_ACTION")
    if denied:
        return response_tree(req, [], denied)
    node = state.cluster
    controller = node.controller if node is not None else None
    if node is None or controller is None or not controller.active:
        return response_tree(req, [], ErrorCode.NOT_CONTROLLER)
    names = {meta.assignment.topic_id: name for name, meta in node.metadata.topics.items()}
    changes = decode_request(req, names)
    known = [c for c in changes if c is not None]
    answers = iter(
        controller.alter_partition(int(req.broker_id), int(req.broker_epoch), known).result(10)
    )
    results = [next(answers) if c is not None else None for c in changes]
    return response_tree(req, results)
