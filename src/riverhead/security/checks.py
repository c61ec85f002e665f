"""Authorization checks for handlers: one call per resource, free without an authorizer.

Each function returns ``ErrorCode.NONE`` (0, falsy) when allowed, else the error code
Kafka answers for the resource type, and logs the denial with the principal. With no
``authorizer.class.name`` configured every check is a single ``is None`` test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from riverhead.protocol.errors import ErrorCode

if TYPE_CHECKING:
    from riverhead.broker.request import Request
    from riverhead.broker.state import BrokerState


def cluster_denied(state: BrokerState, request: Request, operation: str) -> ErrorCode:
    authorizer = state.security.authorizer
    if authorizer is None:
        return ErrorCode.NONE
    code: ErrorCode = authorizer.check(request, operation, "CLUSTER", "kafka-cluster")
    return code
