"""Listeners as Kafka names them: ``NAME://host:port`` plus a security protocol per name.

``listeners=PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9093`` opens two sockets.
A listener's security protocol comes from ``listener.security.protocol.map``
(``NAME:PROTOCOL`` pairs; by default each of the four protocol names maps to itself), so
``listeners=INTERNAL://:9094`` with ``listener.security.protocol.map=INTERNAL:SSL`` is a
TLS listener named INTERNAL. ``inter.broker.listener.name`` (or, failing that,
``security.inter.broker.protocol``) picks the listener brokers use to reach each other.

Any TLS or SASL setting may be scoped to one listener with Kafka's prefix
``listener.name.<lower-case name>.<key>``; :func:`listener_setting` looks there first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from riverhead.broker.config import BrokerConfig, ConfigError, Listener


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"

    @property
    def uses_tls(self) -> bool:
        return self in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)

    @property
    def uses_sasl(self) -> bool:
        return self in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)


@dataclass(frozen=True)
class ListenerSpec:
    """One configured listener with its resolved security protocol."""

    name: str
    protocol: SecurityProtocol
    host: str
    port: int


def protocol_map(config: BrokerConfig) -> dict[str, SecurityProtocol]:
    """``listener.security.protocol.map`` parsed: listener name -> security protocol."""
    out: dict[str, SecurityProtocol] = {}
    for pair in (p.strip() for p in config.get("listener.security.protocol.map").split(",")):
        if not pair:
            continue
        name, sep, proto = pair.partition(":")
        try:
            out[name.strip().upper()] = SecurityProtocol(proto.strip().upper())
        except ValueError:
            raise ConfigError(
                f"listener.security.protocol.map entry {pair!r} is not NAME:PROTOCOL with a "
                "protocol among PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
            ) from None
        if not sep:
            raise ConfigError(f"listener.security.protocol.map entry {pair!r} has no ':'")
    return out


def listener_specs(config: BrokerConfig) -> list[ListenerSpec]:
    """Every listener of ``listeners`` with its protocol; raises ConfigError if unmapped."""
    mapping = protocol_map(config)
    specs: list[ListenerSpec] = []
    seen: set[str] = set()
    for lst in config.listeners:
        if lst.name in seen:
            raise ConfigError(f"listener name {lst.name} appears twice in listeners")
        seen.add(lst.name)
        proto = mapping.get(lst.name)
        if proto is None:
            raise ConfigError(
                f"listener {lst} has no security protocol: add {lst.name}:SSL (or another "
                "protocol) to listener.security.protocol.map"
            )
        specs.append(ListenerSpec(lst.name, proto, lst.host, lst.port))
    return specs


def listener_setting(config: BrokerConfig, listener_name: str, key: str) -> str:
    """``listener.name.<name>.<key>`` if set, else the broker-wide ``key``."""
    scoped = config.values.get(f"listener.name.{listener_name.lower()}.{key}")
    return scoped if scoped is not None else config.get(key)


def has_listener_setting(config: BrokerConfig, listener_name: str, key: str) -> bool:
    return f"listener.name.{listener_name.lower()}.{key}" in config.values


def advertised_for(config: BrokerConfig, listener_name: str) -> Listener:
    """The advertised endpoint of the listener a client came in on (Kafka answers
    Metadata and FindCoordinator with the same listener); the first one otherwise."""
    advertised = config.advertised_listeners
    if listener_name:
        for lst in advertised:
            if lst.name == listener_name:
                return lst
    return advertised[0]


def inter_broker_listener_name(config: BrokerConfig) -> str:
    """The listener brokers connect to each other through."""
    name = config.get("inter.broker.listener.name").strip().upper()
    if name:
        if name not in {lst.name for lst in config.listeners}:
            raise ConfigError(
                f"inter.broker.listener.name={name} is not one of the listeners: add it to "
                "listeners or pick one of them"
            )
        return name
    wanted = SecurityProtocol(config.get("security.inter.broker.protocol").strip().upper())
    for spec in listener_specs(config):
        if spec.protocol == wanted:
            return spec.name
    return config.listeners[0].name


_SENSITIVE_SUFFIXES = ("password", "sasl.jaas.config", "encryption.key")


def is_sensitive(key: str) -> bool:
    """Config keys whose values are secrets (Kafka's PASSWORD type): DescribeConfigs
    answers them as null with ``is_sensitive`` set, as Kafka does."""
    return key.endswith(_SENSITIVE_SUFFIXES)


def endpoint_for(
    endpoints: tuple[str, ...], listener_name: str, default: tuple[str, int]
) -> tuple[str, int]:
    """From a broker's registered ``NAME://host:port`` endpoints, the one of
    ``listener_name`` (the listener a client came in on); ``default`` if none."""
    prefix = f"{listener_name}://"
    for ep in endpoints:
        if listener_name and ep.startswith(prefix):
            host, _, port = ep[len(prefix) :].rpartition(":")
            if port.isdigit():
                return host.strip("[]"), int(port)
    return default
