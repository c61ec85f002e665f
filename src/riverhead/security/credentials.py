"""The SCRAM credential store: user -> mechanism -> salted credential (never a password).

Single broker: a JSON file in the first log directory, ``<log.dir>/security/users.json``::

    {"version": 1, "users": {"alice": {"SCRAM-SHA-512": "salt=...,stored_key=...,..."}}}

Each credential uses Kafka's text form (:class:`~riverhead.security.scram.ScramCredential`).
Writes go to a temporary file that is renamed over the old one (atomic on POSIX), with
mode 0600. The broker re-reads the file when its modification time changes, so
``riverhead user create --data-dir`` run next to a live broker takes effect at the next
authentication. Thread-safe: one lock guards the in-memory map and the file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

from riverhead.security.scram import MECHANISMS, ScramCredential

log = logging.getLogger("riverhead.security.credentials")

FILE = Path("security") / "users.json"


class Credentials(Protocol):
    """What SASL and the credential APIs need of a store (file or ZooKeeper)."""

    def lookup(self, user: str, mechanism: str) -> ScramCredential | None: ...

    def any_credential(self, user: str) -> tuple[str, ScramCredential] | None: ...

    def describe(self) -> dict[str, dict[str, int]]: ...

    def upsert(self, user: str, mechanism: str, credential: ScramCredential) -> None: ...

    def delete(self, user: str, mechanism: str | None = None) -> bool: ...


class CredentialStore:
    def __init__(self, path: Path | None) -> None:
        """``path``: the JSON file (created on the first write); None keeps it in memory."""
        self.path = path
        self._lock = threading.Lock()
        self._users: dict[str, dict[str, ScramCredential]] = {}
        self._mtime: float | None = None
        with self._lock:
            self._reload_if_changed()

    @classmethod
    def in_log_dir(cls, log_dir: Path) -> CredentialStore:
        return cls(log_dir / FILE)

    # ---- reading ------------------------------------------------------------------
    def _reload_if_changed(self) -> None:
        if self.path is None:
            return
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            if self._mtime is not None:
                self._users, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        try:
            raw = json.loads(self.path.read_text())
            users = {
                user: {mech: ScramCredential.from_text(text) for mech, text in creds.items()}
                for user, creds in raw.get("users", {}).items()
            }
        except (OSError, ValueError, KeyError) as exc:
            # Keep what was loaded: a half-edited file must not lock everybody out.
            log.error("cannot read the credential store %s: %s", self.path, exc)
            return
        self._users, self._mtime = users, mtime

    def lookup(self, user: str, mechanism: str) -> ScramCredential | None:
        with self._lock:
            self._reload_if_changed()
            return self._users.get(user, {}).get(mechanism)

    def any_credential(self, user: str) -> tuple[str, ScramCredential] | None:
        """One of the user's credentials (for SASL/PLAIN), strongest mechanism first."""
        with self._lock:
            self._reload_if_changed()
            creds = self._users.get(user, {})
            for mech in sorted(creds, reverse=True):
                return mech, creds[mech]
            return None

    def describe(self) -> dict[str, dict[str, int]]:
        """user -> mechanism -> iterations."""
        with self._lock:
            self._reload_if_changed()
            return {
                user: {mech: cred.iterations for mech, cred in creds.items()}
                for user, creds in sorted(self._users.items())
            }

    # ---- writing ------------------------------------------------------------------
    def upsert(self, user: str, mechanism: str, credential: ScramCredential) -> None:
        if mechanism not in MECHANISMS:
            raise ValueError(f"unknown SCRAM mechanism {mechanism}")
        with self._lock:
            self._reload_if_changed()
            self._users.setdefault(user, {})[mechanism] = credential
            self._save()

    def delete(self, user: str, mechanism: str | None = None) -> bool:
        """Delete one mechanism's credential (or all of the user's); False if none."""
        with self._lock:
            self._reload_if_changed()
            creds = self._users.get(user)
            if not creds or (mechanism is not None and mechanism not in creds):
                return False
            if mechanism is None:
                del self._users[user]
            else:
                del creds[mechanism]
                if not creds:
                    del self._users[user]
            self._save()
            return True

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "version": 1,
            "users": {
                user: {mech: cred.to_text() for mech, cred in sorted(creds.items())}
                for user, creds in sorted(self._users.items())
            },
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._mtime = self.path.stat().st_mtime
