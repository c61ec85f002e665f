"""Encryption at rest: AES-256-GCM of each record batch's records, with rotating keys.

On disk an encrypted batch keeps Kafka's 61-byte header in the clear — offsets, epoch,
timestamps, producer id/sequence, record count: what recovery, indexes, retention and
idempotence read without keys — and replaces the records with::

    key id (8)  nonce (12)  AES-256-GCM(records) (n)  tag (16)

``batchLength`` grows by 36 and the CRC is recomputed over the stored bytes, so a
segment stays a valid sequence of batches for every scan. Attribute bit 15
(:data:`ENCRYPTED`, unused by Kafka) marks the batch. The additional authenticated data
binds the ciphertext to its topic, partition and base offset, so a batch copied elsewhere
in the log fails to decrypt. Nonces are random (96 bits) per batch.

Keys: ``log.encryption.key.file`` names a file holding the current key (32 raw bytes or
64 hex digits; set it through ``RIVERHEAD_LOG_ENCRYPTION_KEY_FILE`` to keep it off the
command line); ``log.encryption.old.key.files`` lists retired keys still needed to read
older batches. The key id is the first 8 bytes of SHA-256(key), recorded in every batch,
so keys rotate without rewriting segments. A batch whose key id is unknown, or whose tag
does not verify (wrong key, tampering), raises :class:`EncryptionError` — loudly, never
returning garbage. Internal (``__``) and compacted topics are not encrypted: the group
coordinator and the log cleaner read their records on the broker.

What it costs: fetches can no longer use ``sendfile`` (records are read, decrypted and
re-framed in Python); see docs/security.md for measurements.
Thread-safe: AESGCM objects are stateless per call.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import crc32c
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from riverhead.broker.config import BrokerConfig, ConfigError

HEADER = 61
OVERHEAD = 8 + 12 + 16
ENCRYPTED = 0x8000  # attributes bit 15
_LEN = struct.Struct(">i")
_ATTR = struct.Struct(">H")  # unsigned: bit 15 is ours
_CRC = struct.Struct(">I")
_OFFSET = struct.Struct(">q")
_ATTR_POS, _CRC_POS, _LEN_POS, _CRC_FROM = 21, 17, 8, 21


class EncryptionError(Exception):
    """A batch cannot be decrypted (unknown key id, wrong key, tampered bytes)."""


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:8]


def _read_key(path: str) -> bytes:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read encryption key file {path}: {exc.strerror}") from None
    text = raw.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text.decode())
        except (UnicodeDecodeError, ValueError):
            pass
    if len(raw) == 32:
        return raw
    raise ConfigError(
        f"encryption key file {path} must hold 32 bytes or 64 hex digits (AES-256): "
        "make one with `head -c 32 /dev/urandom > key`"
    )


class Keyring:
    """The current key (for writing) and every key that may be read."""

    def __init__(self, current: bytes, old: list[bytes] | None = None) -> None:
        self.current_id = key_id(current)
        self._ciphers = {key_id(k): AESGCM(k) for k in [*(old or []), current]}
        self._current = self._ciphers[self.current_id]

    @classmethod
    def from_config(cls, config: BrokerConfig) -> Keyring | None:
        path = config.get("log.encryption.key.file").strip()
        if not path:
            return None
        old = [
            _read_key(p.strip())
            for p in config.get("log.encryption.old.key.files").split(",")
            if p.strip()
        ]
        return cls(_read_key(path), old)

    def knows(self, kid: bytes) -> bool:
        return kid in self._ciphers

    def seal(self, plain: bytes | memoryview, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return self.current_id + nonce + self._current.encrypt(nonce, bytes(plain), aad)

    def open(self, sealed: bytes | memoryview, aad: bytes) -> bytes:
        kid = bytes(sealed[:8])
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise EncryptionError(
                f"batch encrypted with key id {kid.hex()}, which is not configured: add its "
                "key file to log.encryption.old.key.files"
            )
        try:
            return cipher.decrypt(bytes(sealed[8:20]), bytes(sealed[20:]), aad)
        except InvalidTag:
            raise EncryptionError(
                f"batch does not decrypt with key id {kid.hex()} (wrong key or tampered data)"
            ) from None


@dataclass(frozen=True)
class BatchCipher:
    """Encrypts and decrypts the batches of one partition (bound to its name)."""

    keyring: Keyring
    topic: str
    partition: int

    def _aad(self, base_offset: bytes) -> bytes:
        return f"{self.topic}-{self.partition}".encode() + b"\0" + base_offset

    def seal(
        self, data: bytes | bytearray | memoryview, batches: list[tuple[int, int, int, int]]
    ) -> tuple[bytes, list[tuple[int, int, int, int]]]:
        """Encrypt whole batches; returns the stored bytes and their (position, size,
        last offset, max timestamp) list."""
        view = memoryview(data)
        out = bytearray()
        placed: list[tuple[int, int, int, int]] = []
        for pos, size, last, ts in batches:
            head = bytearray(view[pos : pos + HEADER])
            sealed = self.keyring.seal(view[pos + HEADER : pos + size], self._aad(bytes(head[:8])))
            (attrs,) = _ATTR.unpack_from(head, _ATTR_POS)
            _ATTR.pack_into(head, _ATTR_POS, attrs | ENCRYPTED)
            (length,) = _LEN.unpack_from(head, _LEN_POS)
            _LEN.pack_into(head, _LEN_POS, length + OVERHEAD)
            batch = head + sealed
            _CRC.pack_into(batch, _CRC_POS, crc32c.crc32c(bytes(batch[_CRC_FROM:])))
            placed.append((len(out), len(batch), last, ts))
            out += batch
        return bytes(out), placed

    def open(self, stored: bytes | memoryview) -> bytes:
        """Stored bytes of whole batches -> the batches as produced (unencrypted ones
        pass through). Raises :class:`EncryptionError`."""
        view = memoryview(stored)
        out = bytearray()
        pos, end = 0, len(view)
        while pos + HEADER <= end:
            (length,) = _LEN.unpack_from(view, pos + _LEN_POS)
            size = length + 12
            (attrs,) = _ATTR.unpack_from(view, pos + _ATTR_POS)
            if not attrs & ENCRYPTED:
                out += view[pos : pos + size]
                pos += size
                continue
            head = bytearray(view[pos : pos + HEADER])
            plain = self.keyring.open(view[pos + HEADER : pos + size], self._aad(bytes(head[:8])))
            _ATTR.pack_into(head, _ATTR_POS, attrs & ~ENCRYPTED & 0xFFFF)
            _LEN.pack_into(head, _LEN_POS, length - OVERHEAD)
            batch = head + plain
            _CRC.pack_into(batch, _CRC_POS, crc32c.crc32c(bytes(batch[_CRC_FROM:])))
            out += batch
            pos += size
        return bytes(out)


def applies_to(topic: str, cleanup_policy: str) -> bool:
    """Whether a topic's batches are encrypted (not internal, not compacted)."""
    return not topic.startswith("__") and "compact" not in cleanup_policy
