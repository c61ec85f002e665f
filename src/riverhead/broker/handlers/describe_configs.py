"""DescribeConfigs (key 32), v1-4: topic configs and broker configs.

Topic configs list every topic-level key with its effective value and source:
DYNAMIC_TOPIC_CONFIG (1) when the topic sets it, STATIC_BROKER_CONFIG (4) when the
broker's ``log.*`` default was configured, DEFAULT_CONFIG (5) otherwise. Broker resources
(type 4, named by the broker id) list the broker's keys.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.log.config import TOPIC_CONFIGS
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import config_resource_denied
from riverhead.security.listeners import is_sensitive

TOPIC, BROKER = 2, 4
DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG = 1, 4, 5
_TYPES = {int: 5, bool: 1, str: 2, float: 6}  # LONG, BOOLEAN, STRING, DOUBLE

# topic key -> the broker key that sets its default
_BROKER_KEY = {
    "segment.bytes": "log.segment.bytes",
    "segment.ms": "log.roll.ms",
    "retention.ms": "log.retention.ms",
    "retention.bytes": "log.retention.bytes",
    "cleanup.policy": "log.cleanup.policy",
    "max.message.bytes": "message.max.bytes",
    "message.timestamp.type": "log.message.timestamp.type",
    "flush.messages": "log.flush.interval.messages",
    "flush.ms": "log.flush.interval.ms",
    "min.insync.replicas": "min.insync.replicas",
    "compression.type": "compression.type",
    "index.interval.bytes": "log.index.interval.bytes",
    "segment.index.bytes": "log.index.size.max.bytes",
    "preallocate": "log.preallocate",
    "file.delete.delay.ms": "log.segment.delete.delay.ms",
}


def topic_config_entries(
    state: BrokerState, configs: dict[str, str], keys: list[str] | None
) -> list[dict[str, Any]]:
    entries = []
    for key, (_attr, kind) in sorted(TOPIC_CONFIGS.items()):
        if keys is not None and key not in keys:
            continue
        broker_key = _BROKER_KEY.get(key)
        if key in configs:
            value, source = configs[key], DYNAMIC_TOPIC_CONFIG
        else:
            value = state.defaults.topic_value(key)
            static = (
                broker_key is not None
                and state.config.sources.get(broker_key, "default") != "default"
            )
            source = STATIC_BROKER_CONFIG if static else DEFAULT_CONFIG
        entries.append(
            {
                "name": key,
                "value": value,
                "read_only": False,
                "config_source": source,
                "is_sensitive": False,
                "synonyms": [],
                "config_type": _TYPES[kind],
                "documentation": None,
            }
        )
    return entries


def _broker_entries(state: BrokerState, keys: list[str] | None) -> list[dict[str, Any]]:
    return [
        {
            "name": key,
            "value": None if is_sensitive(key) else value,  # secrets stay on the broker
            "read_only": True,
            "config_source": STATIC_BROKER_CONFIG
            if state.config.sources.get(key, "default") != "default"
            else DEFAULT_CONFIG,
            "is_sensitive": is_sensitive(key),
            "synonyms": [],
            "config_type": 2,
            "documentation": None,
        }
        for key, value in sorted(state.config.values.items())
        if keys is None or key in keys
    ]


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    results = []
    for res in req.resources:
        keys = list(res.configuration_keys) if res.configuration_keys is not None else None
        result: dict[str, Any] = {
            "error_code": 0,
            "error_message": None,
            "resource_type": res.resource_type,
            "resource_name": res.resource_name,
            "configs": [],
        }
        denied = config_resource_denied(
            state, request, "DESCRIBE_CONFIGS", res.resource_type, res.resource_name
        )
        if denied:
            result["error_code"] = denied
            result["error_message"] = "not authorized to describe these configs"
        elif res.resource_type == TOPIC:
            info = state.topics.get(res.resource_name)
            if info is None:
                result["error_code"] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                result["error_message"] = f"no topic {res.resource_name!r}"
            else:
                result["configs"] = topic_config_entries(state, info.configs, keys)
        elif res.resource_type == BROKER:
            if res.resource_name not in ("", str(state.node_id)):
                result["error_code"] = ErrorCode.INVALID_REQUEST
                result["error_message"] = f"this is broker {state.node_id}"
            else:
                result["configs"] = _broker_entries(state, keys)
        else:
            result["error_code"] = ErrorCode.INVALID_REQUEST
            result["error_message"] = f"resource type {res.resource_type} is not supported"
        results.append(result)
    return {"throttle_time_ms": 0, "results": results}
