"""CreateAcls (key 30), v1-3: add ACL bindings; one result per creation.

SECURITY_DISABLED without an authorizer; needs Alter on the cluster. A binding Kafka
would refuse (ANY/MATCH pattern, unknown operation, bad principal...) gets
INVALID_REQUEST with the reason. Logged with the principal who asked.
"""

from __future__ import annotations

import logging
from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.acl import (
    AclBinding,
    AclError,
    Operation,
    PatternType,
    Permission,
    ResourceType,
)
from riverhead.security.authorizer import who
from riverhead.security.checks import cluster_denied

log = logging.getLogger("riverhead.security.acl")


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    store = state.security.acls
    if store is None:
        error: dict[str, Any] = {"error_code": ErrorCode.SECURITY_DISABLED,
                                 "error_message": "no authorizer is configured"}
        return {"results": [error for _ in req.creations]}
    denied = cluster_denied(state, request, "ALTER")
    if denied:
        return {"results": [{"error_code": denied, "error_message": None}
                            for _ in req.creations]}
    results: list[dict[str, Any]] = []
    good: list[AclBinding] = []
    for c in req.creations:
        try:
            binding = AclBinding(
                ResourceType(int(c.resource_type)), str(c.resource_name),
                PatternType(int(getattr(c, "resource_pattern_type", PatternType.LITERAL))),
                str(c.principal), str(c.host), Operation(int(c.operation)),
                Permission(int(c.permission_type)),
            )
            binding.validate()
        except (ValueError, AclError) as exc:
            results.append({"error_code": ErrorCode.INVALID_REQUEST, "error_message": str(exc)})
            continue
        good.append(binding)
        results.append({"error_code": 0, "error_message": None})
    if good:
        store.add(good)
        principal = who(request)[0]
        for b in good:
            log.info("%s added ACL %s", principal, b.to_json())
    return {"results": results}
