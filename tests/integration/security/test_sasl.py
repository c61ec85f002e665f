"""SASL through the four real clients: PLAIN and SCRAM over SASL_PLAINTEXT and SASL_SSL,
refusals (wrong password, unknown user, a request before authenticating), the user CLI
through the broker's SCRAM credential APIs, and no secret in the broker's log."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest

from tests.integration.security.clients import CLIENTS, VALUES, Creds, refusal, round_trip
from tests.integration.security.conftest import ALICE, SecureBroker, riverhead

pytestmark = pytest.mark.integration


def creds(broker: SecureBroker, protocol: str, mechanism: str, user: str, password: str) -> Creds:
    ca = broker.pki.ca if protocol == "SASL_SSL" else None
    return Creds(protocol, ca=ca, mechanism=mechanism, user=user, password=password)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_sasl_round_trip(
    secure_broker: SecureBroker, client: str, protocol: str, mechanism: str, topic_name: str
) -> None:
    c = creds(secure_broker, protocol, mechanism, *ALICE)
    topic = f"{client}-{protocol}-{mechanism}-{topic_name}"[:200]
    assert round_trip(client, secure_broker.bootstrap(protocol), topic, c) == VALUES


def test_scram_sha_256_round_trip(secure_broker: SecureBroker, topic_name: str) -> None:
    c = creds(secure_broker, "SASL_SSL", "SCRAM-SHA-256", *ALICE)
    assert round_trip("confluent", secure_broker.bootstrap("SASL_SSL"), topic_name, c) == VALUES


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(
    ("user", "password"), [("alice", "wrong-password"), ("nobody", "whatever")],
    ids=["wrong-password", "unknown-user"],
)
def test_bad_credentials_are_refused(
    secure_broker: SecureBroker, client: str, user: str, password: str
) -> None:
    c = creds(secure_broker, "SASL_SSL", "SCRAM-SHA-512", user, password)
    error = refusal(client, secure_broker.bootstrap("SASL_SSL"), c)
    assert any(
        word in error
        for word in ("Authentication failed", "_AUTHENTICATION", "SaslAuthentication",
                     "Unable to bootstrap", "authentication")
    ), error
    assert f"authentication failed for user '{user}' via SCRAM-SHA-512" in secure_broker.log()
    assert password not in secure_broker.log()


def test_plain_wrong_password_is_refused_and_never_logged(secure_broker: SecureBroker) -> None:
    c = creds(secure_broker, "SASL_PLAINTEXT", "PLAIN", "alice", "plain-guess-123")
    error = refusal("confluent", secure_broker.bootstrap("SASL_PLAINTEXT"), c)
    assert "_AUTHENTICATION" in error and "invalid credentials" in error, error
    assert "plain-guess-123" not in secure_broker.log()


def _frame(api_key: int, version: int, body: bytes = b"") -> bytes:
    header = struct.pack(">hhih", api_key, version, 7, 4) + b"test"
    return struct.pack(">i", len(header) + len(body)) + header + body


def test_a_request_before_authentication_closes_the_connection(
    secure_broker: SecureBroker,
) -> None:
    with socket.create_connection(("127.0.0.1", secure_broker.ports["SASL_PLAINTEXT"])) as sock:
        sock.settimeout(5)
        sock.sendall(_frame(3, 4, struct.pack(">ib", -1, 0)))  # Metadata v4, all topics
        assert sock.recv(100) == b""
    assert "METADATA sent before SASL authentication completed" in secure_broker.log()


def test_unsupported_mechanism_is_answered_with_the_enabled_ones(
    secure_broker: SecureBroker,
) -> None:
    with socket.create_connection(("127.0.0.1", secure_broker.ports["SASL_PLAINTEXT"])) as sock:
        sock.settimeout(5)
        sock.sendall(_frame(17, 1, struct.pack(">h", 6) + b"GSSAPI"))  # SaslHandshake v1
        size = struct.unpack(">i", sock.recv(4))[0]
        body = b""
        while len(body) < size:
            body += sock.recv(size - len(body))
        correlation, error = struct.unpack_from(">ih", body)
        assert (correlation, error) == (7, 33)  # UNSUPPORTED_SASL_MECHANISM
        assert b"SCRAM-SHA-512" in body and b"PLAIN" in body


def test_user_cli_through_the_broker(
    secure_broker: SecureBroker, tmp_path: Path, topic_name: str
) -> None:
    admin = tmp_path / "admin.properties"
    admin.write_text(
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
        f"sasl.username={ALICE[0]}\nsasl.password={ALICE[1]}\nssl.ca.location={secure_broker.pki.ca}\n"
    )
    common = ["-X", secure_broker.bootstrap("SASL_SSL"), "--command-config", str(admin)]
    out = riverhead(
        *common, "user", "create", "bob", "--password", "bob-pw-1", "-m", "SCRAM-SHA-256"
    )
    assert out.returncode == 0, out.stderr
    listed = riverhead(*common, "user", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert '"user": "bob"' in listed.stdout and "SCRAM-SHA-256" in listed.stdout
    bob = creds(secure_broker, "SASL_SSL", "SCRAM-SHA-256", "bob", "bob-pw-1")
    got = round_trip("kafka-python", secure_broker.bootstrap("SASL_SSL"), topic_name, bob)
    assert got == VALUES
    out = riverhead(*common, "user", "delete", "bob", "-m", "SCRAM-SHA-256")
    assert out.returncode == 0, out.stderr
    assert "_AUTHENTICATION" in refusal("confluent", secure_broker.bootstrap("SASL_SSL"), bob)
    missing = riverhead(*common, "user", "delete", "bob", "-m", "SCRAM-SHA-256")
    assert missing.returncode == 1 and "RESOURCE_NOT_FOUND" in missing.stderr
    bad = riverhead(*common, "user", "create", "carol", "--password", "x", "--iterations", "10")
    assert bad.returncode == 1 and "UNACCEPTABLE_CREDENTIAL" in bad.stderr, bad.stderr
    assert "bob-pw-1" not in secure_broker.log()


def test_credentials_are_stored_salted_never_in_clear(secure_broker: SecureBroker) -> None:
    store = secure_broker.proc.data_dir / "logs" / "security" / "users.json"
    text = store.read_text()
    assert "stored_key=" in text and "iterations=8192" in text
    assert ALICE[1] not in text
    assert store.stat().st_mode & 0o077 == 0
