"""Kafka's ACL authorizer: deny by default, deny beats allow, super users pass.

Decision for (principal, host, operation, resource), as Kafka's ``AclAuthorizer``:

1. a principal listed in ``super.users`` (``User:admin;User:broker``) is allowed;
2. any applicable DENY binding for the operation (or ALL) — principal equal or
   ``User:*``, host equal or ``*`` — denies;
3. any applicable ALLOW binding for the operation, ALL, or an operation implying it
   (READ/WRITE/DELETE/ALTER imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS) allows;
4. otherwise denied — unless no binding at all applies to the resource and
   ``allow.everyone.if.no.acl.found=true``.

Every denial is logged (logger ``riverhead.security.authorizer``, INFO) with principal,
host, operation, resource and request, as Kafka's authorizer log does.
Thread-safe: reads the store's current immutable index.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from riverhead.protocol.apis import api_name
from riverhead.protocol.errors import ErrorCode
from riverhead.security.acl import (
    AclStore,
    Operation,
    Permission,
    ResourceType,
)
from riverhead.security.session import ANONYMOUS
from riverhead.security.zk_acls import ZkAclStore

if TYPE_CHECKING:
    from riverhead.broker.request import Request

log = logging.getLogger("riverhead.security.authorizer")

_IMPLIED: dict[Operation, tuple[Operation, ...]] = {
    Operation.DESCRIBE: (
        Operation.DESCRIBE, Operation.READ, Operation.WRITE, Operation.DELETE, Operation.ALTER,
    ),
    Operation.DESCRIBE_CONFIGS: (Operation.DESCRIBE_CONFIGS, Operation.ALTER_CONFIGS),
}

DENIED_ERROR: dict[ResourceType, ErrorCode] = {
    ResourceType.TOPIC: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
    ResourceType.GROUP: ErrorCode.GROUP_AUTHORIZATION_FAILED,
    ResourceType.CLUSTER: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
    ResourceType.TRANSACTIONAL_ID: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
}


def who(request: Request) -> tuple[str, str]:
    """(principal, host) of the connection a request came on."""
    session = request.conn.session
    if session is not None:
        return session.principal, session.host
    return ANONYMOUS, request.conn.addr.rpartition(":")[0]


def parse_super_users(text: str) -> frozenset[str]:
    return frozenset(p.strip() for p in text.split(";") if p.strip())


class Authorizer:
    def __init__(
        self,
        store: AclStore | ZkAclStore,
        super_users: frozenset[str],
        allow_if_no_acl: bool = False,
    ) -> None:
        self.store = store
        self.super_users = super_users
        self.allow_if_no_acl = allow_if_no_acl

    def authorize(
        self, principal: str, host: str, op: Operation, rtype: ResourceType, name: str
    ) -> bool:
        if principal in self.super_users:
            return True
        acls = self.store.index.applicable(rtype, name)
        if not acls:
            return self.allow_if_no_acl
        allow_ops = _IMPLIED.get(op, (op,))
        allowed = False
        for acl in acls:
            if acl.principal not in (principal, "User:*") or acl.host not in (host, "*"):
                continue
            if acl.permission == Permission.DENY:
                if acl.operation in (op, Operation.ALL):
                    return False
            elif acl.operation == Operation.ALL or acl.operation in allow_ops:
                allowed = True
        return allowed

    def allowed_quietly(self, request: Request, operation: str, rtype_name: str, name: str) -> bool:
        principal, host = who(request)
        return self.authorize(principal, host, Operation[operation], ResourceType[rtype_name], name)

    def check(self, request: Request, operation: str, rtype_name: str, name: str) -> ErrorCode:
        """NONE if the request's principal may; else the resource type's error (logged)."""
        principal, host = who(request)
        op = Operation[operation]
        rtype = ResourceType[rtype_name]
        if self.authorize(principal, host, op, rtype, name):
            return ErrorCode.NONE
        log.info(
            "Principal = %s is Denied operation = %s from host = %s on resource = %s:%s "
            "for request = %s",
            principal, op.name, host, rtype.name, name, api_name(request.api_key),
        )
        return DENIED_ERROR[rtype]
