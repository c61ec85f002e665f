"""FindCoordinator (key 10), v0-4: which broker coordinates a group.

A single broker coordinates every group. In a cluster the coordinator of a group is the
leader of its ``__consumer_offsets`` partition (created on first use, as Kafka does);
COORDINATOR_NOT_AVAILABLE while that partition has no leader. Transaction coordinators
(key type 1) are answered COORDINATOR_NOT_AVAILABLE: transactions are not implemented.
v4 answers the batched form (KIP-699).
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.groups.store import TOPIC
from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import group_denied, transactional_id_denied
from riverhead.security.listeners import advertised_for, endpoint_for

GROUP, TRANSACTION = 0, 1


def _cluster_lookup(state: BrokerState, key: str, listener_name: str = "") -> dict[str, Any]:
    assert state.cluster is not None
    store = state.groups.store
    unavailable = {
        "error_code": ErrorCode.COORDINATOR_NOT_AVAILABLE,
        "error_message": "the group's __consumer_offsets partition has no leader yet",
        "node_id": -1,
        "host": "",
        "port": -1,
    }
    try:
        store.ensure_topic()
    except OSError as exc:
        return {**unavailable, "error_message": str(exc)}
    partition = state.cluster.metadata.state(TOPIC, store.partition_for(key))
    endpoint = state.cluster.endpoint(partition.leader) if partition is not None else None
    if partition is None or endpoint is None:
        return unavailable
    info = state.cluster.metadata.brokers.get(partition.leader)
    if info is not None:  # the leader's endpoint on the client's own listener
        endpoint = endpoint_for(info.endpoints, listener_name, endpoint)
    return {
        "error_code": 0,
        "error_message": None,
        "node_id": partition.leader,
        "host": endpoint[0],
        "port": endpoint[1],
    }


def _lookup(
    state: BrokerState, key_type: int, key: str, listener_name: str = ""
) -> dict[str, Any]:
    if key_type == GROUP and state.cluster is not None:
        return _cluster_lookup(state, key, listener_name)
    if key_type != GROUP:
        return {
            "error_code": ErrorCode.COORDINATOR_NOT_AVAILABLE,
            "error_message": "transactions are not supported",
            "node_id": -1,
            "host": "",
            "port": -1,
        }
    listener = advertised_for(state.config, listener_name)
    return {
        "error_code": 0,
        "error_message": None,
        "node_id": state.node_id,
        "host": listener.host,
        "port": listener.port,
    }


def _authorized_lookup(
    state: BrokerState, request: Request, key_type: int, key: str
) -> dict[str, Any]:
    """Describe on the group (or transactional id) first, as Kafka."""
    if key_type == GROUP:
        denied = group_denied(state, request, "DESCRIBE", key)
    else:
        denied = transactional_id_denied(state, request, "DESCRIBE", key)
    if denied:
        return {"error_code": denied, "error_message": None, "node_id": -1, "host": "",
                "port": -1}
    return _lookup(state, key_type, key, request.conn.listener)


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    key_type = int(getattr(req, "key_type", GROUP))
    if request.version >= 4:
        return {
            "throttle_time_ms": 0,
            "coordinators": [
                {"key": key, **_authorized_lookup(state, request, key_type, key)}
                for key in req.coordinator_keys
            ],
        }
    return {"throttle_time_ms": 0, **_authorized_lookup(state, request, key_type, str(req.key))}
