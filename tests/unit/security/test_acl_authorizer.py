"""ACL bindings, filters, the store and the authorizer's decision rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from riverhead.security.acl import (
    AclBinding,
    AclError,
    AclFilter,
    AclStore,
    Operation,
    PatternType,
    Permission,
    ResourceType,
)
from riverhead.security.authorizer import Authorizer, parse_super_users

pytestmark = pytest.mark.unit
T, G, C = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER
LIT, PRE = PatternType.LITERAL, PatternType.PREFIXED
ALLOW, DENY = Permission.ALLOW, Permission.DENY


def acl(rtype: ResourceType, name: str, principal: str, op: Operation, perm: Permission = ALLOW,
        pattern: PatternType = LIT, host: str = "*") -> AclBinding:
    return AclBinding(rtype, name, pattern, principal, host, op, perm)


@pytest.fixture
def store(tmp_path: Path) -> AclStore:
    return AclStore(tmp_path / "acls.json")


def authz(store: AclStore, *bindings: AclBinding, supers: str = "") -> Authorizer:
    store.add(bindings)
    return Authorizer(store, parse_super_users(supers))


def test_deny_by_default_and_allow_when_granted(store: AclStore) -> None:
    a = authz(store, acl(T, "orders", "User:ann", Operation.READ))
    assert a.authorize("User:ann", "1.2.3.4", Operation.READ, T, "orders")
    assert not a.authorize("User:ann", "1.2.3.4", Operation.WRITE, T, "orders")
    assert not a.authorize("User:bob", "1.2.3.4", Operation.READ, T, "orders")
    assert not a.authorize("User:ann", "1.2.3.4", Operation.READ, T, "other")


def test_deny_wins_over_allow_and_over_all(store: AclStore) -> None:
    a = authz(
        store,
        acl(T, "*", "User:*", Operation.ALL),
        acl(T, "orders", "User:dan", Operation.WRITE, DENY),
    )
    assert a.authorize("User:dan", "h", Operation.READ, T, "orders")
    assert not a.authorize("User:dan", "h", Operation.WRITE, T, "orders")
    assert a.authorize("User:eve", "h", Operation.WRITE, T, "orders")


def test_implied_operations(store: AclStore) -> None:
    a = authz(store, acl(T, "t", "User:a", Operation.WRITE),
              acl(T, "t", "User:b", Operation.ALTER_CONFIGS))
    assert a.authorize("User:a", "h", Operation.DESCRIBE, T, "t")  # WRITE implies DESCRIBE
    assert not a.authorize("User:a", "h", Operation.READ, T, "t")
    assert a.authorize("User:b", "h", Operation.DESCRIBE_CONFIGS, T, "t")
    assert not a.authorize("User:b", "h", Operation.DESCRIBE, T, "t")


def test_prefixed_wildcard_host_and_super_users(store: AclStore) -> None:
    a = authz(
        store,
        acl(T, "sales-", "User:ann", Operation.READ, pattern=PRE),
        acl(G, "g1", "User:ann", Operation.READ, host="10.0.0.1"),
        supers="User:root;User:broker",
    )
    assert a.authorize("User:ann", "h", Operation.READ, T, "sales-eu")
    assert not a.authorize("User:ann", "h", Operation.READ, T, "sale")
    assert a.authorize("User:ann", "10.0.0.1", Operation.READ, G, "g1")
    assert not a.authorize("User:ann", "10.0.0.2", Operation.READ, G, "g1")
    assert a.authorize("User:broker", "h", Operation.CLUSTER_ACTION, C, "kafka-cluster")


def test_allow_everyone_if_no_acl_found(store: AclStore) -> None:
    store.add([acl(T, "guarded", "User:ann", Operation.READ)])
    a = Authorizer(store, frozenset(), allow_if_no_acl=True)
    assert a.authorize("User:x", "h", Operation.READ, T, "open")
    assert not a.authorize("User:x", "h", Operation.READ, T, "guarded")


@pytest.mark.parametrize(
    "bad",
    [
        acl(T, "t", "ann", Operation.READ),
        acl(T, "t", "User:ann", Operation.ANY),
        acl(T, "", "User:ann", Operation.READ),
        acl(C, "other", "User:ann", Operation.ALTER),
        AclBinding(T, "t", PatternType.MATCH, "User:a", "*", Operation.READ, ALLOW),
        AclBinding(T, "t", LIT, "User:a", "*", Operation.READ, Permission.ANY),
        AclBinding(ResourceType.ANY, "t", LIT, "User:a", "*", Operation.READ, ALLOW),
    ],
)
def test_invalid_bindings_are_refused(store: AclStore, bad: AclBinding) -> None:
    with pytest.raises(AclError):
        store.add([bad])
    assert store.all() == ()


def test_filters_any_literal_prefixed_and_match(store: AclStore) -> None:
    store.add([
        acl(T, "orders", "User:a", Operation.READ),
        acl(T, "*", "User:b", Operation.READ),
        acl(T, "ord", "User:c", Operation.READ, pattern=PRE),
        acl(G, "orders", "User:a", Operation.READ),
    ])
    def names(f: AclFilter) -> set[str]:
        return {b.principal for b in store.all() if f.matches(b)}
    assert names(AclFilter()) == {"User:a", "User:b", "User:c"}
    assert names(AclFilter(T, "orders", LIT)) == {"User:a"}
    assert names(AclFilter(T, "orders", PatternType.MATCH)) == {"User:a", "User:b", "User:c"}
    assert names(AclFilter(T, None, PRE)) == {"User:c"}
    assert len([b for b in store.all() if AclFilter(G).matches(b)]) == 1


def test_store_persists_removes_and_rejects_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "acls.json"
    s = AclStore(path)
    s.add([acl(T, "t", "User:a", Operation.READ), acl(T, "t", "User:a", Operation.READ)])
    assert len(AclStore(path).all()) == 1  # duplicates collapse, reload sees it
    assert len(s.remove(AclFilter(principal="User:a"))) == 1
    assert AclStore(path).all() == ()
    path.write_text("{broken")
    with pytest.raises(AclError, match="cannot read"):
        AclStore(path)
