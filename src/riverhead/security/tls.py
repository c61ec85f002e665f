"""Server TLS contexts from Kafka's ``ssl.*`` keys, and principals from certificates.

Keys (each may be scoped to a listener, see :mod:`riverhead.security.listeners`):

* ``ssl.keystore.location`` — a PEM file holding the broker's certificate chain and its
  private key (``ssl.keystore.type=PEM``, the one type supported: Java keystores are
  for Java); ``ssl.key.password`` decrypts an encrypted key.
* ``ssl.truststore.location`` — PEM file of the CA certificates client certificates must
  chain to (needed when ``ssl.client.auth`` is not ``none``).
* ``ssl.client.auth`` — ``none``, ``requested`` (verify a certificate if one is sent) or
  ``required`` (mutual TLS). As in Kafka (KIP-684), on a ``SASL_SSL`` listener only the
  listener-scoped key counts: SASL authenticates the client there.
* ``ssl.enabled.protocols`` — e.g. ``TLSv1.2,TLSv1.3`` (the lowest and highest are used).
* ``ssl.cipher.suites`` — OpenSSL cipher list for TLS 1.2 (empty: OpenSSL's defaults).
* ``ssl.principal.mapping.rules`` — Kafka's rules turning a certificate's distinguished
  name (RFC 2253 form, e.g. ``CN=alice,O=Example``) into a user name: ``DEFAULT`` keeps
  the whole name; ``RULE:^CN=(.*?),.*$/$1/L`` keeps the CN, lower-cased.

Contexts are built once at start and shared by every connection of the listener
(``ssl.SSLContext`` is thread-safe for wrapping sockets).
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass

from cryptography import x509

from riverhead.broker.config import BrokerConfig, ConfigError
from riverhead.security.listeners import (
    SecurityProtocol,
    has_listener_setting,
    listener_setting,
)

_VERSIONS = {
    "TLSV1.2": ssl.TLSVersion.TLSv1_2,
    "TLSV1.3": ssl.TLSVersion.TLSv1_3,
}


def server_context(
    config: BrokerConfig, listener_name: str, protocol: SecurityProtocol
) -> ssl.SSLContext:
    """A server ``SSLContext`` for one listener; raises ConfigError with a hint."""

    def setting(key: str) -> str:
        return listener_setting(config, listener_name, key).strip()

    if setting("ssl.keystore.type").upper() != "PEM":
        raise ConfigError(
            f"ssl.keystore.type={setting('ssl.keystore.type')} is not supported: convert the "
            "keystore to PEM (certificate chain and private key in one file)"
        )
    keystore = setting("ssl.keystore.location")
    if not keystore:
        raise ConfigError(
            f"listener {listener_name} uses {protocol} but ssl.keystore.location is not set: "
            "point it to a PEM file with the broker's certificate chain and private key"
        )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(keystore, password=setting("ssl.key.password") or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load ssl.keystore.location={keystore}: {exc}") from None
    versions = [v.strip().upper() for v in setting("ssl.enabled.protocols").split(",")]
    known = [_VERSIONS[v] for v in versions if v in _VERSIONS]
    if not known:
        raise ConfigError(
            f"ssl.enabled.protocols={setting('ssl.enabled.protocols')} names no supported "
            "version: use TLSv1.2 and/or TLSv1.3"
        )
    ctx.minimum_version = min(known)
    ctx.maximum_version = max(known)
    ciphers = setting("ssl.cipher.suites")
    if ciphers:
        try:
            ctx.set_ciphers(ciphers.replace(",", ":"))
        except ssl.SSLError as exc:
            raise ConfigError(f"ssl.cipher.suites={ciphers}: {exc}") from None
    client_auth = setting("ssl.client.auth").lower()
    if protocol == SecurityProtocol.SASL_SSL and not has_listener_setting(
        config, listener_name, "ssl.client.auth"
    ):
        client_auth = "none"
    modes = {"none": ssl.CERT_NONE, "requested": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
    if client_auth not in modes:
        raise ConfigError(f"ssl.client.auth={client_auth} must be none, requested or required")
    truststore = setting("ssl.truststore.location")
    if client_auth != "none":
        if not truststore:
            raise ConfigError(
                f"ssl.client.auth={client_auth} needs ssl.truststore.location: a PEM file of "
                "the CA certificates that sign client certificates"
            )
        if setting("ssl.truststore.type").upper() != "PEM":
            raise ConfigError("ssl.truststore.type must be PEM")
        try:
            ctx.load_verify_locations(cafile=truststore)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load ssl.truststore.location={truststore}: {exc}") from None
    ctx.verify_mode = modes[client_auth]
    # Tickets would let a resumed session skip the client-certificate check's freshness;
    # a broker's connections are long-lived, so resumption buys little.
    ctx.options |= ssl.OP_NO_TICKET
    return ctx


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str] | None  # None: DEFAULT
    replacement: str
    case: str  # "", "L" or "U"


_RULE = re.compile(r"\s*(DEFAULT|RULE:((?:\\/|[^/])*)/((?:\\/|[^/])*)/([LU])?)\s*(?:,|$)")


class PrincipalMapper:
    """Kafka's ``ssl.principal.mapping.rules``: the first rule whose pattern matches the
    whole distinguished name gives the user name; ``DEFAULT`` gives the name itself."""

    def __init__(self, rules: str) -> None:
        self.rules: list[_Rule] = []
        pos = 0
        text = rules.strip() or "DEFAULT"
        while pos < len(text):
            m = _RULE.match(text, pos)
            if m is None or m.end() == pos:
                raise ConfigError(
                    f"ssl.principal.mapping.rules: cannot parse {text[pos:]!r}: write "
                    "RULE:pattern/replacement/[LU] or DEFAULT, separated by commas"
                )
            pos = m.end()
            if m.group(1) == "DEFAULT":
                self.rules.append(_Rule(None, "", ""))
                continue
            try:
                pattern = re.compile(m.group(2).replace("\\/", "/"))
            except re.error as exc:
                raise ConfigError(f"ssl.principal.mapping.rules: bad pattern: {exc}") from None
            self.rules.append(_Rule(pattern, m.group(3).replace("\\/", "/"), m.group(4) or ""))

    def map(self, dn: str) -> str:
        for rule in self.rules:
            if rule.pattern is None:
                return dn
            m = rule.pattern.fullmatch(dn)
            if m is None:
                continue
            # Kafka's replacement syntax is Java's ($1); Python's expand wants \1.
            name = m.expand(re.sub(r"\$(\d+)", r"\\\1", rule.replacement))
            return name.lower() if rule.case == "L" else name.upper() if rule.case == "U" else name
        return dn


def subject_dn(der: bytes) -> str:
    """The certificate subject in RFC 2253/4514 form, most specific part first (as Java's
    ``X500Principal.getName()``, which Kafka's principal builder uses)."""
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()
