"""A minimal SCRAM client (RFC 5802) for tests: builds the messages a real client sends."""

from __future__ import annotations

import base64
import hashlib
import hmac

from riverhead.security.scram import MECHANISMS


class ScramClient:
    def __init__(self, mechanism: str, user: str, password: str, nonce: str = "cnonce123") -> None:
        self.digest = MECHANISMS[mechanism]
        self.user = user
        self.password = password
        self.nonce = nonce
        self.bare = f"n={user},r={nonce}"
        self.server_signature = b""

    def first(self) -> bytes:
        return f"n,,{self.bare}".encode()

    def final(self, server_first: bytes, *, librdkafka: bool = False) -> bytes:
        """``librdkafka=True`` sends the client nonce again in front of the server's
        nonce, as librdkafka does."""
        attrs = dict(p.split("=", 1) for p in server_first.decode().split(","))
        salt = base64.b64decode(attrs["s"])
        salted = hashlib.pbkdf2_hmac(self.digest, self.password.encode(), salt, int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", self.digest).digest()
        stored = hashlib.new(self.digest, client_key).digest()
        nonce = self.nonce + attrs["r"] if librdkafka else attrs["r"]
        without_proof = f"c=biws,r={nonce}"
        auth = f"{self.bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.new(stored, auth, self.digest).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.new(salted, b"Server Key", self.digest).digest()
        self.server_signature = hmac.new(server_key, auth, self.digest).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()
