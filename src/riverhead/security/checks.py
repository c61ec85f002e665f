"""Authorization checks for handlers: one call per resource, free without an authorizer.

Each ``*_denied`` function returns ``ErrorCode.NONE`` (0, falsy) when allowed, else the
error Kafka answers for the resource type (TOPIC_AUTHORIZATION_FAILED,
GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED,
TRANSACTIONAL_ID_AUTHORIZATION_FAILED), and logs the denial with the principal. With no
``authorizer.class.name`` configured every check is one ``is None`` test.
Operations are named as :class:`riverhead.security.acl.Operation` members ("READ"...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from riverhead.protocol.errors import ErrorCode
from riverhead.security.acl import CLUSTER_NAME

if TYPE_CHECKING:
    from riverhead.broker.request import Request
    from riverhead.broker.state import BrokerState


def enabled(state: BrokerState) -> bool:
    return state.security.authorizer is not None


def _check(state: BrokerState, request: Request, op: str, rtype: str, name: str) -> ErrorCode:
    authorizer = state.security.authorizer
    if authorizer is None:
        return ErrorCode.NONE
    return authorizer.check(request, op, rtype, name)


def cluster_denied(state: BrokerState, request: Request, op: str) -> ErrorCode:
    return _check(state, request, op, "CLUSTER", CLUSTER_NAME)


def topic_denied(state: BrokerState, request: Request, op: str, topic: str) -> ErrorCode:
    return _check(state, request, op, "TOPIC", topic)


def group_denied(state: BrokerState, request: Request, op: str, group: str) -> ErrorCode:
    return _check(state, request, op, "GROUP", group)


def transactional_id_denied(
    state: BrokerState, request: Request, op: str, transactional_id: str
) -> ErrorCode:
    return _check(state, request, op, "TRANSACTIONAL_ID", transactional_id)


def may(state: BrokerState, request: Request, op: str, rtype: str, name: str) -> bool:
    """Whether allowed, without logging a denial (for filtering lists, as Kafka does)."""
    authorizer = state.security.authorizer
    if authorizer is None:
        return True
    return authorizer.allowed_quietly(request, op, rtype, name)


# DescribeConfigs/AlterConfigs resource types: 2 topic, 4 broker, 8 broker logger.
_CONFIG_TOPIC = 2


def config_resource_denied(
    state: BrokerState, request: Request, op: str, resource_type: int, name: str
) -> ErrorCode:
    """DescribeConfigs/AlterConfigs: ``op`` on the topic, or on the cluster for a broker."""
    if int(resource_type) == _CONFIG_TOPIC:
        return topic_denied(state, request, op, name)
    return cluster_denied(state, request, op)
