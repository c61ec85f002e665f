"""Build each listener's connection factory from the configuration (used by the server).

A PLAINTEXT listener gets no factory — the engine's plain :class:`Connection` — unless
the broker has several listeners (connections must then know their listener, so that
Metadata answers with that listener's endpoints). PLAINTEXT connections carry no session:
the authorizer and quotas see them as ``User:ANONYMOUS`` from their address. TLS listeners
wrap the accepted socket in a server-side ``SSLSocket`` whose handshake the engine drives;
SASL listeners attach a :class:`Session` that the dispatcher gates until authentication
succeeds.
"""

from __future__ import annotations

import logging
import socket
import ssl

from riverhead.broker.config import BrokerConfig
from riverhead.broker.connection import Connection
from riverhead.broker.engine import ConnectionFactory
from riverhead.security.listeners import ListenerSpec, listener_setting, listener_specs
from riverhead.security.session import Session
from riverhead.security.tls import PrincipalMapper, server_context, subject_dn
from riverhead.security.tls_connection import TlsConnection

log = logging.getLogger("riverhead.security")


def _host(addr: str) -> str:
    return addr.rpartition(":")[0]


def _session(spec: ListenerSpec, conn: Connection, max_unauthenticated: int) -> Session:
    session = Session(spec.name, spec.protocol, _host(conn.addr))
    if spec.protocol.uses_sasl:
        # Until authenticated, a frame may be no larger than sasl.server.max.receive.size.
        session.full_request_bytes = conn.max_request_bytes
        conn.max_request_bytes = min(conn.max_request_bytes, max_unauthenticated)
    return session


def connection_factory(
    config: BrokerConfig, spec: ListenerSpec, *, sessions: bool
) -> ConnectionFactory | None:
    """The factory for one listener; None means the engine's default plain connection."""
    max_unauth = config.get_int("sasl.server.max.receive.size")
    if spec.protocol.uses_tls:
        ctx = server_context(config, spec.name, spec.protocol)
        mapper = PrincipalMapper(listener_setting(config, spec.name, "ssl.principal.mapping.rules"))
        return _tls_factory(ctx, spec, mapper, max_unauth)
    if not spec.protocol.uses_sasl and not sessions:

        def named(sock: socket.socket, addr: str, max_bytes: int) -> Connection:
            conn = Connection(sock, addr, max_bytes)
            conn.listener = spec.name
            return conn

        return named

    def plain(sock: socket.socket, addr: str, max_bytes: int) -> Connection:
        conn = Connection(sock, addr, max_bytes)
        conn.listener = spec.name
        conn.session = _session(spec, conn, max_unauth)
        return conn

    return plain


def _tls_factory(
    ctx: ssl.SSLContext, spec: ListenerSpec, mapper: PrincipalMapper, max_unauth: int
) -> ConnectionFactory:
    def on_handshake(conn: TlsConnection) -> None:
        session = conn.session
        assert session is not None
        der = conn.peer_certificate()
        if der is not None and not spec.protocol.uses_sasl:
            session.principal = "User:" + mapper.map(subject_dn(der))
        log.debug("TLS session with %s established as %s", conn.addr, session.principal)

    def make(sock: socket.socket, addr: str, max_bytes: int) -> Connection:
        tls = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        conn = TlsConnection(tls, addr, max_bytes, on_handshake)
        conn.listener = spec.name
        conn.session = _session(spec, conn, max_unauth)
        return conn

    return make


def factories(
    config: BrokerConfig, *, sessions: bool
) -> list[tuple[ListenerSpec, ConnectionFactory | None]]:
    """Every listener with its factory; raises ConfigError for a bad TLS/SASL setup."""
    specs = listener_specs(config)
    out: list[tuple[ListenerSpec, ConnectionFactory | None]] = []
    for spec in specs:
        plain = not spec.protocol.uses_tls and not spec.protocol.uses_sasl
        if plain and len(specs) == 1 and not sessions:
            out.append((spec, None))  # connections need no name: the fast default path
            continue
        out.append((spec, connection_factory(config, spec, sessions=sessions)))
    return out
