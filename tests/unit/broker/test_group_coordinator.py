"""The group coordinator driven directly: no sockets, no broker, a controlled clock.

Requests are :class:`FakeRequest` objects that record what ``complete(tree)`` receives
(a parked JoinGroup/SyncGroup is answered that way); the offset store is an in-memory
fake; ``time`` in the coordinator module is replaced by :class:`FakeClock`, so session
and rebalance timeouts expire exactly when a test moves the clock and calls ``tick``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from riverhead.broker.groups import coordinator as coordinator_module
from riverhead.broker.groups.coordinator import GroupCoordinator
from riverhead.broker.groups.group import GroupState
from riverhead.protocol.errors import ErrorCode

pytestmark = pytest.mark.unit

G = "g"
SESSION_MS = 10_000
REBALANCE_MS = 30_000
RANGE = [("range", b"range-meta")]


class FakeClock:
    """Stands in for the ``time`` module inside the coordinator."""

    def __init__(self) -> None:
        self.mono = 1_000.0
        self.wall_ms = 1_700_000_000_000

    def monotonic(self) -> float:
        return self.mono

    def time_ns(self) -> int:
        return self.wall_ms * 1_000_000

    def time(self) -> float:
        return self.wall_ms / 1000

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall_ms += int(seconds * 1000)


class FakeStore:
    """OffsetStore-like: append() succeeds and records entries; replay() yields nothing."""

    def __init__(self) -> None:
        self.appended: list[tuple[str, list[tuple[bytes, bytes | None]], int]] = []

    def append(self, group: str, entries: list[tuple[bytes, bytes | None]], now_ms: int) -> int:
        self.appended.append((group, list(entries), now_ms))
        return 0

    def replay(self) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        return iter(())

    def tombstones(self) -> list[bytes]:
        return [k for _, entries, _ in self.appended for k, v in entries if v is None]


class FakeRequest:
    """A parked request: remembers every tree it was completed with."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.trees: list[dict[str, Any]] = []

    def complete(self, tree: dict[str, Any]) -> None:
        self.trees.append(tree)

    @property
    def done(self) -> bool:
        return bool(self.trees)

    @property
    def tree(self) -> dict[str, Any]:
        assert len(self.trees) == 1, f"{self.name}: completed {len(self.trees)} times"
        return self.trees[0]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(coordinator_module, "time", fake)
    return fake


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def make(store: FakeStore, *, retention_ms: int = 7 * 24 * 3600 * 1000) -> GroupCoordinator:
    return GroupCoordinator(
        store,  # type: ignore[arg-type]
        initial_rebalance_delay_ms=0,
        offsets_retention_ms=retention_ms,
        topic_exists=lambda t, p: True,
    )


@pytest.fixture
def co(clock: FakeClock, store: FakeStore) -> GroupCoordinator:
    return make(store)


# ---- driving helpers ---------------------------------------------------------------------------


def join(
    co: GroupCoordinator,
    member_id: str = "",
    *,
    group: str = G,
    instance_id: str | None = None,
    session_ms: int = SESSION_MS,
    rebalance_ms: int = REBALANCE_MS,
    protocol_type: str = "consumer",
    protocols: list[tuple[str, bytes]] | None = None,
    client_id: str = "c",
    require_known: bool = True,
) -> tuple[FakeRequest, dict[str, Any] | None]:
    req = FakeRequest(f"join {member_id or instance_id or 'new'}")
    answer = co.join(
        req,
        group_id=group,
        member_id=member_id,
        instance_id=instance_id,
        session_timeout_ms=session_ms,
        rebalance_timeout_ms=rebalance_ms,
        protocol_type=protocol_type,
        protocols=RANGE if protocols is None else protocols,
        client_id=client_id,
        client_host="/127.0.0.1",
        require_known_member_id=require_known,
    )
    return req, answer


