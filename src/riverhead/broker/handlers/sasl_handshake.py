"""SaslHandshake (key 17), v0-1: pick the SASL mechanism for this connection.

Answers the listener's enabled mechanisms; UNSUPPORTED_SASL_MECHANISM for any other.
v1 means the tokens follow in SaslAuthenticate requests; v0 means they follow as bare
size-prefixed frames (handled by :mod:`riverhead.security.gate`). On a listener without
SASL the answer is ILLEGAL_SASL_STATE, as in Kafka. Sent again on an authenticated
connection, it starts a re-authentication (KIP-368).
"""

from __future__ import annotations

import logging
from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.sasl import new_server

log = logging.getLogger("riverhead.security.sasl")


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    session = request.conn.session
    if session is None or not session.protocol.uses_sasl:
        return {"error_code": ErrorCode.ILLEGAL_SASL_STATE, "mechanisms": []}
    enabled = state.security.mechanisms(session.listener)
    mechanism = str(req.mechanism)
    if mechanism not in enabled:
        log.info(
            "SASL mechanism %r asked by %s is not enabled on %s",
            mechanism[:64],
            request.conn.addr,
            session.listener,
        )
        return {"error_code": ErrorCode.UNSUPPORTED_SASL_MECHANISM, "mechanisms": list(enabled)}
    security = state.security
    session.mechanism = mechanism
    session.sasl = new_server(mechanism, security.credentials, security.fake_salt_secret)
    session.raw_tokens = request.version == 0
    return {"error_code": 0, "mechanisms": list(enabled)}
