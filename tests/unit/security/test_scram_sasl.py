"""SCRAM and PLAIN servers, the credential store: success, failures, replay, encodings."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riverhead.security.credentials import CredentialStore
from riverhead.security.sasl import SaslFailure, new_server
from riverhead.security.scram import (
    ScramCredential,
    ScramError,
    ScramServer,
    make_credential,
    verify_password,
)
from tests.unit.security.scram_client import ScramClient

pytestmark = pytest.mark.unit

SECRET = b"fake-salt-secret"


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    s = CredentialStore.in_log_dir(tmp_path)
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        s.upsert("alice", mech, make_credential(mech, "pw", 4096))
    return s


def exchange(server: ScramServer, client: ScramClient) -> bytes:
    final = server.evaluate(client.final(server.evaluate(client.first())))
    return final


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_success_and_server_signature(store: CredentialStore, mech: str) -> None:
    server = ScramServer(mech, store.lookup, SECRET)
    client = ScramClient(mech, "alice", "pw")
    final = exchange(server, client)
    assert server.complete and server.user == "alice"
    assert final == b"v=" + base64.b64encode(client.server_signature)


@pytest.mark.parametrize(("user", "password"), [("alice", "bad"), ("nobody", "pw")])
def test_scram_wrong_password_and_unknown_user_fail_alike(
    store: CredentialStore, user: str, password: str
) -> None:
    server = ScramServer("SCRAM-SHA-512", store.lookup, SECRET)
    client = ScramClient("SCRAM-SHA-512", user, password)
    first = server.evaluate(client.first())
    assert first.startswith(b"r=cnonce123")  # an unknown user still gets a salt
    with pytest.raises(ScramError, match="invalid credentials"):
        server.evaluate(client.final(first))
    assert not server.complete


def test_unknown_user_salt_is_stable_so_probing_reveals_nothing(store: CredentialStore) -> None:
    salts = set()
    for _ in range(2):
        server = ScramServer("SCRAM-SHA-512", store.lookup, SECRET)
        first = server.evaluate(ScramClient("SCRAM-SHA-512", "nobody", "x").first()).decode()
        salts.add(first.split(",")[1])
    assert len(salts) == 1


def test_replayed_client_final_fails_on_a_new_exchange(store: CredentialStore) -> None:
    server = ScramServer("SCRAM-SHA-512", store.lookup, SECRET)
    client = ScramClient("SCRAM-SHA-512", "alice", "pw")
    final_msg = client.final(server.evaluate(client.first()))
    server.evaluate(final_msg)
    assert server.complete
    replay = ScramServer("SCRAM-SHA-512", store.lookup, SECRET)
    replay.evaluate(client.first())  # same client nonce, new server nonce
    with pytest.raises(ScramError, match="nonce"):
        replay.evaluate(final_msg)


def test_librdkafka_doubled_client_nonce_is_accepted(store: CredentialStore) -> None:
    """librdkafka sends r=<client nonce><server r>; Kafka accepts it (endsWith)."""
    server = ScramServer("SCRAM-SHA-256", store.lookup, SECRET)
    client = ScramClient("SCRAM-SHA-256", "alice", "pw")
    server.evaluate(client.final(server.evaluate(client.first()), librdkafka=True))
    assert server.complete


@pytest.mark.parametrize(
    "message",
    [b"", b"n,,", b"p=tls-unique,,n=alice,r=x", b"n,,n=alice", b"n,,r=abc", b"\xff\xfe",
     b"n,,n=al=ice,r=abc", b"n,,n=alice,r=a,b", b"n,,n=alice,r=\x01", b"n,,m=ext,n=a,r=x"],
)
def test_malformed_client_first_is_refused(store: CredentialStore, message: bytes) -> None:
    server = ScramServer("SCRAM-SHA-512", store.lookup, SECRET)
    with pytest.raises(ScramError):
        server.evaluate(message)
    with pytest.raises(ScramError):  # and the exchange cannot go on
        server.evaluate(b"c=biws,r=x,p=AAAA")


@settings(max_examples=200, deadline=None)
@given(first=st.binary(max_size=200), final=st.binary(max_size=300))
def test_arbitrary_bytes_never_authenticate(first: bytes, final: bytes) -> None:
    cred = make_credential("SCRAM-SHA-256", "pw", 4096, salt=b"s" * 16)
    server = ScramServer("SCRAM-SHA-256", lambda u, m: cred, SECRET)
    try:
        server.evaluate(first)
        server.evaluate(final)
    except ScramError:
        pass
    assert not server.complete


@settings(max_examples=50, deadline=None)
@given(cut=st.integers(min_value=0, max_value=400))
def test_truncated_client_final_fails(cut: int) -> None:
    cred = make_credential("SCRAM-SHA-512", "pw", 4096, salt=b"s" * 16)
    server = ScramServer("SCRAM-SHA-512", lambda u, m: cred if u == "alice" else None, SECRET)
    client = ScramClient("SCRAM-SHA-512", "alice", "pw")
    final = client.final(server.evaluate(client.first()))
    if cut >= len(final):
        return
    with pytest.raises(ScramError):
        server.evaluate(final[:cut])


def test_plain_checks_against_salted_credentials(store: CredentialStore) -> None:
    ok = new_server("PLAIN", store, SECRET)
    assert ok.evaluate(b"\0alice\0pw") == b"" and ok.complete and ok.user == "alice"
    for token in (b"\0alice\0bad", b"\0bob\0pw", b"alice", b"x\0alice\0pw", b"\0\0", b"\0a\0b\0c"):
        server = new_server("PLAIN", store, SECRET)
        with pytest.raises(SaslFailure):
            server.evaluate(token)
        assert not server.complete


def test_credential_text_round_trip_and_verify() -> None:
    cred = make_credential("SCRAM-SHA-512", "s3cret", 4096)
    assert ScramCredential.from_text(cred.to_text()) == cred
    assert verify_password("SCRAM-SHA-512", cred, "s3cret")
    assert not verify_password("SCRAM-SHA-512", cred, "s3cret ")
    with pytest.raises(ScramError, match="iterations"):
        make_credential("SCRAM-SHA-512", "x", 100)


def test_store_persists_without_passwords_and_reloads_on_change(tmp_path: Path) -> None:
    a = CredentialStore.in_log_dir(tmp_path)
    b = CredentialStore.in_log_dir(tmp_path)  # as the broker and the offline CLI
    a.upsert("carol", "SCRAM-SHA-256", make_credential("SCRAM-SHA-256", "hunter2", 4096))
    assert b.lookup("carol", "SCRAM-SHA-256") is not None
    raw = (tmp_path / "security" / "users.json").read_text()
    assert "hunter2" not in raw and json.loads(raw)["version"] == 1
    assert b.describe() == {"carol": {"SCRAM-SHA-256": 4096}}
    assert a.delete("carol", "SCRAM-SHA-256") and not a.delete("carol")
    assert b.lookup("carol", "SCRAM-SHA-256") is None


def test_corrupt_store_keeps_the_loaded_credentials(tmp_path: Path) -> None:
    s = CredentialStore.in_log_dir(tmp_path)
    s.upsert("dave", "SCRAM-SHA-256", make_credential("SCRAM-SHA-256", "pw", 4096))
    path = tmp_path / "security" / "users.json"
    path.write_text("{ half written")
    assert s.lookup("dave", "SCRAM-SHA-256") is not None
