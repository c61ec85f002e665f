"""TLS listeners through the four real clients: server-authenticated SSL, mutual TLS,
and refusals (no client certificate, a certificate from a foreign CA, plaintext spoken
to a TLS port, a client that does not trust the broker's CA)."""

from __future__ import annotations

import contextlib
import socket
import ssl
from pathlib import Path

import pytest

from tests.integration.security.clients import CLIENTS, VALUES, Creds, refusal, round_trip
from tests.integration.security.conftest import SecureBroker
from tests.integration.security.pki import Pki
from tests.support.broker_process import BrokerProcess, free_port

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("client", CLIENTS)
def test_ssl_round_trip(secure_broker: SecureBroker, client: str, topic_name: str) -> None:
    creds = Creds("SSL", ca=secure_broker.pki.ca)
    got = round_trip(client, secure_broker.bootstrap("SSL"), f"ssl-{client}-{topic_name}", creds)
    assert got == VALUES


@pytest.mark.parametrize("client", CLIENTS)
def test_mutual_tls_round_trip(secure_broker: SecureBroker, client: str, topic_name: str) -> None:
    pki = secure_broker.pki
    creds = Creds("SSL", ca=pki.ca, cert=pki.client_cert, key=pki.client_key)
    got = round_trip(client, secure_broker.bootstrap("MTLS"), f"mtls-{client}-{topic_name}", creds)
    assert got == VALUES


@pytest.mark.parametrize("client", CLIENTS)
def test_foreign_ca_client_certificate_is_refused(secure_broker: SecureBroker, client: str) -> None:
    pki = secure_broker.pki
    creds = Creds("SSL", ca=pki.ca, cert=pki.foreign_cert, key=pki.foreign_key)
    error = refusal(client, secure_broker.bootstrap("MTLS"), creds)
    assert any(word in error for word in ("SSL", "ssl", "_TRANSPORT", "Unable to bootstrap")), error
    assert "TLS handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED]" in secure_broker.log()


def test_mtls_without_client_certificate_is_refused(secure_broker: SecureBroker) -> None:
    creds = Creds("SSL", ca=secure_broker.pki.ca)
    error = refusal("confluent", secure_broker.bootstrap("MTLS"), creds)
    assert "_SSL" in error or "_TRANSPORT" in error, error
    assert "peer did not return a certificate" in secure_broker.log()


def test_client_that_does_not_trust_the_ca_is_refused(secure_broker: SecureBroker) -> None:
    pki = secure_broker.pki
    error = refusal("confluent", secure_broker.bootstrap("SSL"), Creds("SSL", ca=pki.foreign_ca))
    assert "certificate verify failed" in error or "_SSL" in error, error


def test_plaintext_spoken_to_a_tls_port_closes_only_that_connection(
    secure_broker: SecureBroker,
) -> None:
    port = secure_broker.ports["SSL"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        # An ApiVersions v0 request in the clear: not a TLS ClientHello.
        sock.sendall(b"\x00\x00\x00\x0c\x00\x12\x00\x00\x00\x00\x00\x01\x00\x02id")
        sock.settimeout(5)
        # No Kafka answer: the broker closes the connection (a reset if bytes were unread).
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(100) == b""
    # The listener still serves a proper TLS client.
    ctx = ssl.create_default_context(cafile=str(secure_broker.pki.ca))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, ctx.wrap_socket(
        raw, server_hostname="127.0.0.1"
    ) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_a_stalled_handshake_does_not_block_other_connections(
    secure_broker: SecureBroker, topic_name: str
) -> None:
    """Connections that open TLS and never finish it must not hold the pool's threads."""
    port = secure_broker.ports["SSL"]
    stalled = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(8)]
    try:
        for sock in stalled:
            sock.sendall(b"\x16\x03\x01\x00\x50")  # the start of a ClientHello, then silence
        creds = Creds("SSL", ca=secure_broker.pki.ca)
        got = round_trip("confluent", secure_broker.bootstrap("SSL"), "stall-" + topic_name, creds)
        assert got == VALUES
    finally:
        for sock in stalled:
            sock.close()


def test_secrets_in_the_config_are_not_described(tmp_path: Path, pki: Pki) -> None:
    """DescribeConfigs answers password keys as null and sensitive, as Kafka does."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    port = free_port()
    broker = BrokerProcess(tmp_path / "b", port=port, settings={
        "listeners": f"SSL://127.0.0.1:{port}",
        "ssl.keystore.location": str(pki.server),
        "ssl.key.password": "hunter2-secret",  # the key is not encrypted: ignored by OpenSSL
    })
    broker.start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap, "security.protocol": "SSL",
                             "ssl.ca.location": str(pki.ca)})
        res = ConfigResource(ConfigResource.Type.BROKER, "0")
        entries = admin.describe_configs([res])[res].result(timeout=10)
        entry = entries["ssl.key.password"]
        assert entry.value is None and entry.is_sensitive
        assert entries["ssl.keystore.location"].value == str(pki.server)
        assert "hunter2-secret" not in broker.log_path.read_text()
    finally:
        broker.stop()
