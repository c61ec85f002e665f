"""DeleteAcls (key 31), v1-3: remove the bindings matching each filter; each filter's
result lists what it removed. SECURITY_DISABLED without an authorizer; needs Alter on
the cluster."""

from __future__ import annotations

import logging
from typing import Any

from riverhead.broker.handlers.describe_acls import acl_filter
from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.authorizer import who
from riverhead.security.checks import cluster_denied

log = logging.getLogger("riverhead.security.acl")


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    store = state.security.acls
    if store is None:
        return {"filter_results": [
            {"error_code": ErrorCode.SECURITY_DISABLED, "error_message": None,
             "matching_acls": []} for _ in req.filters]}
    denied = cluster_denied(state, request, "ALTER")
    if denied:
        return {"filter_results": [
            {"error_code": denied, "error_message": None, "matching_acls": []}
            for _ in req.filters]}
    out: list[dict[str, Any]] = []
    for f in req.filters:
        try:
            flt = acl_filter(f.resource_type_filter, f.resource_name_filter,
                             f.pattern_type_filter, f.principal_filter, f.host_filter,
                             f.operation, f.permission_type)
        except ValueError as exc:
            out.append({"error_code": ErrorCode.INVALID_REQUEST, "error_message": str(exc),
                        "matching_acls": []})
            continue
        removed = store.remove(flt)
        for b in removed:
            log.info("%s removed ACL %s", who(request)[0], b.to_json())
        out.append({"error_code": 0, "error_message": None, "matching_acls": [
            {"error_code": 0, "error_message": None, "resource_type": int(b.resource_type),
             "resource_name": b.name, "pattern_type": int(b.pattern), "principal": b.principal,
             "host": b.host, "operation": int(b.operation),
             "permission_type": int(b.permission)} for b in removed]})
    return {"filter_results": out}
