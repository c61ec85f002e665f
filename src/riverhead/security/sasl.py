"""SASL mechanisms on the server side: PLAIN and SCRAM-SHA-256/512.

A :class:`SaslServer` takes the client's tokens one by one (``evaluate``) and returns the
bytes to send back; it raises :class:`SaslFailure` when authentication fails. Both
mechanisms check against the same salted SCRAM credentials
(:mod:`riverhead.security.credentials`): SASL/PLAIN recomputes the salted password from
the password it is sent (PBKDF2 with the stored salt and iterations) and compares the
stored key in constant time, so no password is stored anywhere — unlike Kafka's PLAIN,
which reads passwords from its JAAS file. PLAIN sends the password itself, so enable it
only on SASL_SSL listeners (``listener.name.<l>.sasl.enabled.mechanisms``).

Failure messages never contain a password, a proof or a key: they are logged and sent.
"""

from __future__ import annotations

from typing import Protocol

from riverhead.security.credentials import Credentials
from riverhead.security.scram import MECHANISMS, ScramError, ScramServer, verify_password

SUPPORTED = ("PLAIN", *MECHANISMS)
MAX_PLAIN_TOKEN = 4096


class SaslFailure(Exception):
    """Authentication failed; ``str()`` is safe to log and to send to the client."""


class SaslServer(Protocol):
    mechanism: str

    @property
    def complete(self) -> bool: ...

    @property
    def user(self) -> str: ...

    @property
    def attempted_user(self) -> str: ...

    def evaluate(self, token: bytes) -> bytes: ...


class PlainServer:
    """RFC 4616: one message ``authzid NUL authcid NUL password``."""

    mechanism = "PLAIN"

    def __init__(self, store: Credentials) -> None:
        self._store = store
        self.complete = False
        self.user = ""
        self._attempted = ""
        self._used = False

    @property
    def attempted_user(self) -> str:
        return self._attempted

    def evaluate(self, token: bytes) -> bytes:
        if self._used:
            raise SaslFailure("unexpected SASL/PLAIN message after the exchange ended")
        self._used = True
        if len(token) > MAX_PLAIN_TOKEN:
            raise SaslFailure("SASL/PLAIN message too long")
        parts = token.split(b"\0")
        if len(parts) != 3:
            raise SaslFailure("malformed SASL/PLAIN message: expected authzid\\0user\\0password")
        try:
            authzid, user, password = (p.decode("utf-8") for p in parts)
        except UnicodeDecodeError:
            raise SaslFailure("SASL/PLAIN message is not UTF-8") from None
        self._attempted = user
        if not user or not password:
            raise SaslFailure("SASL/PLAIN user name and password must not be empty")
        if authzid and authzid != user:
            raise SaslFailure("SASL/PLAIN authorization id differs from the user name")
        found = self._store.any_credential(user)
        if found is None or not verify_password(found[0], found[1], password):
            raise SaslFailure("invalid credentials")
        self.user = user
        self.complete = True
        return b""


class _Scram:
    """Adapts :class:`ScramServer` to :class:`SaslServer` (ScramError -> SaslFailure)."""

    def __init__(self, mechanism: str, store: Credentials, secret: bytes) -> None:
        self.mechanism = mechanism
        self._server = ScramServer(mechanism, store.lookup, secret)

    @property
    def complete(self) -> bool:
        return self._server.complete

    @property
    def user(self) -> str:
        return self._server.user

    @property
    def attempted_user(self) -> str:
        return self._server.attempted_user

    def evaluate(self, token: bytes) -> bytes:
        try:
            return self._server.evaluate(token)
        except ScramError as exc:
            raise SaslFailure(str(exc)) from None


def new_server(mechanism: str, store: Credentials, secret: bytes) -> SaslServer:
    """A server for ``mechanism`` (one of :data:`SUPPORTED`)."""
    if mechanism == "PLAIN":
        return PlainServer(store)
    if mechanism in MECHANISMS:
        return _Scram(mechanism, store, secret)
    raise ValueError(f"unsupported SASL mechanism {mechanism}")
