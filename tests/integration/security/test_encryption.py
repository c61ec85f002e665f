"""Encryption at rest on a real broker: no plaintext in segment files, records read back
by real clients and after a restart, key rotation, and a loud failure with a wrong key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.security.clients import CLIENTS, VALUES, Creds, round_trip
from tests.support.broker_process import BrokerProcess
from tests.support.clients import kcat_path

pytestmark = pytest.mark.integration

MARKER = b"secret-"  # every value round_trip produces starts with it


def _key(path: Path) -> Path:
    path.write_bytes(os.urandom(32))
    return path


def _segment_bytes(data_dir: Path, topic: str) -> bytes:
    files = sorted((data_dir / "logs").glob(f"{topic}-*/*.log"))
    assert files, f"no segment files for {topic}"
    return b"".join(f.read_bytes() for f in files)


def _consume_all(bootstrap: str, topic: str) -> list[bytes]:
    import subprocess

    out = subprocess.run(
        [kcat_path(), "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q"],
        capture_output=True, timeout=20, check=True,
    )
    return out.stdout.splitlines()


def test_segments_hold_no_plaintext_and_clients_read_it_back(tmp_path: Path) -> None:
    key = _key(tmp_path / "key")
    broker = BrokerProcess(tmp_path / "b", settings={"log.encryption.key.file": str(key)})
    broker.start()
    try:
        for client in CLIENTS:
            assert round_trip(client, broker.bootstrap, f"enc-{client}", Creds()) == VALUES
        for client in CLIENTS:
            stored = _segment_bytes(broker.data_dir, f"enc-{client}")
            assert len(stored) > 0 and MARKER not in stored  # the grep test
        plain = BrokerProcess(tmp_path / "plain")  # the same produce, unencrypted: visible
        plain.start()
        try:
            round_trip("confluent", plain.bootstrap, "enc-control", Creds())
            assert MARKER in _segment_bytes(plain.data_dir, "enc-control")
        finally:
            plain.stop()
        broker.restart()
        assert _consume_all(broker.bootstrap, "enc-kcat") == VALUES  # same key: all back
    finally:
        broker.stop()


def test_key_rotation_and_wrong_key(tmp_path: Path) -> None:
    old, new, wrong = _key(tmp_path / "old"), _key(tmp_path / "new"), _key(tmp_path / "wrong")
    data = tmp_path / "b"
    broker = BrokerProcess(data, settings={"log.encryption.key.file": str(old)})
    broker.start()
    try:
        round_trip("confluent", broker.bootstrap, "rot", Creds())
    finally:
        broker.stop()
    # A wrong key: the broker refuses to start and says why.
    broker.settings["log.encryption.key.file"] = str(wrong)
    with pytest.raises(RuntimeError, match="not configured"):
        broker.start(timeout=20)
    assert broker.proc is not None and broker.proc.returncode == 2
    # Rotation: a new key for writing, the old one still read.
    broker.settings["log.encryption.key.file"] = str(new)
    broker.settings["log.encryption.old.key.files"] = str(old)
    broker.start()
    try:
        round_trip("kafka-python", broker.bootstrap, "rot", Creds())
        assert _consume_all(broker.bootstrap, "rot") == VALUES + VALUES
        assert MARKER not in _segment_bytes(data, "rot")
    finally:
        broker.stop()


def test_a_corrupted_key_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "short"
    bad.write_bytes(b"too short")
    broker = BrokerProcess(tmp_path / "b", settings={"log.encryption.key.file": str(bad)})
    with pytest.raises(RuntimeError, match="must hold 32 bytes or 64 hex digits"):
        broker.start(timeout=20)
