"""The client side of TLS and SASL, for broker-to-broker connections.

Built from the broker's own configuration for ``inter.broker.listener.name`` (or the
listener matching ``security.inter.broker.protocol``): TLS trusts
``ssl.truststore.location`` (listener-scoped first) and presents the broker's keystore
when that listener requires client certificates; SASL uses
``sasl.mechanism.inter.broker.protocol`` with the user and password of the JAAS line
``listener.name.<l>.<mechanism>.sasl.jaas.config`` (or ``listener.name.<l>.sasl.jaas.config``,
or ``sasl.jaas.config``), as Kafka's brokers do::

    sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
        username="broker" password="broker-secret";

:class:`ScramClient` is RFC 5802's client; it checks the server's signature, so a
broker never talks to an impostor that does not know the credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Protocol

from riverhead.broker.config import BrokerConfig, ConfigError
from riverhead.security.listeners import (
    SecurityProtocol,
    advertised_for,
    inter_broker_listener_name,
    listener_setting,
    protocol_map,
)
from riverhead.security.scram import MECHANISMS

_JAAS = re.compile(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"')


class SaslError(ConnectionError):
    """The broker refused this broker's credentials (or the exchange went wrong)."""


class Requester(Protocol):
    def request(
        self, api_key: int, version: int, body: Any, timeout: float | None = None
    ) -> Any: ...


class ScramClient:
    def __init__(self, mechanism: str, user: str, password: str) -> None:
        self.digest = MECHANISMS[mechanism]
        self.password = password
        self.nonce = base64.b64encode(os.urandom(24)).decode()
        name = user.replace("=", "=3D").replace(",", "=2C")
        self.bare = f"n={name},r={self.nonce}"
        self._signature = b""

    def first(self) -> bytes:
        return f"n,,{self.bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        text = server_first.decode()
        attrs = dict(p.split("=", 1) for p in text.split(","))
        if not attrs.get("r", "").startswith(self.nonce) or len(attrs["r"]) <= len(self.nonce):
            raise SaslError("SCRAM server nonce does not extend ours")
        salt, iterations = base64.b64decode(attrs["s"]), int(attrs["i"])
        salted = hashlib.pbkdf2_hmac(self.digest, self.password.encode(), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", self.digest).digest()
        stored = hashlib.new(self.digest, client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth = f"{self.bare},{text},{without_proof}".encode()
        proof = bytes(
            a ^ b
            for a, b in zip(client_key, hmac.new(stored, auth, self.digest).digest(), strict=True)
        )
        server_key = hmac.new(salted, b"Server Key", self.digest).digest()
        self._signature = hmac.new(server_key, auth, self.digest).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def check(self, server_final: bytes) -> None:
        expected = b"v=" + base64.b64encode(self._signature)
        if not hmac.compare_digest(server_final, expected):
            raise SaslError("SCRAM server signature does not verify")


@dataclass(frozen=True)
class ClientSecurity:
    protocol: SecurityProtocol
    ssl_context: ssl.SSLContext | None = None
    mechanism: str = ""
    username: str = ""
    password: str = ""

    @classmethod
    def inter_broker(cls, config: BrokerConfig) -> ClientSecurity | None:
        """None when brokers talk PLAINTEXT to each other, or there are no other brokers
        (no ``zookeeper.connect``: a single broker needs no credentials of its own)."""
        if not config.get("zookeeper.connect").strip():
            return None
        name = inter_broker_listener_name(config)
        protocol = protocol_map(config).get(name, SecurityProtocol.PLAINTEXT)
        if protocol == SecurityProtocol.PLAINTEXT:
            return None

        def setting(key: str) -> str:
            return listener_setting(config, name, key).strip()

        ctx = None
        if protocol.uses_tls:
            ctx = ssl.create_default_context(cafile=setting("ssl.truststore.location") or None)
            if setting("ssl.client.auth").lower() in ("required", "requested"):
                ctx.load_cert_chain(
                    setting("ssl.keystore.location"), password=setting("ssl.key.password") or None
                )
        mechanism = username = password = ""
        if protocol.uses_sasl:
            mechanism = config.get("sasl.mechanism.inter.broker.protocol").strip().upper()
            jaas = config.values.get(
                f"listener.name.{name.lower()}.{mechanism.lower()}.sasl.jaas.config"
            ) or setting("sasl.jaas.config")
            fields = dict(_JAAS.findall(jaas or ""))
            username, password = fields.get("username", ""), fields.get("password", "")
            if not username or not password:
                raise ConfigError(
                    f"inter-broker listener {name} uses {protocol} but no sasl.jaas.config gives "
                    'username="..." password="..." for the broker itself'
                )
            if mechanism != "PLAIN" and mechanism not in MECHANISMS:
                raise ConfigError(
                    f"sasl.mechanism.inter.broker.protocol={mechanism}: use PLAIN, "
                    "SCRAM-SHA-256 or SCRAM-SHA-512"
                )
        return cls(protocol, ctx, mechanism, username, password)

    def wrap(self, sock: socket.socket, host: str) -> socket.socket:
        """TLS around a connected blocking socket (a no-op without TLS)."""
        if self.ssl_context is None:
            return sock
        return self.ssl_context.wrap_socket(sock, server_hostname=host)

    def authenticate(self, channel: Requester) -> None:
        """SaslHandshake v1 + SaslAuthenticate v1 over a fresh channel (raises SaslError)."""
        if not self.protocol.uses_sasl:
            return
        from kio.schema.sasl_authenticate.v1.request import SaslAuthenticateRequest
        from kio.schema.sasl_handshake.v1.request import SaslHandshakeRequest

        hello = channel.request(17, 1, SaslHandshakeRequest(mechanism=self.mechanism))
        if int(hello.error_code) != 0:
            raise SaslError(f"SASL mechanism {self.mechanism} refused ({int(hello.error_code)})")

        def step(token: bytes) -> bytes:
            resp = channel.request(36, 1, SaslAuthenticateRequest(auth_bytes=token))
            if int(resp.error_code) != 0:
                raise SaslError(
                    f"SASL authentication as {self.username} failed: {resp.error_message}"
                )
            return bytes(resp.auth_bytes)

        if self.mechanism == "PLAIN":
            step(f"\0{self.username}\0{self.password}".encode())
            return
        scram = ScramClient(self.mechanism, self.username, self.password)
        scram.check(step(scram.final(step(scram.first()))))


def inter_broker_endpoint(config: BrokerConfig) -> tuple[str, int]:
    lst = advertised_for(config, inter_broker_listener_name(config))
    return lst.host, lst.port
