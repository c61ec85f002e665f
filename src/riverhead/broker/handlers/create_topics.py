"""CreateTopics (key 19), v2-7. One broker: replication factor 1 (or -1 for the default)."""

from __future__ import annotations

from typing import Any

from riverhead.broker.handlers.describe_configs import topic_config_entries
from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.security.acl import CLUSTER_NAME as CLUSTER
from riverhead.security.checks import enabled, may, topic_denied


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    results = []
    cluster_create = not enabled(state) or may(state, request, "CREATE", "CLUSTER", CLUSTER)
    for topic in req.topics:
        if not cluster_create:
            denied = topic_denied(state, request, "CREATE", topic.name)
            if denied:
                results.append({"name": topic.name, "topic_id": None, "error_code": denied,
                                "error_message": "not authorized to create this topic",
                                "num_partitions": -1, "replication_factor": -1, "configs": []})
                continue
        configs = {c.name: c.value for c in topic.configs if c.value is not None}
        partitions = int(topic.num_partitions)
        replication = int(topic.replication_factor)
        if topic.assignments:
            partitions = len(topic.assignments)
            replication = max(len(a.broker_ids) for a in topic.assignments)
            if any(b != state.node_id for a in topic.assignments for b in a.broker_ids):
                replication = 2  # names a broker that does not exist: rejected below
        result = state.create_topic(
            topic.name,
            partitions,
            configs,
            replication_factor=replication,
            validate_only=bool(req.validate_only),
        )
        entry: dict[str, Any] = {
            "name": topic.name,
            "topic_id": None,
            "error_code": result.error,
            "error_message": result.message,
            "num_partitions": -1,
            "replication_factor": -1,
            "configs": [],
        }
        info = state.topics.get(topic.name)
        if result.ok and info is not None:
            entry.update(
                topic_id=info.topic_id,
                num_partitions=info.partitions,
                replication_factor=1,
                configs=[
                    {
                        "name": c["name"],
                        "value": c["value"],
                        "read_only": False,
                        "config_source": c["config_source"],
                        "is_sensitive": False,
                    }
                    for c in topic_config_entries(state, info.configs, None)
                ],
            )
        elif result.ok:  # validate_only
            entry.update(
                num_partitions=partitions if partitions > 0 else state.default_partitions,
                replication_factor=1,
            )
        results.append(entry)
    return {"throttle_time_ms": 0, "topics": results}
