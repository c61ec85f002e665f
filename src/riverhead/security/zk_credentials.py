"""SCRAM credentials in ZooKeeper, shared by every broker of a cluster (Kafka's layout).

One znode per user, ``/config/users/<url-encoded user>``::

    {"version": 1, "config": {"SCRAM-SHA-512": "salt=...,stored_key=...,..."}}

Same interface as :class:`~riverhead.security.credentials.CredentialStore`. Reads go to
ZooKeeper on every lookup (authentications are rare; nothing to invalidate); writes are
compare-and-set on the znode version, retried on a race. ZooKeeper being unreachable
makes lookups answer "no such credential" (authentication fails, logged) rather than
raise into the request engine. Thread-safe: kazoo clients are.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote, unquote

from kazoo.exceptions import BadVersionError, KazooException, NodeExistsError, NoNodeError

from riverhead.security.scram import MECHANISMS, ScramCredential

log = logging.getLogger("riverhead.security.credentials")

PATH = "/config/users"


class ZkCredentialStore:
    def __init__(self, client: Any) -> None:
        """``client``: a started (or starting) ``kazoo.client.KazooClient``."""
        self.client = client

    def _path(self, user: str) -> str:
        return f"{PATH}/{quote(user, safe='')}"

    def _read(self, user: str) -> tuple[dict[str, ScramCredential], int | None]:
        try:
            data, stat = self.client.get(self._path(user))
        except NoNodeError:
            return {}, None
        body = json.loads(data or b"{}")
        creds = {
            m: ScramCredential.from_text(t)
            for m, t in body.get("config", {}).items()
            if m in MECHANISMS
        }
        return creds, int(stat.version)

    def lookup(self, user: str, mechanism: str) -> ScramCredential | None:
        try:
            return self._read(user)[0].get(mechanism)
        except (KazooException, ValueError, KeyError) as exc:
            log.error("cannot read the credentials of %r from ZooKeeper: %s", user, exc)
            return None

    def any_credential(self, user: str) -> tuple[str, ScramCredential] | None:
        try:
            creds = self._read(user)[0]
        except (KazooException, ValueError, KeyError) as exc:
            log.error("cannot read the credentials of %r from ZooKeeper: %s", user, exc)
            return None
        for mech in sorted(creds, reverse=True):
            return mech, creds[mech]
        return None

    def describe(self) -> dict[str, dict[str, int]]:
        try:
            names = sorted(unquote(n) for n in self.client.get_children(PATH))
        except NoNodeError:
            return {}
        out: dict[str, dict[str, int]] = {}
        for user in names:
            creds = self._read(user)[0]
            if creds:
                out[user] = {m: c.iterations for m, c in sorted(creds.items())}
        return out

    def _write(self, user: str, creds: dict[str, ScramCredential], version: int | None) -> None:
        path = self._path(user)
        if not creds:
            self.client.delete(path, version=version if version is not None else -1)
            return
        data = json.dumps(
            {"version": 1, "config": {m: c.to_text() for m, c in sorted(creds.items())}}
        ).encode()
        if version is None:
            self.client.create(path, data, makepath=True)
        else:
            self.client.set(path, data, version=version)

    def upsert(self, user: str, mechanism: str, credential: ScramCredential) -> None:
        if mechanism not in MECHANISMS:
            raise ValueError(f"unknown SCRAM mechanism {mechanism}")
        for _ in range(10):
            creds, version = self._read(user)
            creds[mechanism] = credential
            try:
                self._write(user, creds, version)
                return
            except (BadVersionError, NodeExistsError, NoNodeError):
                continue  # another writer got there first: read again
        raise RuntimeError(f"could not update the credentials of {user!r}: too many races")

    def delete(self, user: str, mechanism: str | None = None) -> bool:
        for _ in range(10):
            creds, version = self._read(user)
            if not creds or (mechanism is not None and mechanism not in creds):
                return False
            if mechanism is None:
                creds = {}
            else:
                del creds[mechanism]
            try:
                self._write(user, creds, version)
                return True
            except (BadVersionError, NoNodeError):
                continue
        raise RuntimeError(f"could not update the credentials of {user!r}: too many races")