def new_member(co: GroupCoordinator, **kw: Any) -> tuple[str, FakeRequest]:
    """The KIP-394 two-step join: MEMBER_ID_REQUIRED, then a join with that id."""
    _, first = join(co, **kw)
    assert first is not None and first["error_code"] == ErrorCode.MEMBER_ID_REQUIRED
    member_id = first["member_id"]
    req, answer = join(co, member_id, **kw)
    assert answer is None, answer
    return member_id, req


def sync(
    co: GroupCoordinator,
    member_id: str,
    generation: int,
    assignments: dict[str, bytes] | None = None,
    *,
    group: str = G,
    instance_id: str | None = None,
) -> tuple[FakeRequest, dict[str, Any] | None]:
    req = FakeRequest(f"sync {member_id}")
    answer = co.sync(
        req,
        group_id=group,
        member_id=member_id,
        generation=generation,
        instance_id=instance_id,
        assignments=assignments or {},
    )
    return req, answer


def heartbeat(co: GroupCoordinator, member_id: str, generation: int, **kw: Any) -> ErrorCode:
    return co.heartbeat(
        group_id=kw.get("group", G),
        member_id=member_id,
        generation=generation,
        instance_id=kw.get("instance_id"),
    )


def commit(
    co: GroupCoordinator, member_id: str, generation: int, offset: int = 5, *, group: str = G
) -> ErrorCode:
    results = co.commit(
        group_id=group,
        member_id=member_id,
        generation=generation,
        instance_id=None,
        offsets=[("t", 0, offset, -1, "")],
    )
    (_, _, error) = results[0]
    return error


def stable_pair(co: GroupCoordinator) -> tuple[str, str, int]:
    """Two members A (leader) and B in a Stable group; returns (A, B, generation)."""
    a, ja = new_member(co)
    gen1 = ja.tree["generation_id"]
    sa, answer = sync(co, a, gen1, {a: b"A"})
    assert answer is None and sa.tree["error_code"] == 0
    b, jb = new_member(co)
    assert not jb.done
    assert heartbeat(co, a, gen1) == ErrorCode.REBALANCE_IN_PROGRESS
    ja2, _ = join(co, a)
    gen = ja2.tree["generation_id"]
    assert jb.tree["generation_id"] == gen == gen1 + 1
    fb, answer = sync(co, b, gen)
    assert answer is None and not fb.done
    fa, answer = sync(co, a, gen, {a: b"A", b: b"B"})
    assert fa.tree["assignment"] == b"A" and fb.tree["assignment"] == b"B"
    assert co.groups[G].state == GroupState.STABLE
    return a, b, gen


# ---- JoinGroup / SyncGroup ---------------------------------------------------------------------


def test_member_id_required_then_join(co: GroupCoordinator) -> None:
    _, first = join(co, client_id="app")
    assert first is not None
    assert first["error_code"] == ErrorCode.MEMBER_ID_REQUIRED
    member_id = first["member_id"]
    assert member_id.startswith("app-")
    assert not co.groups[G].members, "a pending member is not a member yet"
    req, answer = join(co, member_id)
    assert answer is None, "JoinGroup answers through the parked request"
    tree = req.tree
    assert tree["error_code"] == 0
    assert tree["member_id"] == member_id == tree["leader"]
    assert tree["generation_id"] == 1
    assert tree["protocol_name"] == "range"
    assert [m["member_id"] for m in tree["members"]] == [member_id]
    assert tree["members"][0]["metadata"] == b"range-meta"
    assert co.groups[G].state == GroupState.COMPLETING_REBALANCE


def test_join_v3_gets_member_id_at_once(co: GroupCoordinator) -> None:
    req, answer = join(co, require_known=False)
    assert answer is None
    assert req.tree["error_code"] == 0 and req.tree["member_id"]


