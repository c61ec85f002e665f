"""What happens to a session when its SASL exchange succeeds (shared by SaslAuthenticate
and the bare-token path of SaslHandshake v0)."""

from __future__ import annotations

import logging
import time

from riverhead.broker.connection import Connection
from riverhead.security.session import Session

log = logging.getLogger("riverhead.security.sasl")


def authenticated(conn: Connection, session: Session, user: str, lifetime_ms: int) -> bool:
    """Mark ``session`` authenticated as ``User:<user>``; False if this is a
    re-authentication as somebody else (Kafka refuses a change of principal)."""
    principal = "User:" + user
    if session.authenticated and session.mechanism_done and session.principal != principal:
        log.warning(
            "closing %s: re-authentication as %s on a session of %s",
            conn.addr,
            principal,
            session.principal,
        )
        return False
    session.principal = principal
    session.authenticated = True
    session.mechanism_done = True
    session.sasl = None
    if session.full_request_bytes:
        conn.max_request_bytes = session.full_request_bytes
    session.reauth_deadline = time.monotonic() + lifetime_ms / 1000 if lifetime_ms > 0 else 0.0
    log.info(
        "authenticated %s via %s on %s from %s", principal, session.mechanism, session.listener,
        session.host,
    )
    return True
