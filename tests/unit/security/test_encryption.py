"""AES-256-GCM sealing of record batches: round trip, framing, tampering, keys."""

from __future__ import annotations

import os

import pytest

from riverhead.protocol.batch import crc_ok, iter_batches, read_header
from riverhead.protocol.records import encode_batch
from riverhead.security.encryption import (
    OVERHEAD,
    BatchCipher,
    EncryptionError,
    Keyring,
    applies_to,
)

pytestmark = pytest.mark.unit


def batches(n: int = 3) -> tuple[bytes, list[tuple[int, int, int, int]]]:
    data = b""
    placed = []
    for i in range(n):
        raw = bytearray(encode_batch([(None, f"plain-{i}".encode() * 5)], base_offset=i))
        header = read_header(raw, 0)
        placed.append((len(data), header.size, header.last_offset, header.max_timestamp))
        data += bytes(raw)
    return data, placed


def test_round_trip_keeps_framing_valid_and_hides_values() -> None:
    cipher = BatchCipher(Keyring(os.urandom(32)), "orders", 0)
    data, placed = batches()
    stored, stored_placed = cipher.seal(data, placed)
    assert b"plain-" not in stored
    assert len(stored) == len(data) + 3 * OVERHEAD
    headers = list(iter_batches(stored))
    assert [h.base_offset for _, h in headers] == [0, 1, 2]
    assert all(crc_ok(stored, pos, h) for pos, h in headers)  # recovery accepts it
    assert [(p, s) for p, s, _, _ in stored_placed] == [(pos, h.size) for pos, h in headers]
    assert cipher.open(stored) == data  # byte for byte, CRCs included


def test_tampering_wrong_key_unknown_key_and_moved_batches_fail() -> None:
    key = os.urandom(32)
    cipher = BatchCipher(Keyring(key), "orders", 0)
    data, placed = batches(1)
    stored = bytearray(cipher.seal(data, placed)[0])
    flipped = bytearray(stored)
    flipped[-1] ^= 1
    with pytest.raises(EncryptionError, match="does not decrypt"):
        cipher.open(bytes(flipped))
    with pytest.raises(EncryptionError, match="not configured"):
        BatchCipher(Keyring(os.urandom(32)), "orders", 0).open(bytes(stored))
    with pytest.raises(EncryptionError, match="does not decrypt"):  # other partition's AAD
        BatchCipher(Keyring(key), "orders", 1).open(bytes(stored))


def test_rotation_reads_old_batches_and_writes_with_the_new_key() -> None:
    old, new = os.urandom(32), os.urandom(32)
    data, placed = batches(1)
    old_stored = BatchCipher(Keyring(old), "t", 0).seal(data, placed)[0]
    rotated = BatchCipher(Keyring(new, [old]), "t", 0)
    assert rotated.open(old_stored) == data
    new_stored = rotated.seal(data, placed)[0]
    with pytest.raises(EncryptionError):
        BatchCipher(Keyring(old), "t", 0).open(new_stored)


def test_which_topics_are_encrypted() -> None:
    assert applies_to("orders", "delete")
    assert not applies_to("__consumer_offsets", "compact")
    assert not applies_to("users", "compact,delete")
