"""Metadata (key 3), v0-12: brokers, cluster id, controller, topics and partitions.

A null topic list means all topics; an empty list (v1+) means none. Unknown topics are
created when ``auto.create.topics.enable`` is on and the request allows it (v4+ field
``allow_auto_topic_creation``; always allowed before v4). Topics can be asked for by
name; v10+ answers carry topic ids. Authorized-operations fields are INT32_MIN ("not
provided"): -1 would make kafka-python's admin client crash (see research notes, P7).
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.broker.topics import TopicInfo, topic_name_error
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import may, topic_denied
from riverhead.security.listeners import advertised_for, endpoint_for

NOT_PROVIDED = -(2**31)


def broker_list(state: BrokerState, listener_name: str = "") -> list[dict[str, Any]]:
    if state.cluster is not None:
        brokers = sorted(state.cluster.metadata.brokers.values(), key=lambda b: b.node_id)
        out = []
        for b in brokers:  # each broker's endpoint on the client's own listener
            host, port = endpoint_for(b.endpoints, listener_name, (b.host, b.port))
            out.append({"node_id": b.node_id, "host": host, "port": port, "rack": b.rack})
        return out
    listener = advertised_for(state.config, listener_name)  # the client's own listener
    return [{"node_id": state.node_id, "host": listener.host, "port": listener.port, "rack": None}]


def controller_id(state: BrokerState) -> int:
    return state.cluster.metadata.controller_id if state.cluster is not None else state.node_id


def _cluster_partitions(state: BrokerState, info: TopicInfo) -> list[dict[str, Any]] | None:
    """Partition entries from the cluster's metadata (cluster mode), else None."""
    if state.cluster is None:
        return None
    cache = state.cluster.metadata
    meta = cache.topic(info.name)
    if meta is None:
        return []
    live = cache.brokers
    out = []
    for index, replicas in sorted(meta.assignment.replicas.items()):
        st = meta.states.get(index)
        leader = st.leader if st is not None else -1
        out.append(
            {
                "error_code": ErrorCode.LEADER_NOT_AVAILABLE if leader < 0 else 0,
                "partition_index": index,
                "leader_id": leader,
                "leader_epoch": st.leader_epoch if st is not None else -1,
                "replica_nodes": list(replicas),
                "isr_nodes": list(st.isr) if st is not None else [],
                "offline_replicas": [r for r in replicas if r not in live],
            }
        )
    return out


def topic_entry(state: BrokerState, info: TopicInfo) -> dict[str, Any]:
    node = state.node_id
    cluster_partitions = _cluster_partitions(state, info)
    return {
        "error_code": 0,
        "name": info.name,
        "topic_id": info.topic_id,
        "is_internal": info.internal,
        "partitions": [
            {
                "error_code": 0,
                "partition_index": i,
                "leader_id": node,
                "leader_epoch": 0,
                "replica_nodes": [node],
                "isr_nodes": [node],
                "offline_replicas": [],
            }
            for i in range(info.partitions)
        ]
        if cluster_partitions is None
        else cluster_partitions,
        "topic_authorized_operations": NOT_PROVIDED,
    }


def _missing(name: str | None, error: ErrorCode) -> dict[str, Any]:
    return {
        "error_code": error,
        "name": name,
        "topic_id": None,
        "is_internal": False,
        "partitions": [],
        "topic_authorized_operations": NOT_PROVIDED,
    }


def _may_create(state: BrokerState, request: Request, name: str) -> bool:
    """Auto creation needs Create on the cluster or on the topic (as Kafka)."""
    return may(state, request, "CREATE", "CLUSTER", "kafka-cluster") or may(
        state, request, "CREATE", "TOPIC", name
    )


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    allow_auto = request.version < 4 or bool(getattr(req, "allow_auto_topic_creation", True))
    topics: list[dict[str, Any]] = []
    wanted = req.topics
    if wanted is None or (request.version == 0 and not wanted):
        topics = [
            topic_entry(state, info)
            for info in state.topics.all()
            if may(state, request, "DESCRIBE", "TOPIC", info.name)  # hide the others
        ]
    else:
        for item in wanted:
            name = item.name
            info = None
            if name is None:
                topic_id = getattr(item, "topic_id", None)
                info = state.topics.by_id(topic_id) if topic_id is not None else None
                if info is None:
                    topics.append(_missing(None, ErrorCode.UNKNOWN_TOPIC_ID))
                    continue
            else:
                if topic_name_error(name):
                    topics.append(_missing(name, ErrorCode.INVALID_TOPIC_EXCEPTION))
                    continue
                if topic_denied(state, request, "DESCRIBE", name):
                    topics.append(_missing(name, ErrorCode.TOPIC_AUTHORIZATION_FAILED))
                    continue
                info = state.topics.get(name)
                if info is None and allow_auto and _may_create(state, request, name):
                    info = state.auto_create_topic(name)
            if info is None:
                topics.append(_missing(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
            else:
                topics.append(topic_entry(state, info))
    return {
        "throttle_time_ms": 0,
        "brokers": broker_list(state, request.conn.listener),
        "cluster_id": state.topics.cluster_id,
        "controller_id": controller_id(state),
        "topics": topics,
        "cluster_authorized_operations": NOT_PROVIDED,
    }
