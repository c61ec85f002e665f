"""SaslAuthenticate (key 36), v0-2: one SASL token in, one out.

Success marks the session authenticated (``User:<name>``); with
``connections.max.reauth.ms`` > 0, v1+ answers carry the session lifetime. Failure answers
SASL_AUTHENTICATION_FAILED after ``connection.failed.authentication.delay.ms`` (parked on
the purgatory's timer: no thread waits) and then closes the connection. The same message
is given for a wrong password and an unknown user. Failures are logged with the claimed
user name, mechanism and address — never a password or proof.
"""

from __future__ import annotations

import logging
import time

from riverhead.broker.engine import PARKED
from riverhead.broker.purgatory import DelayedReply
from riverhead.broker.request import Reply, Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.authenticate import authenticated
from riverhead.security.sasl import SaslFailure

log = logging.getLogger("riverhead.security.sasl")


def _failure(state: BrokerState, request: Request, message: str) -> Reply:
    reply = {"error_code": ErrorCode.SASL_AUTHENTICATION_FAILED, "error_message": message,
             "auth_bytes": b"", "session_lifetime": 0}
    delay = state.security.failed_auth_delay_ms
    if delay <= 0:
        request.conn.eof = True
        return reply
    # answered after a delay, then the connection closes
    state.purgatory.watch(DelayedReply(request, reply, time.monotonic() + delay / 1000,
                                       close=True))
    return PARKED


def handle(state: BrokerState, request: Request) -> Reply:
    req = request.decode()
    session = request.conn.session
    server = session.sasl if session is not None else None
    if session is None or server is None:
        request.conn.eof = True
        return {"error_code": ErrorCode.ILLEGAL_SASL_STATE, "auth_bytes": b"",
                "error_message": "SaslAuthenticate without a SaslHandshake first"}
    try:
        reply = server.evaluate(bytes(req.auth_bytes))
    except SaslFailure as exc:
        session.sasl = None
        log.info(
            "authentication failed for user %r via %s on %s from %s: %s",
            server.attempted_user[:128], server.mechanism, session.listener, session.host, exc,
        )
        return _failure(
            state,
            request,
            f"Authentication failed during authentication due to {exc} with SASL mechanism "
            f"{server.mechanism}",
        )
    lifetime = 0
    if server.complete:
        reauth = state.security.reauth_ms
        lifetime = reauth if reauth > 0 and request.version >= 1 else 0
        if not authenticated(request.conn, session, server.user, lifetime):
            return _failure(state, request, "Cannot change principals during re-authentication")
    return {"error_code": 0, "error_message": None, "auth_bytes": reply,
            "session_lifetime": lifetime}
