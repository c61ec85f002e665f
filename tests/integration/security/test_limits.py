"""Limits against abuse on a real broker: connections per address, frame size before
SASL authentication, the delayed answer to a failed authentication."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.broker_process import BrokerProcess, free_port
from tests.support.raw_client import RawClient, check_healthy

pytestmark = pytest.mark.integration


def _open_when_allowed(bootstrap: str, within: float = 5.0) -> RawClient:
    deadline = time.monotonic() + within
    while True:
        client = RawClient(bootstrap)
        try:
            if int(client.call(18, 0).error_code) == 0:
                return client
        except (AssertionError, OSError):
            client.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_max_connections_per_ip(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "b", settings={"max.connections.per.ip": "3"})
    broker.start()
    try:
        # Closed connections (the readiness probe's) are released asynchronously.
        clients = [_open_when_allowed(broker.bootstrap) for _ in range(3)]
        with RawClient(broker.bootstrap) as extra:  # the 4th from 127.0.0.1
            assert extra.wait_closed(timeout=5)
        clients.pop().close()
        clients.append(_open_when_allowed(broker.bootstrap))  # a freed slot is reused
        for c in clients:
            c.close()
        assert "max.connections.per.ip=3 reached for 127.0.0.1" in broker.log_path.read_text()
    finally:
        broker.stop()


def test_override_for_one_address_and_bad_override_is_refused(tmp_path: Path) -> None:
    broker = BrokerProcess(
        tmp_path / "b",
        settings={"max.connections.per.ip": "1", "max.connections.per.ip.overrides": "127.0.0.1:5"},
    )
    broker.start()
    try:
        clients = [RawClient(broker.bootstrap) for _ in range(4)]
        for c in clients:
            assert int(c.call(18, 0).error_code) == 0  # the override allows 5
        for c in clients:
            c.close()
        check_healthy(broker.bootstrap)
    finally:
        broker.stop()
    bad = BrokerProcess(tmp_path / "bad", settings={"max.connections.per.ip.overrides": "nope"})
    with pytest.raises(RuntimeError, match="is not host:count"):
        bad.start(timeout=20)
    assert bad.proc is not None and bad.proc.returncode == 2


def test_failed_authentication_is_answered_late_then_closed(tmp_path: Path) -> None:
    port = free_port()
    broker = BrokerProcess(tmp_path / "b", port=port, settings={
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "connection.failed.authentication.delay.ms": "700",
    })
    broker.start()
    try:
        with RawClient(broker.bootstrap) as c:
            assert int(c.call(17, 1, mechanism="PLAIN").error_code) == 0
            started = time.monotonic()
            resp = c.call(36, 0, auth_bytes=b"\0nobody\0guess")
            waited = time.monotonic() - started
            assert int(resp.error_code) == 58
            assert waited >= 0.6  # held back: guessing costs time (not a performance assertion)
            assert c.wait_closed(timeout=5)
        with RawClient(broker.bootstrap) as other:  # the delay blocked no pool thread
            assert int(other.call(18, 0).error_code) == 0
    finally:
        broker.stop()


def test_produce_and_fetch_quotas_return_throttle_time(tmp_path: Path) -> None:
    import confluent_kafka

    broker = BrokerProcess(tmp_path / "b", settings={
        "quota.producer.default": "100000", "quota.consumer.default": "100000",
    })
    broker.start()
    try:
        throttled: list[int] = []
        conf = {"bootstrap.servers": broker.bootstrap,
                "throttle_cb": lambda e: throttled.append(e.throttle_time)}
        p = confluent_kafka.Producer(conf | {"linger.ms": 50, "batch.size": 200_000})
        value = b"x" * 1024
        for _ in range(2000):  # 2 MB against 100 kB/s: over quota in the first second
            p.produce("quota", value)
        assert p.flush(60) == 0  # throttled, never refused: every record is delivered
        p.poll(0.5)
        assert throttled and max(throttled) > 0
        produced_throttle = list(throttled)
        throttled.clear()
        c = confluent_kafka.Consumer(conf | {"group.id": "q", "enable.auto.commit": False})
        c.assign([confluent_kafka.TopicPartition("quota", 0, 0)])
        got = 0
        try:
            while got < 2000:
                msgs = c.consume(1000, 30)  # the client backs off by the throttle time
                assert msgs, f"stalled after {got} records"
                got += sum(1 for m in msgs if m.error() is None)
        finally:
            c.close()
        assert got == 2000 and throttled and max(throttled) > 0
        assert produced_throttle
    finally:
        broker.stop()


def test_session_lifetime_and_reauthentication(tmp_path: Path) -> None:
    """connections.max.reauth.ms (KIP-368): the lifetime is announced; after it only a
    re-authentication passes, and one as another user closes the connection."""
    import subprocess
    import sys

    data = tmp_path / "b"
    for user in ("ann", "bob"):
        subprocess.run(
            [sys.executable, "-m", "riverhead", "user", "create", user, "--password", "pw",
             "--data-dir", str(data / "logs")], check=True, capture_output=True, timeout=60,
        )
    port = free_port()
    broker = BrokerProcess(data, port=port, settings={
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}", "connections.max.reauth.ms": "1000",
    })
    broker.start()
    try:
        def login(c: RawClient, user: str) -> int:
            assert int(c.call(17, 1, mechanism="PLAIN").error_code) == 0
            resp = c.call(36, 1, auth_bytes=f"\0{user}\0pw".encode())
            assert int(resp.error_code) == 0
            return int(resp.session_lifetime.total_seconds() * 1000)

        with RawClient(broker.bootstrap) as c:
            assert login(c, "ann") == 1000
            time.sleep(1.2)  # past the lifetime
            assert login(c, "ann") == 1000  # re-authentication is allowed...
            assert len(c.call(3, 1, topics=None).brokers) == 1  # ...and renews the session
        with RawClient(broker.bootstrap) as c:
            login(c, "ann")
            time.sleep(1.2)
            c.send_frame(b"\x00\x03\x00\x01\x00\x00\x00\x09\xff\xff\xff\xff\xff\xff")
            assert c.wait_closed(timeout=5)  # expired: anything else closes the connection
        with RawClient(broker.bootstrap) as c:
            login(c, "ann")
            assert int(c.call(17, 1, mechanism="PLAIN").error_code) == 0
            resp = c.call(36, 1, auth_bytes=b"\0bob\0pw")  # a different principal
            assert int(resp.error_code) == 58
            assert c.wait_closed(timeout=5)
        log = broker.log_path.read_text()
        assert "expired (connections.max.reauth.ms)" in log
        assert "re-authentication as User:bob on a session of User:ann" in log
    finally:
        broker.stop()
