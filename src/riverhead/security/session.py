"""Who is on the other end of a connection, and how far its authentication has got.

A :class:`Session` is attached to a connection when its listener uses TLS or SASL, or
when an authorizer is configured (handlers then need a principal even on PLAINTEXT).
Principals are Kafka's ``User:<name>`` strings: ``User:ANONYMOUS`` before (or without)
authentication, ``User:<SASL user>`` after SASL, ``User:<mapped certificate DN>`` after a
TLS handshake with a client certificate.

Thread-safety: owned by its connection (see :mod:`riverhead.broker.connection`); only the
thread currently serving the connection reads or changes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from riverhead.security.listeners import SecurityProtocol

if TYPE_CHECKING:
    from riverhead.security.sasl import SaslServer

ANONYMOUS = "User:ANONYMOUS"


class Session:
    __slots__ = (
        "authenticated",
        "failed_auth",
        "full_request_bytes",
        "host",
        "listener",
        "mechanism",
        "mechanism_done",
        "principal",
        "protocol",
        "raw_tokens",
        "reauth_deadline",
        "sasl",
    )

    def __init__(self, listener: str, protocol: SecurityProtocol, host: str) -> None:
        self.listener = listener
        self.protocol = protocol
        self.host = host
        self.principal = ANONYMOUS
        # A SASL listener lets nothing but ApiVersions and the SASL exchange through
        # until this is True.
        self.authenticated = not protocol.uses_sasl
        self.mechanism = ""
        self.mechanism_done = False  # a SASL exchange has succeeded on this connection
        self.sasl: SaslServer | None = None  # the mechanism's state during an exchange
        # SaslHandshake v0: the tokens that follow are bare size-prefixed frames.
        self.raw_tokens = False
        # Monotonic time after which the session must re-authenticate (0: never).
        self.reauth_deadline = 0.0
        self.failed_auth = False
        # socket.request.max.bytes, restored once authenticated (smaller before).
        self.full_request_bytes = 0

    @property
    def user(self) -> str:
        return self.principal.partition(":")[2]

    def __repr__(self) -> str:
        return f"Session({self.principal} via {self.listener}/{self.protocol} from {self.host})"
