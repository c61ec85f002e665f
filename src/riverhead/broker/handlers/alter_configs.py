"""AlterConfigs (key 33), v0-2: the legacy, non-incremental config update.

The request names the *complete* set of a topic's configs: keys it lists are set, every
other topic-level override is removed (back to the broker default) — Kafka's semantics,
which is why IncrementalAlterConfigs replaced it. Served because aiokafka's admin client
has only this one. Broker configs are static and refused, as in IncrementalAlterConfigs.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.handlers.incremental_alter_configs import (
    DELETE,
    SET,
    Changes,
    alter_resources,
)
from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.broker.topics import TopicInfo


def _replace_all(res: Any, info: TopicInfo) -> Changes:
    wanted = {c.name: c.value for c in res.configs}
    changes: Changes = [(key, DELETE, None) for key in info.configs if key not in wanted]
    changes += [(key, SET if v is not None else DELETE, v) for key, v in wanted.items()]
    return changes


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    return alter_resources(state, req.resources, bool(req.validate_only), _replace_all, request)
