"""ACLs as Kafka models them: bindings, filters, and their persistent store.

A binding says: *principal* from *host* is ALLOWed or DENYed *operation* on the
resources a *pattern* names. Patterns are LITERAL (one name, or ``*`` for every name of
the type) or PREFIXED (every name starting with it). Resource types: TOPIC, GROUP,
CLUSTER (the one resource ``kafka-cluster``), TRANSACTIONAL_ID. Codes are Kafka's wire
codes (``AclOperation``, ``ResourceType``, ``PatternType``, ``AclPermissionType``).

A filter (DescribeAcls, DeleteAcls) uses ANY for "any value" and None for "any name /
principal / host"; pattern MATCH selects the bindings that would apply to the named
resource (that literal name, the ``*`` wildcard, and prefixes of the name).

Store file, ``<log.dir>/security/acls.json``::

    {"version": 1, "acls": [{"resource_type": "TOPIC", "name": "orders",
      "pattern": "LITERAL", "principal": "User:alice", "host": "*",
      "operation": "READ", "permission": "ALLOW"}, ...]}

Thread-safe: a lock guards changes; readers get an immutable snapshot (:class:`AclIndex`)
swapped in atomically, so authorization never waits for a writer.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

log = logging.getLogger("riverhead.security.acl")

FILE = Path("security") / "acls.json"
CLUSTER_NAME = "kafka-cluster"
WILDCARD = "*"


class ResourceType(IntEnum):
    UNKNOWN = 0
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class PatternType(IntEnum):
    UNKNOWN = 0
    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    UNKNOWN = 0
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14


class Permission(IntEnum):
    UNKNOWN = 0
    ANY = 1
    DENY = 2
    ALLOW = 3


class AclError(ValueError):
    """A binding that cannot be stored (Kafka: INVALID_REQUEST); message says why."""


@dataclass(frozen=True)
class AclBinding:
    resource_type: ResourceType
    name: str
    pattern: PatternType
    principal: str
    host: str
    operation: Operation
    permission: Permission

    def validate(self) -> None:
        if self.resource_type not in (
            ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER,
            ResourceType.TRANSACTIONAL_ID,
        ):
            raise AclError(f"resource type {self.resource_type.name} cannot carry ACLs")
        if self.pattern not in (PatternType.LITERAL, PatternType.PREFIXED):
            raise AclError("an ACL's pattern type must be LITERAL or PREFIXED")
        if self.operation in (Operation.ANY, Operation.UNKNOWN):
            raise AclError("an ACL's operation must be a concrete operation or ALL")
        if self.permission not in (Permission.ALLOW, Permission.DENY):
            raise AclError("an ACL's permission must be ALLOW or DENY")
        if not self.name:
            raise AclError("the resource name must not be empty")
        if self.resource_type == ResourceType.CLUSTER and self.name != CLUSTER_NAME:
            raise AclError(f"the cluster resource is named {CLUSTER_NAME!r}")
        kind, sep, who = self.principal.partition(":")
        if not sep or not kind or not who:
            raise AclError(f"principal {self.principal!r} is not TYPE:NAME (e.g. User:alice)")
        if not self.host:
            raise AclError("the host must not be empty (use * for any host)")

    def to_json(self) -> dict[str, str]:
        return {
            "resource_type": self.resource_type.name,
            "name": self.name,
            "pattern": self.pattern.name,
            "principal": self.principal,
            "host": self.host,
            "operation": self.operation.name,
            "permission": self.permission.name,
        }

    @classmethod
    def from_json(cls, raw: dict[str, str]) -> AclBinding:
        return cls(
            ResourceType[raw["resource_type"]],
            raw["name"],
            PatternType[raw["pattern"]],
            raw["principal"],
            raw["host"],
            Operation[raw["operation"]],
            Permission[raw["permission"]],
        )


@dataclass(frozen=True)
class AclFilter:
    resource_type: ResourceType = ResourceType.ANY
    name: str | None = None
    pattern: PatternType = PatternType.ANY
    principal: str | None = None
    host: str | None = None
    operation: Operation = Operation.ANY
    permission: Permission = Permission.ANY

    def matches(self, b: AclBinding) -> bool:
        if self.resource_type != ResourceType.ANY and b.resource_type != self.resource_type:
            return False
        if not self._pattern_matches(b):
            return False
        if self.principal is not None and b.principal != self.principal:
            return False
        if self.host is not None and b.host != self.host:
            return False
        if self.operation != Operation.ANY and b.operation != self.operation:
            return False
        return self.permission == Permission.ANY or b.permission == self.permission

    def _pattern_matches(self, b: AclBinding) -> bool:
        if self.pattern == PatternType.MATCH:
            if self.name is None:
                return True
            if b.pattern == PatternType.LITERAL:
                return b.name in (self.name, WILDCARD)
            return self.name.startswith(b.name)
        if self.pattern not in (PatternType.ANY, b.pattern):
            return False
        return self.name is None or b.name == self.name


class AclIndex:
    """An immutable view for authorization: bindings grouped by resource type, literal
    names in a dict, wildcards and prefixes in lists."""

    def __init__(self, bindings: Iterable[AclBinding]) -> None:
        self.bindings = tuple(bindings)
        self.literal: dict[tuple[ResourceType, str], list[AclBinding]] = {}
        self.prefixed: dict[ResourceType, list[AclBinding]] = {}
        for b in self.bindings:
            if b.pattern == PatternType.LITERAL:
                self.literal.setdefault((b.resource_type, b.name), []).append(b)
            else:
                self.prefixed.setdefault(b.resource_type, []).append(b)

    def applicable(self, rtype: ResourceType, name: str) -> list[AclBinding]:
        """Every binding that applies to resource ``name`` of type ``rtype``."""
        out = list(self.literal.get((rtype, name), ()))
        if name != WILDCARD:
            out += self.literal.get((rtype, WILDCARD), ())
        out += [b for b in self.prefixed.get(rtype, ()) if name.startswith(b.name)]
        return out


class AclStore:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.index = AclIndex(self._load())

    def _load(self) -> list[AclBinding]:
        if self.path is None or not self.path.exists():
            return []
        try:
            raw = json.loads(self.path.read_text())
            return [AclBinding.from_json(item) for item in raw.get("acls", [])]
        except (OSError, ValueError, KeyError) as exc:
            # Refusing to start beats running with ACLs silently dropped.
            raise AclError(f"cannot read the ACL store {self.path}: {exc}") from None

    def all(self) -> tuple[AclBinding, ...]:
        return self.index.bindings

    def add(self, bindings: Iterable[AclBinding]) -> None:
        with self._lock:
            current = list(self.index.bindings)
            for b in bindings:
                b.validate()
                if b not in current:
                    current.append(b)
            self._save(current)
            self.index = AclIndex(current)

    def remove(self, flt: AclFilter) -> list[AclBinding]:
        with self._lock:
            removed = [b for b in self.index.bindings if flt.matches(b)]
            if removed:
                kept = [b for b in self.index.bindings if not flt.matches(b)]
                self._save(kept)
                self.index = AclIndex(kept)
            return removed

    def _save(self, bindings: list[AclBinding]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"version": 1, "acls": [b.to_json() for b in bindings]}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


__all__ = [
    "AclBinding", "AclError", "AclFilter", "AclIndex", "AclStore", "Operation", "PatternType",
    "Permission", "ResourceType",
]
