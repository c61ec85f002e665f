"""DescribeAcls (key 29), v1-3: the ACL bindings matching a filter, grouped by resource.

SECURITY_DISABLED without an authorizer (as Kafka); needs Describe on the cluster.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.acl import AclBinding, AclFilter, Operation, PatternType, Permission
from riverhead.security.acl import ResourceType as RT
from riverhead.security.checks import cluster_denied


def acl_filter(
    rtype: int, name: str | None, pattern: int, principal: str | None, host: str | None,
    operation: int, permission: int,
) -> AclFilter:
    """A filter from request fields; raises ValueError for codes Kafka does not define."""
    return AclFilter(
        RT(int(rtype)), name, PatternType(int(pattern)), principal, host,
        Operation(int(operation)), Permission(int(permission)),
    )


def group_by_resource(bindings: list[AclBinding]) -> list[dict[str, Any]]:
    groups: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
    for b in bindings:
        groups.setdefault((b.resource_type, b.name, b.pattern), []).append(
            {"principal": b.principal, "host": b.host, "operation": int(b.operation),
             "permission_type": int(b.permission)}
        )
    return [
        {"resource_type": rt, "resource_name": name, "pattern_type": pt, "acls": acls}
        for (rt, name, pt), acls in groups.items()
    ]


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    store = state.security.acls
    if store is None:
        return {"error_code": ErrorCode.SECURITY_DISABLED, "resources": [],
                "error_message": "no authorizer is configured (authorizer.class.name)"}
    denied = cluster_denied(state, request, "DESCRIBE")
    if denied:
        return {"error_code": denied, "error_message": None, "resources": []}
    try:
        flt = acl_filter(req.resource_type_filter, req.resource_name_filter,
                         req.pattern_type_filter, req.principal_filter, req.host_filter,
                         req.operation, req.permission_type)
    except ValueError as exc:
        return {"error_code": ErrorCode.INVALID_REQUEST, "error_message": str(exc),
                "resources": []}
    found = [b for b in store.all() if flt.matches(b)]
    return {"error_code": 0, "error_message": None, "resources": group_by_resource(found)}
