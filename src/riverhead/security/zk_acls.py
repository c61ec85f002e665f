"""ACLs in ZooKeeper, shared by every broker of a cluster.

One znode, ``/riverhead/acls``, holds the bindings in the format of the single-broker
file (:mod:`riverhead.security.acl`); writes are compare-and-set on its version. Each
broker keeps a kazoo data watch on it and swaps in a fresh immutable
:class:`~riverhead.security.acl.AclIndex` on every change, so authorization stays a
lock-free lookup. Until the broker's ZooKeeper session is up the index is empty: only
super users pass (deny by default).

(Kafka itself spreads ACLs over ``/kafka-acl/<type>/<name>``; one znode keeps the
compare-and-set simple and is read once per change, not per request.)
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from typing import Any

from kazoo.exceptions import BadVersionError, KazooException, NodeExistsError, NoNodeError

from riverhead.security.acl import AclBinding, AclFilter, AclIndex

log = logging.getLogger("riverhead.security.acl")

PATH = "/riverhead/acls"


class ZkAclStore:
    def __init__(self, client: Any) -> None:
        self.client = client
        self._index = AclIndex(())
        self._watching = False
        self._lock = threading.Lock()

    @property
    def index(self) -> AclIndex:
        if not self._watching:
            self._watch()
        return self._index

    def _watch(self) -> None:
        with self._lock:
            if self._watching or not getattr(self.client, "connected", False):
                return
            try:
                self.client.ensure_path("/riverhead")
                self.client.DataWatch(PATH, self._changed)
                self._watching = True
            except KazooException as exc:
                log.warning("cannot watch %s yet: %s", PATH, exc)

    def _changed(self, data: bytes | None, _stat: Any) -> None:
        try:
            self._index = AclIndex(_decode(data))
        except (ValueError, KeyError) as exc:
            log.error("ignoring unreadable ACLs in %s: %s", PATH, exc)

    def all(self) -> tuple[AclBinding, ...]:
        return self._read()[0]

    def _read(self) -> tuple[tuple[AclBinding, ...], int | None]:
        try:
            data, stat = self.client.get(PATH)
        except NoNodeError:
            return (), None
        return tuple(_decode(data)), int(stat.version)

    def _write(self, bindings: list[AclBinding], version: int | None) -> None:
        data = json.dumps({"version": 1, "acls": [b.to_json() for b in bindings]}).encode()
        if version is None:
            self.client.create(PATH, data, makepath=True)
        else:
            self.client.set(PATH, data, version=version)

    def add(self, bindings: Iterable[AclBinding]) -> None:
        new = list(bindings)
        for b in new:
            b.validate()
        for _ in range(10):
            current, version = self._read()
            merged = list(dict.fromkeys([*current, *new]))  # no duplicates, order kept
            try:
                self._write(merged, version)
                self._index = AclIndex(merged)  # the watch follows; read-your-writes now
                return
            except (BadVersionError, NodeExistsError, NoNodeError):
                continue
        raise RuntimeError("could not update the ACLs: too many concurrent writers")

    def remove(self, flt: AclFilter) -> list[AclBinding]:
        for _ in range(10):
            current, version = self._read()
            removed = [b for b in current if flt.matches(b)]
            if not removed:
                return []
            kept = [b for b in current if not flt.matches(b)]
            try:
                self._write(kept, version)
                self._index = AclIndex(kept)
                return removed
            except (BadVersionError, NoNodeError):
                continue
        raise RuntimeError("could not update the ACLs: too many concurrent writers")


def _decode(data: bytes | None) -> list[AclBinding]:
    if not data:
        return []
    return [AclBinding.from_json(item) for item in json.loads(data).get("acls", [])]
