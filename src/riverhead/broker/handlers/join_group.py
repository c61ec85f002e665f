"""JoinGroup (key 11), v0-7: the join barrier of a rebalance (see the group coordinator).

v4+ new members first get MEMBER_ID_REQUIRED with their member id (KIP-394) and join
again with it; static members (``group.instance.id``, v5+) skip that step.
"""

from __future__ import annotations

from riverhead.broker.engine import PARKED
from riverhead.broker.request import Reply, Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.messages import millis
from riverhead.security.checks import group_denied


def handle(state: BrokerState, request: Request) -> Reply:
    req = request.decode()
    denied = group_denied(state, request, "READ", req.group_id)
    if denied:
        return {"throttle_time_ms": 0, "error_code": denied, "generation_id": -1,
                "protocol_type": None, "protocol_name": "", "leader": "", "member_id": "",
                "members": []}
    session_ms = millis(req.session_timeout)
    rebalance = getattr(req, "rebalance_timeout", None)
    answer = state.groups.join(
        request,
        group_id=req.group_id,
        member_id=req.member_id,
        instance_id=getattr(req, "group_instance_id", None),
        session_timeout_ms=session_ms,
        rebalance_timeout_ms=millis(rebalance) if rebalance is not None else session_ms,
        protocol_type=req.protocol_type,
        protocols=[(p.name, bytes(p.metadata)) for p in req.protocols],
        client_id=request.header.client_id or "",
        client_host="/" + request.conn.addr.rsplit(":", 1)[0],
        require_known_member_id=request.version >= 4,
    )
    return PARKED if answer is None else answer
