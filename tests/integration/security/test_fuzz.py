"""Hostile input on the TLS and SASL listeners of a real broker: garbage before and inside
the TLS handshake, garbage and truncated SCRAM messages, a replayed client-final message,
bare-token (SaslHandshake v0) garbage. Each time the attempt fails (closed connection or
SASL_AUTHENTICATION_FAILED, never success), the broker stays up, and no credential
appears in its log."""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.security.conftest import ALICE, SecureBroker
from tests.support.raw_client import CLOSED, RawClient, ReadTimeout, check_healthy, encode_request
from tests.unit.security.scram_client import ScramClient

pytestmark = pytest.mark.integration

SASL_FAILED = 58
FUZZ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _closed_or_silent(sock: socket.socket, wait: float = 0.3) -> None:
    """The broker closed the connection, or is still waiting for more bytes — never a
    Kafka answer to garbage."""
    sock.settimeout(wait)
    try:
        data = sock.recv(65536)
    except (TimeoutError, ConnectionResetError, ssl.SSLError):
        return
    assert data == b"" or not data.startswith(b"\x00\x00"), data[:32]


def _healthy(broker: SecureBroker) -> None:
    check_healthy(broker.bootstrap("PLAINTEXT"))
    ctx = ssl.create_default_context(cafile=str(broker.pki.ca))
    with socket.create_connection(("127.0.0.1", broker.ports["SSL"]), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() is not None


def _tls_raw(broker: SecureBroker, listener: str) -> RawClient:
    client = RawClient(broker.bootstrap(listener))
    ctx = ssl.create_default_context(cafile=str(broker.pki.ca))
    client.sock = ctx.wrap_socket(client.sock, server_hostname="127.0.0.1")
    return client


@FUZZ
@given(garbage=st.binary(min_size=1, max_size=3000))
def test_garbage_before_the_tls_handshake(secure_broker: SecureBroker, garbage: bytes) -> None:
    with socket.create_connection(("127.0.0.1", secure_broker.ports["SSL"]), timeout=5) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(garbage)
        _closed_or_silent(sock)


@FUZZ
@given(garbage=st.binary(min_size=1, max_size=3000))
def test_garbage_after_a_client_hello_starts(secure_broker: SecureBroker, garbage: bytes) -> None:
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"  # a ClientHello's first bytes
    with socket.create_connection(("127.0.0.1", secure_broker.ports["MTLS"]), timeout=5) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(hello + garbage)
        _closed_or_silent(sock)


@FUZZ
@given(garbage=st.binary(min_size=1, max_size=2000))
def test_garbage_inside_an_established_tls_session(
    secure_broker: SecureBroker, garbage: bytes
) -> None:
    with _tls_raw(secure_broker, "SSL") as client:
        client.send_raw(garbage)
        # An answer, a close, or silence while the broker waits for the rest of a frame.
        with contextlib.suppress(OSError, ssl.SSLError, ReadTimeout):
            client.read_frame(timeout=0.5)


def _sasl(client: RawClient, mechanism: str = "SCRAM-SHA-512") -> None:
    assert int(client.call(17, 1, mechanism=mechanism).error_code) == 0


def _authenticate(client: RawClient, token: bytes) -> object:
    cid = client.correlation_id()
    client.send_frame(encode_request(36, 1, cid, auth_bytes=token))
    return client.read_response(timeout=5)


def _auth_error(resp: object) -> int:
    assert resp is not CLOSED
    return int(resp.decode(36, 1).error_code)  # type: ignore[attr-defined]


@FUZZ
@given(token=st.binary(max_size=600))
def test_garbage_scram_client_first(secure_broker: SecureBroker, token: bytes) -> None:
    with RawClient(secure_broker.bootstrap("SASL_PLAINTEXT")) as client:
        _sasl(client)
        first = _authenticate(client, token)
        if first is CLOSED:
            return
        code = _auth_error(first)
        if code == 0:  # a plausible client-first: the final message must still fail
            assert _auth_error(_authenticate(client, token)) == SASL_FAILED
        else:
            assert code == SASL_FAILED
        assert client.wait_closed(timeout=5)


@FUZZ
@given(cut=st.integers(min_value=0, max_value=200), mechanism=st.sampled_from(
    ["SCRAM-SHA-256", "SCRAM-SHA-512"]))
def test_truncated_scram_client_final(
    secure_broker: SecureBroker, cut: int, mechanism: str
) -> None:
    scram = ScramClient(mechanism, *ALICE)
    with RawClient(secure_broker.bootstrap("SASL_PLAINTEXT")) as client:
        _sasl(client, mechanism)
        server_first = _authenticate(client, scram.first())
        assert _auth_error(server_first) == 0
        body = server_first.decode(36, 1)  # type: ignore[union-attr]
        final = scram.final(bytes(body.auth_bytes))
        assert _auth_error(_authenticate(client, final[: min(cut, len(final) - 1)])) == SASL_FAILED
        assert client.wait_closed(timeout=5)


def test_replayed_client_final_is_refused(secure_broker: SecureBroker) -> None:
    scram = ScramClient("SCRAM-SHA-512", *ALICE, nonce="fixed-client-nonce")
    with RawClient(secure_broker.bootstrap("SASL_PLAINTEXT")) as client:
        _sasl(client)
        server_first = _authenticate(client, scram.first()).decode(36, 1)  # type: ignore[union-attr]
        final = scram.final(bytes(server_first.auth_bytes))
        ok = _authenticate(client, final)
        assert _auth_error(ok) == 0  # the genuine exchange succeeds
        assert len(client.call(3, 1, topics=None).brokers) == 1  # authenticated: served
    with RawClient(secure_broker.bootstrap("SASL_PLAINTEXT")) as replay:
        _sasl(replay)
        assert _auth_error(_authenticate(replay, scram.first())) == 0
        assert _auth_error(_authenticate(replay, final)) == SASL_FAILED  # new server nonce
        assert replay.wait_closed(timeout=5)


@FUZZ
@given(token=st.binary(min_size=1, max_size=600))
def test_bare_token_garbage_after_handshake_v0(secure_broker: SecureBroker, token: bytes) -> None:
    with RawClient(secure_broker.bootstrap("SASL_PLAINTEXT")) as client:
        assert int(client.call(17, 0, mechanism="SCRAM-SHA-512").error_code) == 0
        client.send_raw(struct.pack(">i", len(token)) + token)
        reply = client.read_frame(timeout=5)
        if reply is not CLOSED:  # a plausible client-first gets a server-first...
            client.send_raw(struct.pack(">i", len(token)) + token)
            assert client.wait_closed(timeout=5)  # ...and the same bytes as final fail


def test_oversized_frame_before_authentication_closes(secure_broker: SecureBroker) -> None:
    with RawClient(secure_broker.bootstrap("SASL_PLAINTEXT")) as client:
        client.send_raw(struct.pack(">i", 10 << 20))  # 10 MB > sasl.server.max.receive.size
        assert client.wait_closed(timeout=5)


def test_broker_survived_and_logged_no_secret(secure_broker: SecureBroker) -> None:
    """Runs after the fuzzers above (file order)."""
    _healthy(secure_broker)
    log = secure_broker.log()
    assert ALICE[1] not in log
    assert "p=" not in log and "stored_key" not in log and "BEGIN PRIVATE KEY" not in log
    assert "Traceback" not in log
