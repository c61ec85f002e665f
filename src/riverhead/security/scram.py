"""SCRAM (RFC 5802/7677) as Kafka uses it: credentials and the server side of the exchange.

A stored credential never holds the password: ``salt``, ``iterations``,
``StoredKey = H(HMAC(SaltedPassword, "Client Key"))`` and
``ServerKey = HMAC(SaltedPassword, "Server Key")`` with
``SaltedPassword = PBKDF2-HMAC-H(password, salt, iterations)``. Its text form is Kafka's
(as in ZooKeeper's ``/config/users``)::

    salt=<base64>,stored_key=<base64>,server_key=<base64>,iterations=4096

The exchange (:class:`ScramServer`), three messages::

    client-first  n,,n=alice,r=<client nonce>[,<extensions>]
    server-first  r=<client nonce><server nonce>,s=<salt base64>,i=<iterations>
    client-final  c=biws,r=<same combined nonce>,p=<ClientProof base64>
    server-final  v=<ServerSignature base64>

An unknown user gets a server-first message with a salt derived from the user name and a
per-broker secret, so whether a user exists cannot be told from the exchange; it then
fails on the proof like a wrong password. Each exchange uses a fresh random server nonce,
so a recorded client-final message replayed on another connection fails. Channel
binding (``p=`` in the GS2 header) is refused, as Kafka does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

MECHANISMS: dict[str, str] = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
# Kafka's wire codes for the mechanisms (AlterUserScramCredentials, Describe...).
MECHANISM_CODES: dict[str, int] = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}
MIN_ITERATIONS = 4096  # Kafka's bounds (ScramMechanism.minIterations / 16384 max)
MAX_ITERATIONS = 16384
DEFAULT_ITERATIONS = 8192
_PRINTABLE = re.compile(r"^[\x21-\x2b\x2d-\x7e]+$")  # RFC 5802 nonce: printable, no ','


class ScramError(ValueError):
    """The exchange failed; the message is safe to send to the client and to log."""


@dataclass(frozen=True)
class ScramCredential:
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int

    def to_text(self) -> str:
        b64 = base64.b64encode
        return (
            f"salt={b64(self.salt).decode()},stored_key={b64(self.stored_key).decode()},"
            f"server_key={b64(self.server_key).decode()},iterations={self.iterations}"
        )

    @classmethod
    def from_text(cls, text: str) -> ScramCredential:
        fields = dict(part.split("=", 1) for part in text.split(","))
        return cls(
            base64.b64decode(fields["salt"]),
            base64.b64decode(fields["stored_key"]),
            base64.b64decode(fields["server_key"]),
            int(fields["iterations"]),
        )


def _hmac(digest: str, key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, digest).digest()


def salted_password(mechanism: str, password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac(MECHANISMS[mechanism], password.encode(), salt, iterations)


def credential_from_salted(
    mechanism: str, salted: bytes, salt: bytes, iterations: int
) -> ScramCredential:
    digest = MECHANISMS[mechanism]
    client_key = _hmac(digest, salted, b"Client Key")
    stored_key = hashlib.new(digest, client_key).digest()
    server_key = _hmac(digest, salted, b"Server Key")
    return ScramCredential(salt, stored_key, server_key, iterations)


def make_credential(
    mechanism: str, password: str, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> ScramCredential:
    """A new credential for ``password`` (a random 32-byte salt unless given)."""
    check_iterations(iterations)
    salt = salt if salt is not None else os.urandom(32)
    return credential_from_salted(
        mechanism, salted_password(mechanism, password, salt, iterations), salt, iterations
    )


def check_iterations(iterations: int) -> None:
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ScramError(
            f"iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS} (got {iterations})"
        )


def verify_password(mechanism: str, credential: ScramCredential, password: str) -> bool:
    """Whether ``password`` matches ``credential`` (SASL/PLAIN against SCRAM credentials)."""
    candidate = make_credential(mechanism, password, credential.iterations, credential.salt)
    return hmac.compare_digest(candidate.stored_key, credential.stored_key)


def _decode_saslname(name: str) -> str:
    if re.search(r"=(?!2C|3D)", name):
        raise ScramError("invalid user name encoding in client-first message")
    return name.replace("=2C", ",").replace("=3D", "=")


def _attributes(message: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=":
            raise ScramError("malformed SCRAM message")
        out.setdefault(part[0], part[2:])
    return out


CredentialLookup = Callable[[str, str], "ScramCredential | None"]


class ScramServer:
    """One SCRAM exchange on the server side. :meth:`evaluate` takes each client message
    and returns the reply; ``complete``/``user`` tell the outcome. Raises
    :class:`ScramError` on any failure (the connection must then be closed)."""

    def __init__(self, mechanism: str, lookup: CredentialLookup, fake_salt_secret: bytes) -> None:
        if mechanism not in MECHANISMS:
            raise ScramError(f"unsupported mechanism {mechanism}")
        self.mechanism = mechanism
        self.digest = MECHANISMS[mechanism]
        self._lookup = lookup
        self._secret = fake_salt_secret
        self._state = "first"
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""
        self._gs2 = ""
        self._credential: ScramCredential | None = None
        self._attempted = ""
        self.user = ""  # set once authenticated
        self.complete = False

    @property
    def attempted_user(self) -> str:
        """The user name the client claimed (for logging failures; never a secret)."""
        return self._attempted

    def evaluate(self, token: bytes) -> bytes:
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:
            raise ScramError("SCRAM message is not UTF-8") from None
        if self._state == "first":
            return self._first(text)
        if self._state == "final":
            return self._final(text)
        raise ScramError("unexpected SCRAM message after the exchange ended")

    def _first(self, text: str) -> bytes:
        self._state = "failed"
        parts = text.split(",", 2)
        if len(parts) != 3:
            raise ScramError("malformed client-first message")
        cbind, authzid, bare = parts
        if cbind not in ("n", "y"):
            raise ScramError("channel binding is not supported")
        attrs = _attributes(bare)
        if "m" in attrs:
            raise ScramError("mandatory SCRAM extensions are not supported")
        if "n" not in attrs or "r" not in attrs:
            raise ScramError("client-first message lacks a user name or nonce")
        user = _decode_saslname(attrs["n"])
        self._attempted = user
        if authzid and authzid != f"a={attrs['n']}":
            raise ScramError("authorization id differs from the user name")
        client_nonce = attrs["r"]
        if not client_nonce or not _PRINTABLE.match(client_nonce):
            raise ScramError("invalid client nonce")
        credential = self._lookup(user, self.mechanism)
        if credential is None:  # answer like for a real user; fail on the proof later
            fake = hmac.new(self._secret, user.encode(), "sha256").digest()
            salt, iterations = fake, DEFAULT_ITERATIONS
        else:
            salt, iterations = credential.salt, credential.iterations
        self._credential = credential
        self._gs2 = f"{cbind},{authzid},"
        self._nonce = client_nonce + base64.b64encode(os.urandom(24)).decode().rstrip("=")
        self._client_first_bare = bare
        self._server_first = f"r={self._nonce},s={base64.b64encode(salt).decode()},i={iterations}"
        self._state = "final"
        return self._server_first.encode()

    def _final(self, text: str) -> bytes:
        self._state = "failed"
        without_proof, sep, proof_b64 = text.rpartition(",p=")
        if not sep:
            raise ScramError("client-final message lacks a proof")
        attrs = _attributes(without_proof)
        # Kafka accepts a nonce that *ends* with the combined nonce, because librdkafka
        # sends the client nonce once more in front of it; the fresh server nonce is
        # still required, which is what defeats a replayed message.
        if not attrs.get("r", "").endswith(self._nonce):
            raise ScramError("nonce mismatch in client-final message")
        try:
            binding = base64.b64decode(attrs.get("c", ""), validate=True).decode()
            proof = base64.b64decode(proof_b64, validate=True)
        except (ValueError, UnicodeDecodeError):
            raise ScramError("invalid base64 in client-final message") from None
        if binding != self._gs2:
            raise ScramError("channel binding data does not match the GS2 header")
        credential = self._credential
        auth_message = (f"{self._client_first_bare},{self._server_first},{without_proof}").encode()
        if credential is None or len(proof) != len(credential.stored_key):
            raise ScramError("invalid credentials")
        signature = _hmac(self.digest, credential.stored_key, auth_message)
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(
            hashlib.new(self.digest, client_key).digest(), credential.stored_key
        ):
            raise ScramError("invalid credentials")
        server_signature = _hmac(self.digest, credential.server_key, auth_message)
        self.user = self._attempted
        self.complete = True
        self._state = "done"
        return b"v=" + base64.b64encode(server_signature)
