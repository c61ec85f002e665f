"""What a SASL connection may send before (and after) it has authenticated.

Called by the dispatcher for every frame of a connection whose session is on a SASL
listener, before the request header is parsed:

* SaslHandshake v0 switched the connection to bare tokens (no Kafka request header):
  the frame is a SASL token, answered with a bare size-prefixed token;
* not yet authenticated: only ApiVersions, SaslHandshake and SaslAuthenticate pass;
  anything else closes the connection (Kafka: IllegalSaslStateException);
* authenticated with a lifetime (``connections.max.reauth.ms``) that has passed: only a
  re-authentication passes; anything else closes the connection (KIP-368).
"""

from __future__ import annotations

import logging
import struct
import time
from typing import Final

from riverhead.broker.connection import Connection
from riverhead.protocol.apis import ApiKey, api_name
from riverhead.security.authenticate import authenticated
from riverhead.security.sasl import SaslFailure
from riverhead.security.session import Session

log = logging.getLogger("riverhead.security.sasl")

_KEY = struct.Struct(">h")
_SIZE = struct.Struct(">i")


class _Pass:
    def __repr__(self) -> str:
        return "PASS"


PASS: Final = _Pass()
ALLOWED = frozenset({ApiKey.API_VERSIONS, ApiKey.SASL_HANDSHAKE, ApiKey.SASL_AUTHENTICATE})


def screen(conn: Connection, session: Session, frame: memoryview) -> _Pass | list[bytes] | None:
    """PASS to dispatch the request normally, parts to answer a bare token, None to close."""
    if session.raw_tokens:
        return _raw_token(conn, session, frame)
    if len(frame) < 2:
        return None
    (api_key,) = _KEY.unpack_from(frame, 0)
    if not session.authenticated:
        if api_key in ALLOWED:
            return PASS
        log.warning(
            "closing %s: %s sent before SASL authentication completed",
            conn.addr,
            api_name(api_key),
        )
        return None
    if session.reauth_deadline and time.monotonic() > session.reauth_deadline:
        if api_key in ALLOWED:
            return PASS
        log.info(
            "closing %s: the session of %s expired (connections.max.reauth.ms) without "
            "re-authentication",
            conn.addr,
            session.principal,
        )
        return None
    return PASS


def _raw_token(conn: Connection, session: Session, frame: memoryview) -> list[bytes] | None:
    server = session.sasl
    if server is None:
        return None
    try:
        reply = server.evaluate(bytes(frame))
    except SaslFailure as exc:
        log.info(
            "authentication failed for user %r via %s from %s: %s",
            server.attempted_user,
            session.mechanism,
            session.host,
            exc,
        )
        return None
    if server.complete:
        if not authenticated(conn, session, server.user, 0):
            return None
        session.raw_tokens = False
    return [_SIZE.pack(len(reply)) + reply]
