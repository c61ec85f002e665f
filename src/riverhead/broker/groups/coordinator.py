"""The group coordinator: Kafka's classic consumer-group protocol on one broker.

JoinGroup and SyncGroup are *barriers*: a member's request is parked (its connection waits,
see :mod:`riverhead.broker.engine`) until the group can answer everyone — every known
member has rejoined, or the rebalance timeout expired (laggards are removed), and for
SyncGroup until the leader has sent the assignment. Answers for parked requests are
collected while the coordinator lock is held and sent after it is released, because
sending resumes the connection, which may carry the member's next request.

A housekeeping thread (every 100 ms) expires members whose session timed out, completes
joins whose timeout or initial delay passed, and forgets pending member ids never used.

Committed offsets and generations are appended to ``__consumer_offsets`` before the
in-memory state changes (:mod:`riverhead.broker.groups.store`), and replayed at start.

Cluster mode: a broker coordinates exactly the groups whose ``__consumer_offsets``
partition it leads. :meth:`become_coordinator` replays that partition when it becomes
leader (groups and offsets as the log has them), :meth:`resign_coordinator` forgets its
groups when leadership moves; every request for a group this broker does not own is
answered NOT_COORDINATOR, so the client asks FindCoordinator again. With one broker,
``owned`` is None: it owns every group.

Thread-safety: one lock guards all groups; every public method takes it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from riverhead.broker.groups.group import CommittedOffset, Group, GroupState, Member
from riverhead.broker.groups.store import OffsetStore, group_key, offset_key
from riverhead.logging_setup import event
from riverhead.protocol.errors import ErrorCode

log = logging.getLogger("riverhead.broker.groups")

MIN_SESSION_TIMEOUT_MS = 6_000  # Kafka's group.min.session.timeout.ms
MAX_SESSION_TIMEOUT_MS = 1_800_000  # group.max.session.timeout.ms
MAX_METADATA_BYTES = 4096  # offset.metadata.max.bytes
Reply = tuple[Any, dict[str, Any]]  # (parked request, response tree)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class GroupCoordinator:
    def __init__(
        self,
        store: OffsetStore,
        *,
        initial_rebalance_delay_ms: int,
        offsets_retention_ms: int,
        topic_exists: Callable[[str, int], bool],
    ) -> None:
        self.store = store
        self.initial_delay = initial_rebalance_delay_ms / 1000.0
        self.offsets_retention_ms = offsets_retention_ms
        self.topic_exists = topic_exists
        self.groups: dict[str, Group] = {}
        self.lock = threading.Lock()
        # Cluster mode: the __consumer_offsets partitions this broker leads (None: all).
        self.owned: set[int] | None = None
        self._running = False
        self._thread: threading.Thread | None = None
        self.rebalances = 0

    # ---- life cycle ---------------------------------------------------------------
    def owner_error(self, group_id: str) -> ErrorCode:
        """NOT_COORDINATOR unless this broker coordinates ``group_id``."""
        owned = self.owned
        if owned is None or self.store.partition_for(group_id) in owned:
            return ErrorCode.NONE
        return ErrorCode.NOT_COORDINATOR

    def become_coordinator(self, partition: int) -> None:
        """This broker now leads ``__consumer_offsets`` partition ``partition``: load it."""
        with self.lock:
            if self.owned is None:
                self.owned = set()
            self._load(self.store.replay({partition}))
            self.owned.add(partition)

    def resign_coordinator(self, partition: int) -> None:
        with self.lock:
            if self.owned is None:
                self.owned = set()
            self.owned.discard(partition)
            for group_id in [g for g in self.groups if self.store.partition_for(g) == partition]:
                del self.groups[group_id]
        log.info("no longer coordinating the groups of partition %d", partition)

    def load(self) -> None:
        """Rebuild groups and offsets from ``__consumer_offsets``."""
        self._load(self.store.replay())

    def _load(self, records: Any) -> None:
        count = 0
        for key, value in records:
            count += 1
            if "offset" in key:
                group_id, topic, partition = key["offset"]
                group = self._group(group_id, create=True)
                assert group is not None
                if value is None:
                    group.offsets.pop((topic, int(partition)), None)
                else:
                    group.offsets[(topic, int(partition))] = CommittedOffset(
                        int(value["offset"]),
                        int(value.get("leader_epoch", -1)),
                        str(value.get("metadata", "")),
                        int(value.get("commit_timestamp", 0)),
                    )
            elif "group" in key:
                if value is None:
                    self.groups.pop(key["group"], None)
                    continue
                group = self._group(key["group"], create=True)
                assert group is not None
                group.generation = int(value.get("generation", 0))
                group.protocol_type = value.get("protocol_type")
                group.protocol = value.get("protocol")
        for group in self.groups.values():
            group.empty_since_ms = now_ms()
        log.info("loaded %d groups from %d records", len(self.groups), count)

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(
            target=self._housekeeping, name="riverhead-groups", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _housekeeping(self) -> None:
        while self._running:
            time.sleep(0.1)
            try:
                self.tick()
            except Exception:  # keep the coordinator alive; the bug is in the log
                log.exception("group housekeeping failed")

    def tick(self, now: float | None = None) -> None:
        """Expire sessions, finish due joins, expire offsets (called every 100 ms)."""
        now = time.monotonic() if now is None else now
        replies: list[Reply] = []
        with self.lock:
            for group in list(self.groups.values()):
                self._expire(group, now, replies)
            self._expire_offsets()
        self._send(replies)

    def _expire(self, group: Group, now: float, replies: list[Reply]) -> None:
        for member_id, deadline in list(group.pending_members.items()):
            if now > deadline:
                del group.pending_members[member_id]
        for member in list(group.members.values()):
            waiting = member.pending_join is not None or member.pending_sync is not None
            if not waiting and now - member.last_heartbeat > member.session_timeout_ms / 1000:
                log.info("group %s: member %s session expired", group.group_id, member.member_id)
                self._remove_member(group, member, replies)
        if group.state == GroupState.PREPARING_REBALANCE:
            if group.all_joined() and now >= group.join_not_before:
                self._complete_join(group, replies)
            elif now >= group.rebalance_deadline:
                for member in list(group.members.values()):
                    if member.pending_join is None:
                        self._remove_member(group, member, replies, rebalance=False)
                group.pending_members.clear()
                self._complete_join(group, replies)

    def _expire_offsets(self) -> None:
        if self.offsets_retention_ms < 0:
            return
        cutoff = now_ms() - self.offsets_retention_ms
        for group in list(self.groups.values()):
            if group.state != GroupState.EMPTY or group.empty_since_ms > cutoff:
                continue
            stale = [tp for tp, c in group.offsets.items() if c.commit_timestamp < cutoff]
            if stale:
                entries = [(offset_key(group.group_id, t, p), None) for t, p in stale]
                if self.store.append(group.group_id, entries, now_ms()) == 0:
                    for tp in stale:
                        del group.offsets[tp]

    # ---- helpers ------------------------------------------------------------------
    def _group(self, group_id: str, create: bool = False) -> Group | None:
        group = self.groups.get(group_id)
        if group is None and create:
            group = Group(group_id, empty_since_ms=now_ms())
            self.groups[group_id] = group
        return group

    def _send(self, replies: list[Reply]) -> None:
        for request, tree in replies:
            request.complete(tree)

    def _prepare_rebalance(
        self, group: Group, replies: list[Reply], now: float | None = None
    ) -> None:
        """Enter PreparingRebalance; ``now`` is the caller's clock reading, so a join that
        checks ``join_not_before`` against its own ``now`` sees a zero delay as over."""
        now = time.monotonic() if now is None else now
        if group.state == GroupState.COMPLETING_REBALANCE:
            for member in group.members.values():  # their sync can no longer complete
                if member.pending_sync is not None:
                    replies.append(
                        (member.pending_sync, _sync_error(ErrorCode.REBALANCE_IN_PROGRESS))
                    )
                    member.pending_sync = None
        if group.state != GroupState.PREPARING_REBALANCE:
            timeout = max((m.rebalance_timeout_ms for m in group.members.values()), default=0)
            group.rebalance_deadline = now + timeout / 1000
            if group.state == GroupState.EMPTY:
                group.join_not_before = now + self.initial_delay
            group.state = GroupState.PREPARING_REBALANCE
            self.rebalances += 1

    def _remove_member(
        self, group: Group, member: Member, replies: list[Reply], rebalance: bool = True
    ) -> None:
        group.members.pop(member.member_id, None)
        if member.instance_id is not None:
            group.static_members.pop(member.instance_id, None)
        if member.pending_join is not None:
            replies.append((member.pending_join, _join_error(ErrorCode.UNKNOWN_MEMBER_ID, "")))
        if member.pending_sync is not None:
            replies.append((member.pending_sync, _sync_error(ErrorCode.UNKNOWN_MEMBER_ID)))
        if group.leader == member.member_id:
            group.leader = next(iter(group.members), None)
        if not rebalance:
            return
        if not group.members and group.state != GroupState.PREPARING_REBALANCE:
            self._to_empty(group)
        elif group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            self._prepare_rebalance(group, replies)

    def _to_empty(self, group: Group) -> None:
        group.state = GroupState.EMPTY
        group.leader = None
        group.empty_since_ms = now_ms()

    def _complete_join(self, group: Group, replies: list[Reply]) -> None:
        group.generation += 1
        if not group.members:
            self._to_empty(group)
            group.protocol = None
            self._persist_group(group)
            return
        group.protocol = group.select_protocol()
        if group.leader not in group.members:
            group.leader = next(iter(group.members))
        group.state = GroupState.COMPLETING_REBALANCE
        self._persist_group(group)
        log.info(
            "group %s: generation %d with %d members, protocol %s",
            group.group_id,
            group.generation,
            len(group.members),
            group.protocol,
            extra=event(
                "group_rebalanced",
                group=group.group_id,
                generation=group.generation,
                members=len(group.members),
                protocol=group.protocol,
            ),
        )
        for member in group.members.values():
            member.assignment = b""
            member.last_heartbeat = time.monotonic()
            if member.pending_join is not None:
                replies.append((member.pending_join, self._join_answer(group, member)))
                member.pending_join = None

    @staticmethod
    def _join_answer(group: Group, member: Member) -> dict[str, Any]:
        """A successful JoinGroup answer; only the leader gets the member list."""
        is_leader = member.member_id == group.leader
        return {
            "error_code": 0,
            "generation_id": group.generation,
            "protocol_type": group.protocol_type,
            "protocol_name": group.protocol,
            "leader": group.leader,
            "skip_assignment": False,
            "member_id": member.member_id,
            "members": [
                {
                    "member_id": m.member_id,
                    "group_instance_id": m.instance_id,
                    "metadata": m.metadata_for(group.protocol or ""),
                }
                for m in group.members.values()
            ]
            if is_leader
            else [],
        }

    def _persist_group(self, group: Group) -> None:
        value = json.dumps(
            {
                "protocol_type": group.protocol_type,
                "generation": group.generation,
                "protocol": group.protocol,
            }
        )
        error = self.store.append(
            group.group_id, [(group_key(group.group_id), value.encode())], now_ms()
        )
        if error:
            log.warning(
                "group %s: generation %d not persisted (error %d)",
                group.group_id,
                group.generation,
                error,
            )

    def _check_member(
        self, group: Group | None, member_id: str, generation: int, instance_id: str | None
    ) -> tuple[ErrorCode, Member | None]:
        if group is None or group.state == GroupState.DEAD:
            return ErrorCode.UNKNOWN_MEMBER_ID, None
        if instance_id is not None:
            known = group.static_members.get(instance_id)
            if known is not None and known != member_id:
                return ErrorCode.FENCED_INSTANCE_ID, None
        member = group.members.get(member_id)
        if member is None:
            return ErrorCode.UNKNOWN_MEMBER_ID, None
        if generation != group.generation:
            return ErrorCode.ILLEGAL_GENERATION, member
        return ErrorCode.NONE, member

    # ---- JoinGroup ----------------------------------------------------------------
    def join(
        self,
        request: Any,
        *,
        group_id: str,
        member_id: str,
        instance_id: str | None,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: list[tuple[str, bytes]],
        client_id: str,
        client_host: str,
        require_known_member_id: bool,
    ) -> dict[str, Any] | None:
        """Returns an immediate answer, or None when ``request`` was parked."""
        if not group_id:
            return _join_error(ErrorCode.INVALID_GROUP_ID, member_id)
        if owner := self.owner_error(group_id):
            return _join_error(owner, member_id)
        if not MIN_SESSION_TIMEOUT_MS <= session_timeout_ms <= MAX_SESSION_TIMEOUT_MS:
            return _join_error(ErrorCode.INVALID_SESSION_TIMEOUT, member_id)
        replies: list[Reply] = []
        try:
            with self.lock:
                group = self._group(group_id, create=not member_id)
                if group is None or group.state == GroupState.DEAD:
                    return _join_error(ErrorCode.UNKNOWN_MEMBER_ID, member_id)
                if not group.is_compatible(protocol_type, protocols, member_id or None):
                    return _join_error(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, member_id)
                now = time.monotonic()
                if not member_id:
                    if instance_id is not None and instance_id in group.static_members:
                        # A static member restarting: the new id replaces (fences) the old one.
                        old = group.members.pop(group.static_members[instance_id])
                        member_id = f"{instance_id}-{uuid.uuid4()}"
                        if old.pending_join is not None:
                            replies.append(
                                (
                                    old.pending_join,
                                    _join_error(ErrorCode.FENCED_INSTANCE_ID, old.member_id),
                                )
                            )
                        if old.pending_sync is not None:
                            replies.append(
                                (old.pending_sync, _sync_error(ErrorCode.FENCED_INSTANCE_ID))
                            )
                        if group.leader == old.member_id:
                            group.leader = member_id
                        if group.state == GroupState.STABLE and old.protocols == protocols:
                            # KIP-345: same instance, same subscription: no rebalance; the new
                            # member id takes over the old one's assignment (a leader gets the
                            # member list back, and its SyncGroup in Stable just reads its share).
                            old.member_id = member_id
                            old.pending_join = old.pending_sync = None
                            old.last_heartbeat = now
                            old.session_timeout_ms = session_timeout_ms
                            old.rebalance_timeout_ms = rebalance_timeout_ms
                            group.members[member_id] = old
                            group.static_members[instance_id] = member_id
                            return self._join_answer(group, old)
                    else:
                        member_id = f"{client_id or 'member'}-{uuid.uuid4()}"
                        if require_known_member_id and instance_id is None:
                            group.pending_members[member_id] = now + session_timeout_ms / 1000
                            return _join_error(ErrorCode.MEMBER_ID_REQUIRED, member_id)
                elif member_id in group.pending_members:
                    del group.pending_members[member_id]
                elif member_id not in group.members:
                    return _join_error(ErrorCode.UNKNOWN_MEMBER_ID, member_id)
                elif instance_id is not None and group.static_members.get(instance_id) != member_id:
                    return _join_error(ErrorCode.FENCED_INSTANCE_ID, member_id)
                member = group.members.get(member_id)
                if member is None:
                    member = Member(
                        member_id,
                        instance_id,
                        client_id,
                        client_host,
                        session_timeout_ms,
                        rebalance_timeout_ms,
                        protocols,
                    )
                    group.members[member_id] = member
                    if instance_id is not None:
                        group.static_members[instance_id] = member_id
                else:
                    member.protocols = protocols
                    member.session_timeout_ms = session_timeout_ms
                    member.rebalance_timeout_ms = rebalance_timeout_ms
                if member.pending_join is not None:  # a retried join replaces the older one
                    replies.append(
                        (
                            member.pending_join,
                            _join_error(ErrorCode.REBALANCE_IN_PROGRESS, member_id),
                        )
                    )
                member.pending_join = request
                member.last_heartbeat = now
                group.protocol_type = protocol_type
                if group.leader is None:
                    group.leader = member_id
                self._prepare_rebalance(group, replies, now)  # deadlines once per rebalance
                if group.all_joined() and now >= group.join_not_before:
                    self._complete_join(group, replies)
                return None
        finally:
            self._send(replies)

    # ---- SyncGroup ----------------------------------------------------------------
    def sync(
        self,
        request: Any,
        *,
        group_id: str,
        member_id: str,
        generation: int,
        instance_id: str | None,
        assignments: dict[str, bytes],
    ) -> dict[str, Any] | None:
        if owner := self.owner_error(group_id):
            return _sync_error(owner)
        replies: list[Reply] = []
        try:
            with self.lock:
                group = self.groups.get(group_id)
                error, member = self._check_member(group, member_id, generation, instance_id)
                if error:
                    return _sync_error(error)
                assert group is not None and member is not None
                if group.state == GroupState.PREPARING_REBALANCE:
                    return _sync_error(ErrorCode.REBALANCE_IN_PROGRESS)
                if group.state == GroupState.STABLE:
                    return self._sync_answer(group, member)
                if member.pending_sync is not None:  # a retried sync replaces the older one
                    replies.append(
                        (member.pending_sync, _sync_error(ErrorCode.REBALANCE_IN_PROGRESS))
                    )
                member.pending_sync = request
                member.last_heartbeat = time.monotonic()
                if member_id == group.leader:
                    for m in group.members.values():
                        m.assignment = assignments.get(m.member_id, b"")
                    group.state = GroupState.STABLE
                    for m in group.members.values():
                        if m.pending_sync is not None:
                            replies.append((m.pending_sync, self._sync_answer(group, m)))
                            m.pending_sync = None
                return None
        finally:
            self._send(replies)

    @staticmethod
    def _sync_answer(group: Group, member: Member) -> dict[str, Any]:
        return {
            "error_code": 0,
            "protocol_type": group.protocol_type,
            "protocol_name": group.protocol,
            "assignment": member.assignment,
        }

    # ---- Heartbeat / LeaveGroup ---------------------------------------------------
    def heartbeat(
        self, *, group_id: str, member_id: str, generation: int, instance_id: str | None
    ) -> ErrorCode:
        if owner := self.owner_error(group_id):
            return owner
        with self.lock:
            group = self.groups.get(group_id)
            error, member = self._check_member(group, member_id, generation, instance_id)
            if member is not None:
                member.last_heartbeat = time.monotonic()
            if error:
                return error
            assert group is not None
            if group.state == GroupState.PREPARING_REBALANCE:
                return ErrorCode.REBALANCE_IN_PROGRESS
            return ErrorCode.NONE

    def leave(
        self, group_id: str, leaving: list[tuple[str, str | None]]
    ) -> tuple[ErrorCode, list[tuple[str, str | None, ErrorCode]]]:
        """Remove members (by member id, or by instance id for static members)."""
        if owner := self.owner_error(group_id):
            return owner, [(m, i, owner) for m, i in leaving]
        replies: list[Reply] = []
        results: list[tuple[str, str | None, ErrorCode]] = []
        try:
            with self.lock:
                group = self.groups.get(group_id)
                if group is None:
                    return ErrorCode.UNKNOWN_MEMBER_ID, [
                        (m, i, ErrorCode.UNKNOWN_MEMBER_ID) for m, i in leaving
                    ]
                for member_id, instance_id in leaving:
                    if instance_id is not None:
                        known = group.static_members.get(instance_id)
                        if known is None or (member_id and member_id != known):
                            err = (
                                ErrorCode.UNKNOWN_MEMBER_ID
                                if known is None
                                else ErrorCode.FENCED_INSTANCE_ID
                            )
                            results.append((member_id, instance_id, err))
                            continue
                        member_id = known
                    member = group.members.get(member_id)
                    if member is None:
                        results.append((member_id, instance_id, ErrorCode.UNKNOWN_MEMBER_ID))
                        continue
                    log.info("group %s: member %s left", group_id, member_id)
                    self._remove_member(group, member, replies)
                    results.append((member_id, instance_id, ErrorCode.NONE))
                if group.state == GroupState.PREPARING_REBALANCE and (
                    group.all_joined() or not group.members
                ):
                    self._complete_join(group, replies)
            return ErrorCode.NONE, results
        finally:
            self._send(replies)

    # ---- offsets ------------------------------------------------------------------
    def commit(
        self,
        *,
        group_id: str,
        member_id: str,
        generation: int,
        instance_id: str | None,
        offsets: list[tuple[str, int, int, int, str | None]],
    ) -> list[tuple[str, int, ErrorCode]]:
        """Commit (topic, partition, offset, leader_epoch, metadata) tuples."""
        if group_id and (owner := self.owner_error(group_id)):
            return [(t, p, owner) for t, p, *_ in offsets]
        with self.lock:
            error = ErrorCode.NONE
            group = self._group(
                group_id, create=bool(group_id) and generation < 0 and not member_id
            )
            if not group_id:
                error = ErrorCode.INVALID_GROUP_ID
            elif generation < 0 and not member_id:
                if group is None or group.state != GroupState.EMPTY:
                    error = ErrorCode.UNKNOWN_MEMBER_ID  # a simple commit needs an idle group
            else:
                error, _ = self._check_member(group, member_id, generation, instance_id)
                # Kafka accepts commits of the current generation while members rejoin
                # (PreparingRebalance) but not while the new assignment is being handed out.
                if (
                    not error
                    and group is not None
                    and group.state == GroupState.COMPLETING_REBALANCE
                ):
                    error = ErrorCode.REBALANCE_IN_PROGRESS
            if error:
                return [(t, p, error) for t, p, _, _, _ in offsets]
            assert group is not None
            stamp = now_ms()
            refused: dict[tuple[str, int], ErrorCode] = {}
            accepted: dict[tuple[str, int], CommittedOffset] = {}
            for topic, partition, offset, epoch, metadata in offsets:
                if not self.topic_exists(topic, partition):
                    refused[(topic, partition)] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                elif metadata is not None and len(metadata.encode()) > MAX_METADATA_BYTES:
                    refused[(topic, partition)] = ErrorCode.OFFSET_METADATA_TOO_LARGE
                else:
                    accepted[(topic, partition)] = CommittedOffset(
                        offset, epoch, metadata or "", stamp
                    )
            code = ErrorCode.NONE
            if accepted:
                entries = [
                    (offset_key(group_id, t, p), _offset_value(c)) for (t, p), c in accepted.items()
                ]
                code = ErrorCode(self.store.append(group_id, entries, stamp))
                if not code:
                    group.offsets.update(accepted)
            return [(t, p, refused.get((t, p), code)) for t, p, _, _, _ in offsets]

    def fetch_offsets(
        self, group_id: str, wanted: list[tuple[str, list[int]]] | None
    ) -> list[tuple[str, list[tuple[int, CommittedOffset | None]]]]:
        """Committed offsets; ``wanted=None`` means every partition the group committed."""
        with self.lock:
            group = self.groups.get(group_id)
            offsets = dict(group.offsets) if group is not None else {}
        if wanted is None:
            by_topic: dict[str, list[tuple[int, CommittedOffset | None]]] = {}
            for (topic, partition), committed in sorted(offsets.items()):
                by_topic.setdefault(topic, []).append((partition, committed))
            return list(by_topic.items())
        return [(t, [(p, offsets.get((t, p))) for p in parts]) for t, parts in wanted]

    # ---- admin --------------------------------------------------------------------
    def list_groups(self, states: set[str] | None) -> list[tuple[str, str, str]]:
        with self.lock:
            return [
                (g.group_id, g.protocol_type or "", g.state.value)
                for g in self.groups.values()
                if g.state != GroupState.DEAD
                and (not states or g.state.value in states)
                and not self.owner_error(g.group_id)
            ]

    def describe(self, group_id: str) -> dict[str, Any]:
        if owner := self.owner_error(group_id):
            return {
                "error_code": owner,
                "group_id": group_id,
                "group_state": "",
                "protocol_type": "",
                "protocol_data": "",
                "members": [],
            }
        with self.lock:
            group = self.groups.get(group_id)
            if group is None or group.state == GroupState.DEAD:
                return {
                    "error_code": 0,
                    "group_id": group_id,
                    "group_state": "Dead",
                    "protocol_type": "",
                    "protocol_data": "",
                    "members": [],
                }
            stable = group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE)
            return {
                "error_code": 0,
                "group_id": group_id,
                "group_state": group.state.value,
                "protocol_type": group.protocol_type or "",
                "protocol_data": (group.protocol or "") if stable else "",
                "members": [
                    {
                        "member_id": m.member_id,
                        "group_instance_id": m.instance_id,
                        "client_id": m.client_id,
                        "client_host": m.client_host,
                        "member_metadata": m.metadata_for(group.protocol or "") if stable else b"",
                        "member_assignment": m.assignment
                        if group.state == GroupState.STABLE
                        else b"",
                    }
                    for m in group.members.values()
                ],
            }

    def delete_group(self, group_id: str) -> ErrorCode:
        if owner := self.owner_error(group_id):
            return owner
        with self.lock:
            group = self.groups.get(group_id)
            if group is None or group.state == GroupState.DEAD:
                return ErrorCode.GROUP_ID_NOT_FOUND
            if group.state != GroupState.EMPTY:
                return ErrorCode.NON_EMPTY_GROUP
            entries: list[tuple[bytes, bytes | None]] = [
                (offset_key(group_id, t, p), None) for t, p in group.offsets
            ]
            entries.append((group_key(group_id), None))
            error = ErrorCode(self.store.append(group_id, entries, now_ms()))
            if not error:
                group.state = GroupState.DEAD
                del self.groups[group_id]
            return error

    def delete_offsets(
        self, group_id: str, partitions: list[tuple[str, int]]
    ) -> tuple[ErrorCode, list[tuple[str, int, ErrorCode]]]:
        """OffsetDelete: only while no member consumes (the group is Empty)."""
        if owner := self.owner_error(group_id):
            return owner, []
        with self.lock:
            group = self.groups.get(group_id)
            if group is None:
                return ErrorCode.GROUP_ID_NOT_FOUND, []
            if group.state != GroupState.EMPTY:
                return ErrorCode.NONE, [
                    (t, p, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC) for t, p in partitions
                ]
            entries: list[tuple[bytes, bytes | None]] = [
                (offset_key(group_id, t, p), None) for t, p in partitions
            ]
            error = ErrorCode(self.store.append(group_id, entries, now_ms()))
            if not error:
                for tp in partitions:
                    group.offsets.pop(tp, None)
            return ErrorCode.NONE, [(t, p, error) for t, p in partitions]


def _offset_value(c: CommittedOffset) -> bytes:
    return json.dumps(
        {
            "offset": c.offset,
            "leader_epoch": c.leader_epoch,
            "metadata": c.metadata,
            "commit_timestamp": c.commit_timestamp,
        }
    ).encode()


def _join_error(error: ErrorCode, member_id: str) -> dict[str, Any]:
    return {
        "error_code": error,
        "generation_id": -1,
        "protocol_type": None,
        "protocol_name": "",
        "leader": "",
        "skip_assignment": False,
        "member_id": member_id,
        "members": [],
    }


def _sync_error(error: ErrorCode) -> dict[str, Any]:
    return {"error_code": error, "protocol_type": None, "protocol_name": None, "assignment": b""}
