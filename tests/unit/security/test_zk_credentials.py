"""The ZooKeeper credential store against an in-memory stand-in for kazoo's client."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from riverhead.security.scram import make_credential
from riverhead.security.zk_credentials import ZkCredentialStore

pytestmark = pytest.mark.unit


@dataclass
class Stat:
    version: int


class FakeZk:
    """get/set/create/delete/get_children with znode versions, as kazoo raises them."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[bytes, int]] = {}

    def get(self, path: str) -> tuple[bytes, Stat]:
        if path not in self.nodes:
            raise NoNodeError(path)
        data, version = self.nodes[path]
        return data, Stat(version)

    def create(self, path: str, data: bytes, makepath: bool = False) -> None:
        if path in self.nodes:
            raise NodeExistsError(path)
        self.nodes[path] = (data, 0)

    def set(self, path: str, data: bytes, version: int = -1) -> None:
        if path not in self.nodes:
            raise NoNodeError(path)
        if version not in (-1, self.nodes[path][1]):
            raise BadVersionError(path)
        self.nodes[path] = (data, self.nodes[path][1] + 1)

    def delete(self, path: str, version: int = -1) -> None:
        if path not in self.nodes:
            raise NoNodeError(path)
        del self.nodes[path]

    def get_children(self, path: str) -> list[str]:
        kids = [p[len(path) + 1 :] for p in self.nodes if p.startswith(path + "/")]
        if not kids and not any(p.startswith(path) for p in self.nodes):
            raise NoNodeError(path)
        return kids


def test_kafka_layout_round_trip_and_deletes() -> None:
    zk = FakeZk()
    store = ZkCredentialStore(zk)
    assert store.describe() == {}
    cred = make_credential("SCRAM-SHA-512", "Sesame-open!", 4096)
    store.upsert("al/ice", "SCRAM-SHA-512", cred)  # names are URL-encoded in the path
    store.upsert("al/ice", "SCRAM-SHA-256", make_credential("SCRAM-SHA-256", "pw", 4096))
    data, _ = zk.get("/config/users/al%2Fice")
    body = json.loads(data)
    assert body["version"] == 1 and set(body["config"]) == {"SCRAM-SHA-256", "SCRAM-SHA-512"}
    assert "Sesame" not in data.decode()  # not base64 either: '!' and '-' are not in it
    assert store.lookup("al/ice", "SCRAM-SHA-512") == cred
    assert store.describe() == {"al/ice": {"SCRAM-SHA-256": 4096, "SCRAM-SHA-512": 4096}}
    assert store.delete("al/ice", "SCRAM-SHA-512") and not store.delete("al/ice", "SCRAM-SHA-512")
    assert store.delete("al/ice") and "/config/users/al%2Fice" not in zk.nodes
    assert store.lookup("nobody", "SCRAM-SHA-512") is None


def test_a_concurrent_writer_is_retried_not_lost() -> None:
    zk = FakeZk()
    store = ZkCredentialStore(zk)
    store.upsert("bob", "SCRAM-SHA-256", make_credential("SCRAM-SHA-256", "a", 4096))
    real_set = zk.set
    raced = []

    def racing_set(path: str, data: bytes, version: int = -1) -> None:
        if not raced:  # another broker updates the znode between our read and write
            raced.append(True)
            real_set(path, zk.nodes[path][0], -1)
        real_set(path, data, version)

    zk.set = racing_set  # type: ignore[method-assign]
    store.upsert("bob", "SCRAM-SHA-512", make_credential("SCRAM-SHA-512", "b", 4096))
    assert raced and set(store.describe()["bob"]) == {"SCRAM-SHA-256", "SCRAM-SHA-512"}


def test_zk_acl_store_shares_bindings_with_compare_and_set() -> None:
    from riverhead.security.acl import (
        AclBinding,
        AclFilter,
        Operation,
        PatternType,
        Permission,
        ResourceType,
    )
    from riverhead.security.zk_acls import ZkAclStore

    zk = FakeZk()
    a, b = ZkAclStore(zk), ZkAclStore(zk)  # two brokers
    binding = AclBinding(ResourceType.TOPIC, "t", PatternType.LITERAL, "User:x", "*",
                         Operation.READ, Permission.ALLOW)
    assert b.index.bindings == ()  # not connected yet: nothing allowed but super users
    a.add([binding, binding])
    assert b.all() == (binding,) and a.index.applicable(ResourceType.TOPIC, "t") == [binding]
    assert b.remove(AclFilter(principal="User:x")) == [binding]
    assert a.all() == ()
