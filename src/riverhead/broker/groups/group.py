"""A consumer group's state, as Kafka's classic group protocol defines it.

States and their transitions::

    Empty --join--> PreparingRebalance --all joined / rebalance timeout--> CompletingRebalance
    CompletingRebalance --leader's SyncGroup--> Stable
    Stable / CompletingRebalance --join, leave, member expiry--> PreparingRebalance
    PreparingRebalance --every member gone--> Empty          any --DeleteGroups--> Dead

Invariants (checked by the tests after every operation):

* ``generation`` only grows; a member's JoinGroup answer carries the generation it was
  completed in, and only that generation's SyncGroup/Heartbeat/OffsetCommit are accepted;
* ``leader`` is a current member whenever there are members, None otherwise;
* Stable implies every member has an assignment (possibly empty bytes);
* Empty implies no members; a ``group.instance.id`` maps to exactly one member.

Not thread-safe by itself: :class:`~riverhead.broker.groups.coordinator.GroupCoordinator`
guards every group with its lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class GroupState(Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


@dataclass
class CommittedOffset:
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp: int  # ms since the epoch


@dataclass
class Member:
    member_id: str
    instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: list[tuple[str, bytes]]
    assignment: bytes = b""
    last_heartbeat: float = 0.0  # time.monotonic()
    pending_join: Any = None  # the parked JoinGroup request, if any
    pending_sync: Any = None  # the parked SyncGroup request, if any

    def metadata_for(self, protocol: str) -> bytes:
        return next((meta for name, meta in self.protocols if name == protocol), b"")


@dataclass
class Group:
    group_id: str
    state: GroupState = GroupState.EMPTY
    generation: int = 0
    protocol_type: str | None = None
    protocol: str | None = None
    leader: str | None = None
    members: dict[str, Member] = field(default_factory=dict)
    pending_members: dict[str, float] = field(default_factory=dict)  # id -> deadline
    static_members: dict[str, str] = field(default_factory=dict)  # instance id -> member id
    offsets: dict[tuple[str, int], CommittedOffset] = field(default_factory=dict)
    rebalance_deadline: float = 0.0  # PreparingRebalance ends by then at the latest
    join_not_before: float = 0.0  # group.initial.rebalance.delay.ms for a new group
    empty_since_ms: int = 0

    def all_joined(self) -> bool:
        return not self.pending_members and all(
            m.pending_join is not None for m in self.members.values()
        )

    def supported_protocols(self) -> set[str]:
        """Protocols every member supports (the candidates for the group's protocol)."""
        sets = [{name for name, _ in m.protocols} for m in self.members.values()]
        return set.intersection(*sets) if sets else set()

    def select_protocol(self) -> str | None:
        """Kafka's vote: each member votes for its most preferred common protocol."""
        candidates = self.supported_protocols()
        votes: dict[str, int] = {}
        for m in self.members.values():
            choice = next((name for name, _ in m.protocols if name in candidates), None)
            if choice is not None:
                votes[choice] = votes.get(choice, 0) + 1
        if not votes:
            return None
        return max(votes, key=lambda name: (votes[name], -_order(self, name)))

    def is_compatible(
        self, protocol_type: str, protocols: list[tuple[str, bytes]], member_id: str | None
    ) -> bool:
        """Whether a member joining with these protocols can share the group's protocol
        with every *other* member (its own earlier protocols don't count)."""
        if not protocols:
            return False
        others = [m for mid, m in self.members.items() if mid != member_id]
        if not others:
            return True
        if protocol_type != self.protocol_type:
            return False
        common = set.intersection(*({name for name, _ in m.protocols} for m in others))
        return bool(common & {name for name, _ in protocols})


def _order(group: Group, name: str) -> int:
    """Tie-break by the first member's preference order."""
    first = next(iter(group.members.values()))
    names = [n for n, _ in first.protocols]
    return names.index(name) if name in names else len(names)