def test_unknown_member_id_on_join(co: GroupCoordinator) -> None:
    _, answer = join(co, "nobody")
    assert answer is not None and answer["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID


def test_two_members_barrier_leader_gets_member_list(co: GroupCoordinator) -> None:
    a, ja = new_member(co)
    gen1 = ja.tree["generation_id"]
    sync(co, a, gen1, {a: b"x"})
    b, jb = new_member(co)
    assert not jb.done, "the join waits for the known member to rejoin"
    assert co.groups[G].state == GroupState.PREPARING_REBALANCE
    ja2, _ = join(co, a)
    leader, follower = ja2.tree, jb.tree
    assert leader["generation_id"] == follower["generation_id"] == gen1 + 1
    assert leader["leader"] == follower["leader"] == a
    assert sorted(m["member_id"] for m in leader["members"]) == sorted([a, b])
    assert follower["members"] == [], "only the leader gets the member list"


def test_sync_distributes_the_leaders_assignment(co: GroupCoordinator) -> None:
    a, b, gen = stable_pair(co)
    _, late = sync(co, b, gen)
    assert late is not None and late["assignment"] == b"B", "a sync in Stable answers at once"
    assert co.groups[G].members[a].assignment == b"A"


def test_heartbeat_rebalance_in_progress_when_a_third_joins(co: GroupCoordinator) -> None:
    a, b, gen = stable_pair(co)
    assert heartbeat(co, a, gen) == ErrorCode.NONE
    _c, jc = new_member(co)
    assert heartbeat(co, a, gen) == ErrorCode.REBALANCE_IN_PROGRESS
    assert heartbeat(co, b, gen) == ErrorCode.REBALANCE_IN_PROGRESS
    ja, _ = join(co, a)
    jb, _ = join(co, b)
    assert ja.tree["generation_id"] == jb.tree["generation_id"] == jc.tree["generation_id"]
    assert len(ja.tree["members"]) == 3


def test_stale_generation_and_unknown_member(co: GroupCoordinator) -> None:
    a, _b, gen = stable_pair(co)
    old = gen - 1
    assert heartbeat(co, a, old) == ErrorCode.ILLEGAL_GENERATION
    _, answer = sync(co, a, old)
    assert answer is not None and answer["error_code"] == ErrorCode.ILLEGAL_GENERATION
    assert commit(co, a, old) == ErrorCode.ILLEGAL_GENERATION
    assert heartbeat(co, "ghost", gen) == ErrorCode.UNKNOWN_MEMBER_ID
    _, answer = sync(co, "ghost", gen)
    assert answer is not None and answer["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID
    assert commit(co, "ghost", gen) == ErrorCode.UNKNOWN_MEMBER_ID
    assert heartbeat(co, a, gen, group="other") == ErrorCode.UNKNOWN_MEMBER_ID
    assert commit(co, a, gen) == ErrorCode.NONE


def test_leave_triggers_a_rebalance(co: GroupCoordinator) -> None:
    a, b, gen = stable_pair(co)
    error, results = co.leave(G, [(b, None)])
    assert error == ErrorCode.NONE and results == [(b, None, ErrorCode.NONE)]
    assert co.groups[G].state == GroupState.PREPARING_REBALANCE
    assert heartbeat(co, a, gen) == ErrorCode.REBALANCE_IN_PROGRESS
    ja, _ = join(co, a)
    assert ja.tree["generation_id"] == gen + 1
    assert [m["member_id"] for m in ja.tree["members"]] == [a]
    _, results = co.leave(G, [("ghost", None)])
    assert results == [("ghost", None, ErrorCode.UNKNOWN_MEMBER_ID)]


def test_last_member_leaving_empties_the_group(co: GroupCoordinator) -> None:
    a, ja = new_member(co)
    sync(co, a, ja.tree["generation_id"], {a: b""})
    co.leave(G, [(a, None)])
    group = co.groups[G]
    assert group.state == GroupState.EMPTY and not group.members and group.leader is None


def test_session_expiry(co: GroupCoordinator, clock: FakeClock) -> None:
    a, b, gen = stable_pair(co)
    for _ in range(3):  # A heartbeats, B is silent
        clock.advance(4)
        assert heartbeat(co, a, gen) == ErrorCode.NONE
        co.tick()
    group = co.groups[G]
    assert b not in group.members, "B's 10 s session expired"
    assert group.state == GroupState.PREPARING_REBALANCE
    assert heartbeat(co, b, gen) == ErrorCode.UNKNOWN_MEMBER_ID
    assert heartbeat(co, a, gen) == ErrorCode.REBALANCE_IN_PROGRESS


def test_session_not_expired_early(co: GroupCoordinator, clock: FakeClock) -> None:
    a, b, _gen = stable_pair(co)
    clock.advance(SESSION_MS / 1000 - 0.5)
    co.tick(clock.monotonic())
    assert set(co.groups[G].members) == {a, b}


def test_rebalance_timeout_removes_laggards(co: GroupCoordinator, clock: FakeClock) -> None:
    a, b, gen = stable_pair(co)
    c, jc = new_member(co)
    ja, _ = join(co, a)
    waited = 0.0
    while waited <= REBALANCE_MS / 1000 + 1:  # B keeps its session alive but never rejoins
        clock.advance(1)
        waited += 1
        heartbeat(co, b, gen)
        co.tick()
        if ja.done:
            break
    assert ja.done and jc.done, "the join completed at the rebalance timeout"
    assert waited >= REBALANCE_MS / 1000 - 1, f"completed after {waited}s"
    assert sorted(m["member_id"] for m in ja.tree["members"]) == sorted([a, c])
    assert b not in co.groups[G].members
    assert heartbeat(co, b, gen) == ErrorCode.UNKNOWN_MEMBER_ID


class TickingClock(FakeClock):
    """A clock that moves on every reading, as a real one does while a request is handled."""

    def monotonic(self) -> float:
        self.mono += 0.001
        return self.mono


def test_join_of_an_empty_group_without_initial_delay_completes_at_once(
    monkeypatch: pytest.MonkeyPatch, store: FakeStore
) -> None:
    """With group.initial.rebalance.delay.ms=0 Kafka answers the join of a lone member at
    once; it used to wait for the next housekeeping tick (up to 100 ms) because the delay's
    end was read from the clock after the join's own ``now``."""
    monkeypatch.setattr(coordinator_module, "time", TickingClock())
    co = make(store)
    for _round in range(2):  # a new group, then the same group Empty again
        a, ja = new_member(co)
        assert ja.done and ja.tree["error_code"] == 0, "answered without a tick"
        sync(co, a, ja.tree["generation_id"], {a: b""})
        co.leave(G, [(a, None)])
        assert co.groups[G].state == GroupState.EMPTY


def test_initial_rebalance_delay_holds_only_the_join_of_an_empty_group(
    clock: FakeClock, store: FakeStore
) -> None:
    co = GroupCoordinator(
        store,  # type: ignore[arg-type]
        initial_rebalance_delay_ms=3000,
        offsets_retention_ms=-1,
        topic_exists=lambda t, p: True,
    )
    a, ja = new_member(co)
    clock.advance(2.9)
    co.tick()
    assert not ja.done, "the first join waits for the initial delay"
    b, jb = new_member(co)  # joins within the delay: one rebalance for both
    clock.advance(0.2)
    co.tick()
    gen = ja.tree["generation_id"]
    assert jb.tree["generation_id"] == gen
    assert sorted(m["member_id"] for m in ja.tree["members"]) == sorted([a, b])
    sync(co, b, gen)
    sync(co, a, gen, {a: b"A", b: b"B"})
    co.leave(G, [(b, None)])  # a rebalance of a non-empty group is not delayed
    ja2, _ = join(co, a)
    assert ja2.tree["generation_id"] == gen + 1


def test_inconsistent_group_protocol(co: GroupCoordinator) -> None:
    _a, _ja = new_member(co)
    _, answer = join(co, protocols=[("roundrobin", b"")])
    assert answer is not None and answer["error_code"] == ErrorCode.INCONSISTENT_GROUP_PROTOCOL
    _, answer = join(co, protocol_type="connect")
    assert answer is not None and answer["error_code"] == ErrorCode.INCONSISTENT_GROUP_PROTOCOL
    _, answer = join(co, protocols=[])
    assert answer is not None and answer["error_code"] == ErrorCode.INCONSISTENT_GROUP_PROTOCOL
    b, _ = new_member(co, protocols=[("roundrobin", b""), ("range", b"r")])
    assert b in co.groups[G].members, "a common protocol is enough"


def test_invalid_session_timeout(co: GroupCoordinator) -> None:
    for ms in (5_999, 1_800_001, 0):
        _, answer = join(co, session_ms=ms)
        assert answer is not None and answer["error_code"] == ErrorCode.INVALID_SESSION_TIMEOUT
    _, answer = join(co, session_ms=6_000)
    assert answer is not None and answer["error_code"] == ErrorCode.MEMBER_ID_REQUIRED


def test_invalid_group_id(co: GroupCoordinator) -> None:
    _, answer = join(co, group="")
    assert answer is not None and answer["error_code"] == ErrorCode.INVALID_GROUP_ID


# ---- offsets -----------------------------------------------------------------------------------


def test_simple_commit_only_on_an_empty_group(co: GroupCoordinator, store: FakeStore) -> None:
    assert commit(co, "", -1, 7, group="tool") == ErrorCode.NONE
    assert co.fetch_offsets("tool", [("t", [0])])[0][1][0][1].offset == 7  # type: ignore[union-attr]
    a, b, _gen = stable_pair(co)
    assert commit(co, "", -1) == ErrorCode.UNKNOWN_MEMBER_ID
    co.leave(G, [(a, None), (b, None)])
    assert co.groups[G].state == GroupState.EMPTY
    assert commit(co, "", -1, 9) == ErrorCode.NONE
    assert store.appended, "commits go to the store first"


def test_commit_with_an_empty_group_id_creates_no_group(co: GroupCoordinator) -> None:
    assert commit(co, "", -1, group="") == ErrorCode.INVALID_GROUP_ID
    assert "" not in {g for g, _, _ in co.list_groups(None)}, (
        "a rejected simple commit left a group with an empty id behind"
    )


def test_commit_during_preparing_rebalance_is_accepted(co: GroupCoordinator) -> None:
    """Kafka accepts commits from current-generation members while PreparingRebalance:
    eager consumers commit in onPartitionsRevoked, after the heartbeat said
    REBALANCE_IN_PROGRESS and before they rejoin."""
    a, _b, gen = stable_pair(co)
    new_member(co)
    assert co.groups[G].state == GroupState.PREPARING_REBALANCE
    assert commit(co, a, gen, 11) == ErrorCode.NONE


def test_commit_during_completing_rebalance_is_refused(co: GroupCoordinator) -> None:
    """Kafka: the member knows the new generation but has no assignment yet."""
    a, ja = new_member(co)
    gen = ja.tree["generation_id"]
    assert co.groups[G].state == GroupState.COMPLETING_REBALANCE
    assert commit(co, a, gen) == ErrorCode.REBALANCE_IN_PROGRESS


def test_offsets_retention_tombstones(clock: FakeClock, store: FakeStore) -> None:
    co = make(store, retention_ms=1_000)
    assert commit(co, "", -1, 3, group="idle") == ErrorCode.NONE
    a, ja = new_member(co)
    gen = ja.tree["generation_id"]
    sync(co, a, gen, {a: b""})
    assert commit(co, a, gen, 4) == ErrorCode.NONE
    co.tick()
    assert co.fetch_offsets("idle", None), "not expired yet"
    for _ in range(3):
        clock.advance(1)
        heartbeat(co, a, gen)
        co.tick()
    assert co.fetch_offsets("idle", None) == [], "expired offsets are dropped"
    assert any(b'"idle"' in k for k in store.tombstones()), "and tombstoned in the log"
    assert co.fetch_offsets(G, None), "a group with members keeps its offsets"


# ---- static membership -------------------------------------------------------------------------


def test_static_member_rejoin_does_not_rebalance(co: GroupCoordinator) -> None:
    """KIP-345: a known group.instance.id rejoining (a restart, new member id) while the
    group is Stable gets the current generation and its old assignment, no rebalance."""
    ja, _ = join(co, instance_id="ia")
    a = ja.tree["member_id"]
    gen1 = ja.tree["generation_id"]
    sync(co, a, gen1, {a: b"A"}, instance_id="ia")
    jb, _ = join(co, instance_id="ib")
    _ja2, _ = join(co, a, instance_id="ia")
    b, gen = jb.tree["member_id"], jb.tree["generation_id"]
    sync(co, b, gen, instance_id="ib")
    sync(co, a, gen, {a: b"A", b: b"B"}, instance_id="ia")
    assert co.groups[G].state == GroupState.STABLE

    restarted, answer = join(co, instance_id="ib")  # B restarts: empty member id
    assert co.groups[G].state == GroupState.STABLE, (
        f"a static rejoin must not rebalance: the group went {co.groups[G].state.value}, "
        f"the rejoin was {'answered' if answer or restarted.done else 'parked'}"
    )
    tree = answer if answer is not None else restarted.tree
    assert tree["error_code"] == 0
    assert tree["generation_id"] == gen
    assert heartbeat(co, a, gen, instance_id="ia") == ErrorCode.NONE
    _, answer = sync(co, tree["member_id"], gen, instance_id="ib")
    assert answer is not None and answer["assignment"] == b"B"


def test_static_leader_rejoin_does_not_rebalance(co: GroupCoordinator) -> None:
    """Kafka (KIP-345, KIP-814) does not rebalance when the static *leader* restarts into
    a Stable group with an unchanged protocol either: it gets the member list back (with
    skip_assignment on v9+) and the group stays Stable."""
    ja, _ = join(co, instance_id="ia")
    a = ja.tree["member_id"]
    sync(co, a, ja.tree["generation_id"], {a: b"A"}, instance_id="ia")
    jb, _ = join(co, instance_id="ib")
    join(co, a, instance_id="ia")
    b, gen = jb.tree["member_id"], jb.tree["generation_id"]
    sync(co, b, gen, instance_id="ib")
    sync(co, a, gen, {a: b"A", b: b"B"}, instance_id="ia")
    assert co.groups[G].leader == a
    join(co, instance_id="ia")  # the leader restarts: empty member id
    assert co.groups[G].state == GroupState.STABLE, (
        f"a static leader's rejoin rebalanced the group ({co.groups[G].state.value})"
    )
    assert heartbeat(co, b, gen, instance_id="ib") == ErrorCode.NONE


def test_static_member_replaced_old_id_is_fenced(co: GroupCoordinator) -> None:
    ja, _ = join(co, instance_id="i")
    old = ja.tree["member_id"]
    gen = ja.tree["generation_id"]
    sync(co, old, gen, {old: b"x"}, instance_id="i")
    join(co, instance_id="i")
    assert heartbeat(co, old, gen, instance_id="i") == ErrorCode.FENCED_INSTANCE_ID
    results = co.commit(
        group_id=G, member_id=old, generation=gen, instance_id="i", offsets=[("t", 0, 1, -1, "")]
    )
    assert results[0][2] == ErrorCode.FENCED_INSTANCE_ID


def test_fenced_parked_sync_gets_a_sync_response(co: GroupCoordinator) -> None:
    """A static member's parked SyncGroup, fenced by a newer instance, must be answered
    with a SyncGroup-shaped error (it is encoded as a SyncGroup response)."""
    ji, _ = join(co, instance_id="i")
    leader = ji.tree["member_id"]
    sync(co, leader, ji.tree["generation_id"], {leader: b""}, instance_id="i")
    jj, _ = join(co, instance_id="j")
    join(co, leader, instance_id="i")
    follower, gen = jj.tree["member_id"], jj.tree["generation_id"]
    assert jj.tree["leader"] == leader
    parked, answer = sync(co, follower, gen, instance_id="j")
    assert answer is None and not parked.done, "the follower waits for the leader's sync"
    join(co, instance_id="j")  # the same instance restarts while its sync is parked
    assert parked.done
    tree = parked.tree
    assert tree["error_code"] == ErrorCode.FENCED_INSTANCE_ID
    assert set(tree) == {"error_code", "protocol_type", "protocol_name", "assignment"}, (
        f"a SyncGroup was answered with a JoinGroup-shaped tree: {sorted(tree)}"
    )


# ---- admin -------------------------------------------------------------------------------------


def test_describe_list_delete(co: GroupCoordinator) -> None:
    a, b, _gen = stable_pair(co)
    d = co.describe(G)
    assert d["group_state"] == "Stable" and d["protocol_data"] == "range"
    assert {m["member_id"]: m["member_assignment"] for m in d["members"]} == {a: b"A", b: b"B"}
    assert co.list_groups(None) == [(G, "consumer", "Stable")]
    assert co.list_groups({"Empty"}) == []
    assert co.delete_group(G) == ErrorCode.NON_EMPTY_GROUP
    co.leave(G, [(a, None), (b, None)])
    assert co.delete_group(G) == ErrorCode.NONE
    assert co.delete_group(G) == ErrorCode.GROUP_ID_NOT_FOUND
    assert co.describe(G)["group_state"] == "Dead"


# ---- property test over random operation sequences --------------------------------------------


class GroupMachine(RuleBasedStateMachine):
    """Random join/sync/heartbeat/leave/commit/tick sequences against one group.

    A member has at most one request in flight (a client's coordinator connection sends
    the next group request after the answer), as real clients do.
    """

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.saved_time = coordinator_module.time
        coordinator_module.time = self.clock  # type: ignore[assignment]
        self.store = FakeStore()
        self.co = make(self.store, retention_ms=5_000)
        self.requests: list[FakeRequest] = []
        self.ids: list[str] = []  # member ids the coordinator handed out
        self.generation: dict[str, int] = {}  # last generation each member was told
        self.in_flight: dict[str, FakeRequest] = {}
        self.max_generation = 0

    def teardown(self) -> None:
        try:
            group = self.co.groups.get(G)
            if group is not None:
                self.co.leave(G, [(m, None) for m in list(group.members)])
            for _ in range(3):
                self.clock.advance(120)
                self.co.tick()
            unanswered = [r.name for r in self.requests if not r.done]
            assert not unanswered, f"parked requests never answered: {unanswered}"
            twice = [r.name for r in self.requests if len(r.trees) > 1]
            assert not twice, f"requests answered twice: {twice}"
        finally:
            coordinator_module.time = self.saved_time  # type: ignore[assignment]

    # ---- bookkeeping ---------------------------------------------------------------------
    def _track(self, member: str, req: FakeRequest, answer: dict[str, Any] | None) -> None:
        if answer is None:  # parked: must be answered exactly once, eventually
            self.requests.append(req)
            self.in_flight[member] = req

    def _settle(self) -> None:
        for member, req in list(self.in_flight.items()):
            if req.done:
                del self.in_flight[member]
                tree = req.trees[0]
                if tree.get("generation_id", -1) >= 0 and tree.get("error_code") == 0:
                    self.generation[tree["member_id"]] = tree["generation_id"]

    def _idle(self) -> list[str]:
        return [m for m in self.ids if m not in self.in_flight]

    # ---- rules ---------------------------------------------------------------------------
    @rule(session=st.sampled_from([6_000, 10_000]), rebalance=st.sampled_from([6_000, 20_000]))
    def join_new(self, session: int, rebalance: int) -> None:
        _, answer = join(self.co, session_ms=session, rebalance_ms=rebalance)
        assert answer is not None and answer["error_code"] == ErrorCode.MEMBER_ID_REQUIRED
        self.ids.append(answer["member_id"])

    @precondition(lambda self: self._idle())
    @rule(data=st.data())
    def rejoin(self, data: st.DataObject) -> None:
        member = data.draw(st.sampled_from(self._idle()))
        req, answer = join(self.co, member)
        self._track(member, req, answer)
        self._settle()

    @precondition(lambda self: self._idle())
    @rule(data=st.data(), stale=st.booleans())
    def sync(self, data: st.DataObject, stale: bool) -> None:
        member = data.draw(st.sampled_from(self._idle()))
        gen = self.generation.get(member, 0) - (1 if stale else 0)
        group = self.co.groups.get(G)
        assignments = {m: m.encode() for m in group.members} if group else {}
        req, answer = sync(self.co, member, gen, assignments)
        self._track(member, req, answer)
        self._settle()

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        member = data.draw(st.sampled_from(self.ids))
        heartbeat(self.co, member, self.generation.get(member, 0))

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        member = data.draw(st.sampled_from(self.ids))
        self.co.leave(G, [(member, None)])
        self._settle()

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        member = data.draw(st.sampled_from(self.ids))
        commit(self.co, member, self.generation.get(member, 0))

    @rule(seconds=st.sampled_from([0.0, 0.5, 3.0, 7.0, 25.0]))
    def tick(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.co.tick()
        self._settle()

    # ---- invariants ----------------------------------------------------------------------
    @invariant()
    def group_invariants(self) -> None:
        group = self.co.groups.get(G)
        if group is None:
            return
        assert group.generation >= self.max_generation, "generation went backwards"
        self.max_generation = group.generation
        if group.members:
            assert group.leader in group.members, (group.leader, list(group.members))
        if group.state == GroupState.EMPTY:
            assert not group.members
        if group.state == GroupState.STABLE:
            for m in group.members.values():
                assert m.pending_sync is None and m.pending_join is None, m.member_id
        for instance, member_id in group.static_members.items():
            assert group.members[member_id].instance_id == instance

    @invariant()
    def nothing_answered_twice(self) -> None:
        twice = [r.name for r in self.requests if len(r.trees) > 1]
        assert not twice, twice


TestGroupMachine = GroupMachine.TestCase
TestGroupMachine.settings = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_commit_errors_per_partition(co: GroupCoordinator, store: FakeStore) -> None:
    a, _, gen = stable_pair(co)
    co.topic_exists = lambda t, p: t == "t"
    results = co.commit(
        group_id=G,
        member_id=a,
        generation=gen,
        instance_id=None,
        offsets=[
            ("t", 0, 7, -1, "ok"),
            ("missing", 0, 7, -1, ""),
            ("t", 1, 7, -1, "x" * 5000),
        ],
    )
    assert [e for _, _, e in results] == [
        ErrorCode.NONE,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode.OFFSET_METADATA_TOO_LARGE,
    ]
    fetched = dict(co.fetch_offsets(G, [("t", [0, 1])]))["t"]
    assert fetched[0][1] is not None and fetched[0][1].offset == 7
    assert fetched[1][1] is None, "a refused commit stores nothing"


def test_requests_for_an_unknown_group(co: GroupCoordinator) -> None:
    assert heartbeat(co, "m", 1, group="nope") == ErrorCode.UNKNOWN_MEMBER_ID
    _, answer = sync(co, "m", 1, group="nope")
    assert answer is not None and answer["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID
    assert commit(co, "m", 1, group="nope") == ErrorCode.UNKNOWN_MEMBER_ID
    assert "nope" not in co.groups, "refused requests create no group"
