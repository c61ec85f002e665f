"""Listener parsing, per-listener settings, TLS contexts and principal mapping rules."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from riverhead.broker.config import BrokerConfig, ConfigError
from riverhead.security.listeners import (
    SecurityProtocol,
    advertised_for,
    inter_broker_listener_name,
    listener_setting,
    listener_specs,
)
from riverhead.security.tls import PrincipalMapper, server_context, subject_dn
from tests.integration.security.pki import Pki, make_pki

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))



def test_several_listeners_with_a_protocol_map() -> None:
    cfg = BrokerConfig.load(
        overrides={
            "listeners": "PLAINTEXT://127.0.0.1:9092,INTERNAL://127.0.0.1:9094,SASL_SSL://:9093",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:SSL,SASL_SSL:SASL_SSL",
            "inter.broker.listener.name": "INTERNAL",
        },
        environ={},
    )
    specs = listener_specs(cfg)
    assert [(s.name, s.protocol, s.port) for s in specs] == [
        ("PLAINTEXT", SecurityProtocol.PLAINTEXT, 9092),
        ("INTERNAL", SecurityProtocol.SSL, 9094),
        ("SASL_SSL", SecurityProtocol.SASL_SSL, 9093),
    ]
    assert specs[2].protocol.uses_tls and specs[2].protocol.uses_sasl
    assert advertised_for(cfg, "INTERNAL").port == 9094
    assert advertised_for(cfg, "").port == 9092
    assert inter_broker_listener_name(cfg) == "INTERNAL"


def test_unmapped_listener_name_is_a_config_error_with_a_hint() -> None:
    cfg = BrokerConfig.load(overrides={"listeners": "EXTERNAL://127.0.0.1:9092"}, environ={})
    with pytest.raises(ConfigError, match=r"listener.security.protocol.map"):
        listener_specs(cfg)


def test_listener_scoped_keys_are_accepted_and_take_precedence() -> None:
    cfg = BrokerConfig.load(
        overrides={"ssl.client.auth": "none", "listener.name.mtls.ssl.client.auth": "required"},
        environ={},
    )
    assert listener_setting(cfg, "MTLS", "ssl.client.auth") == "required"
    assert listener_setting(cfg, "SSL", "ssl.client.auth") == "none"
    with pytest.raises(ConfigError, match="unknown broker config key"):
        BrokerConfig.load(overrides={"listener.name.x.log.dirs": "/tmp"}, environ={})


def test_server_context_requires_a_keystore_and_a_truststore_for_client_auth(pki: Pki) -> None:
    with pytest.raises(ConfigError, match=r"ssl.keystore.location"):
        server_context(BrokerConfig.load(environ={}), "SSL", SecurityProtocol.SSL)
    cfg = BrokerConfig.load(
        overrides={"ssl.keystore.location": str(pki.server), "ssl.client.auth": "required"},
        environ={},
    )
    with pytest.raises(ConfigError, match=r"ssl.truststore.location"):
        server_context(cfg, "SSL", SecurityProtocol.SSL)
    cfg = cfg.with_overrides({"ssl.truststore.location": str(pki.ca)})
    assert server_context(cfg, "SSL", SecurityProtocol.SSL).verify_mode == ssl.CERT_REQUIRED
    # KIP-684: on SASL_SSL only the listener-scoped ssl.client.auth counts.
    assert server_context(cfg, "SASL_SSL", SecurityProtocol.SASL_SSL).verify_mode == ssl.CERT_NONE


def test_unreadable_keystore_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    cfg = BrokerConfig.load(overrides={"ssl.keystore.location": str(bad)}, environ={})
    with pytest.raises(ConfigError, match="cannot load"):
        server_context(cfg, "SSL", SecurityProtocol.SSL)


def test_subject_dn_is_rfc2253_most_specific_first(pki: Pki) -> None:
    der = ssl.PEM_cert_to_DER_cert(pki.client_cert.read_text())
    assert subject_dn(der) == "CN=alice,O=Riverhead,C=US" == pki.client_dn


@pytest.mark.parametrize(
    ("rules", "dn", "name"),
    [
        ("DEFAULT", "CN=alice,O=Riverhead,C=US", "CN=alice,O=Riverhead,C=US"),
        ("RULE:^CN=(.*?),.*$/$1/", "CN=Alice,O=Riverhead,C=US", "Alice"),
        ("RULE:^CN=(.*?),.*$/$1/L", "CN=Alice,O=Riverhead,C=US", "alice"),
        ("RULE:^CN=(.*?),O=Other$/$1/U,DEFAULT", "CN=bob,O=Riverhead", "CN=bob,O=Riverhead"),
        ("RULE:^CN=(.*?),O=(.*)$/$1@$2/", "CN=bob,O=Riverhead", "bob@Riverhead"),
    ],
)
def test_principal_mapping_rules(rules: str, dn: str, name: str) -> None:
    assert PrincipalMapper(rules).map(dn) == name


def test_bad_principal_mapping_rule_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"ssl.principal.mapping.rules"):
        PrincipalMapper("RULE:no-slashes")
