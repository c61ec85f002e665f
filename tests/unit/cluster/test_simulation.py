"""Seeded, deterministic simulation of the replication state machine.

In-memory brokers, a perfect controller (ZooKeeper's role: one consistent view of leader,
leader epoch and ISR), and a random schedule of client appends, follower fetches, ISR
checks, flushes, crashes and restarts. A process crash keeps what it wrote (the page
cache survives); a power loss, which drops the unflushed tail, is the known limitation
tested separately below. The pieces under test are the production ones: the
leader's follower tracking and high-watermark/ISR rules
(:class:`riverhead.cluster.replica.LeaderReplicaState`), leader election
(:func:`riverhead.cluster.election.elect_leader`), the leader-epoch cache
(:class:`riverhead.log.epochs.LeaderEpochCache`), and divergence/truncation
(:func:`diverging_epoch`, :func:`truncation_point`). After every step:

* every acknowledged record (acks=all: the high watermark passed it while the ISR had at
  least min.insync.replicas members) is in the current leader's log, same offset, same
  value;
* every replica's log agrees with the leader's below that replica's high watermark;
* the leader's high watermark never exceeds the log end of an ISR member.

After the schedule everything heals and fetches until quiet: all logs must be identical.
Seeds that ever failed are kept in ``REGRESSIONS``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riverhead.cluster.election import elect_leader
from riverhead.cluster.replica import LeaderReplicaState, diverging_epoch, truncation_point
from riverhead.log.epochs import LeaderEpochCache

pytestmark = pytest.mark.unit

BROKERS = (1, 2, 3)
MIN_ISR = 2
LAG_MS = 50
# Seeds that once failed, kept forever (add to this tuple, never remove).
REGRESSIONS: tuple[int, ...] = (2,)  # 2: found that the crash model must keep the page cache


@dataclass
class Replica:
    node: int
    log: list[tuple[int, str]] = field(default_factory=list)  # (epoch, value) per offset
    hw: int = 0
    flushed: int = 0
    alive: bool = True
    epochs: LeaderEpochCache = field(default_factory=lambda: LeaderEpochCache(None))
    leader_state: LeaderReplicaState | None = None
    epoch: int = -1  # leader epoch this replica knows

    @property
    def leo(self) -> int:
        return len(self.log)

    def truncate(self, offset: int) -> None:
        self.epochs.truncate_from_end(min(offset, self.leo))
        del self.log[offset:]
        self.hw = min(self.hw, self.leo)
        self.flushed = min(self.flushed, self.leo)


class Sim:
    def __init__(self, seed: int, *, lose_unflushed: bool = False) -> None:
        self.rng = random.Random(seed)
        self.lose_unflushed = lose_unflushed
        self.now = 0
        self.replicas = {b: Replica(b) for b in BROKERS}
        self.leader = 1
        self.leader_epoch = 0
        self.isr: tuple[int, ...] = BROKERS
        self.acked: dict[int, str] = {}  # offset -> value
        self.pending: dict[int, str] = {}  # appended with acks=all, not yet committed
        self.counter = 0
        self._become_leader()

    # ---- controller -------------------------------------------------------------------
    def _become_leader(self) -> None:
        r = self.replicas[self.leader]
        r.epochs.assign(self.leader_epoch, r.leo)
        r.leader_state = LeaderReplicaState(
            r.node,
            BROKERS,
            self.isr,
            r.epochs.start_offset_of(self.leader_epoch) or r.leo,
            self.now,
        )
        for other in self.replicas.values():
            if other.node != self.leader:
                other.leader_state = None
            other.epoch = self.leader_epoch

    def _set_state(self, leader: int, isr: tuple[int, ...]) -> None:
        self.leader_epoch += 1
        self.leader, self.isr = leader, isr
        if leader != -1:
            self._become_leader()
        # Pending acks=all requests on a deposed leader fail (NOT_LEADER): not acked.
        self.pending.clear()

    def crash(self, node: int) -> None:
        r = self.replicas[node]
        if not r.alive:
            return
        r.alive = False
        r.leader_state = None
        if self.lose_unflushed:  # power loss: the page cache goes, down to the last flush
            r.truncate(self.rng.randint(r.flushed, r.leo))
        live = {b for b in BROKERS if self.replicas[b].alive}
        isr = tuple(b for b in self.isr if b != node) or self.isr
        if node == self.leader:
            new = elect_leader(BROKERS, isr, live)
            self._set_state(new, isr if new != -1 else self.isr)
        elif node in self.isr:
            self._set_state(self.leader, isr)

    def restart(self, node: int) -> None:
        r = self.replicas[node]
        if r.alive:
            return
        r.alive = True
        if self.leader == -1:
            live = {b for b in BROKERS if self.replicas[b].alive}
            new = elect_leader(BROKERS, self.isr, live)
            if new != -1:
                self._set_state(new, self.isr)

    # ---- data path --------------------------------------------------------------------
    def append(self) -> None:
        if self.leader == -1:
            return
        r = self.replicas[self.leader]
        if len(self.isr) < MIN_ISR:
            return  # NOT_ENOUGH_REPLICAS: nothing appended
        value = f"v{self.counter}"
        self.counter += 1
        self.pending[r.leo] = value
        r.log.append((self.leader_epoch, value))
        self._advance_hw()

    def _advance_hw(self) -> None:
        r = self.replicas[self.leader]
        assert r.leader_state is not None
        hw = r.leader_state.high_watermark(r.leo, MIN_ISR)
        if hw is not None and hw > r.hw:
            r.hw = hw
        for offset in [o for o in self.pending if o < r.hw]:
            if len(self.isr) >= MIN_ISR:
                self.acked[offset] = self.pending[offset]
            del self.pending[offset]

    def fetch(self, node: int) -> None:
        f = self.replicas[node]
        if self.leader in (-1, node) or not f.alive:
            return
        leader = self.replicas[self.leader]
        if f.epoch != self.leader_epoch:
            return  # the follower has not learned the new state yet
        div = diverging_epoch(leader.epochs, 0, leader.leo, f.epochs.latest_epoch, f.leo)
        if div is not None:
            f.truncate(truncation_point(f.epochs, f.leo, f.hw, div[0], div[1]))
            return
        assert leader.leader_state is not None
        leader.leader_state.update_follower(node, f.leo, leader.leo, self.now)
        self._advance_hw()
        batch = leader.log[f.leo : f.leo + self.rng.randint(1, 5)]
        for epoch, value in batch:
            if epoch > f.epochs.latest_epoch:
                f.epochs.assign(epoch, f.leo)
            f.log.append((epoch, value))
        f.hw = min(leader.hw, f.leo)

    def learn(self, node: int) -> None:
        self.replicas[node].epoch = self.leader_epoch

    def flush(self, node: int) -> None:
        r = self.replicas[node]
        r.flushed = r.leo

    def isr_check(self) -> None:
        if self.leader == -1:
            return
        r = self.replicas[self.leader]
        assert r.leader_state is not None
        drop = r.leader_state.out_of_sync(r.leo, self.now, LAG_MS)
        add = {b for b in r.leader_state.ready_to_join(r.hw) if self.replicas[b].alive}
        if drop or add:
            isr = tuple(b for b in BROKERS if (b in self.isr and b not in drop) or b in add)
            self.isr = isr  # the controller's CAS succeeds: same leader epoch
            r.leader_state.isr = isr
            self._advance_hw()

    # ---- checks -----------------------------------------------------------------------
    def check(self) -> None:
        if self.leader != -1:
            leader = self.replicas[self.leader]
            for offset, value in self.acked.items():
                assert offset < leader.leo and leader.log[offset][1] == value, (
                    f"acknowledged offset {offset} ({value}) lost on leader {self.leader}"
                )
            for b in self.isr:
                assert leader.hw <= self.replicas[b].leo or not self.replicas[b].alive
            for r in self.replicas.values():
                upto = min(r.hw, leader.leo)
                assert r.log[:upto] == leader.log[:upto], f"replica {r.node} diverged below HW"

    def step(self) -> None:
        self.now += self.rng.randint(1, 20)
        roll = self.rng.random()
        node = self.rng.choice(BROKERS)
        if roll < 0.35:
            self.append()
        elif roll < 0.75:
            self.learn(node)
            self.fetch(node)
        elif roll < 0.82:
            self.isr_check()
        elif roll < 0.88:
            self.flush(node)
        elif roll < 0.94:
            self.crash(node)
        else:
            self.restart(node)
        self.check()

    def heal(self) -> None:
        for b in BROKERS:
            self.restart(b)
            self.learn(b)
        for _ in range(500):
            for b in BROKERS:
                self.learn(b)
                self.fetch(b)
            self.now += 1
            self.isr_check()
            self.check()
        logs = [r.log for r in self.replicas.values()]
        assert logs[0] == logs[1] == logs[2], "replicas differ after healing"
        leader = self.replicas[self.leader]
        for offset, value in self.acked.items():
            assert leader.log[offset][1] == value


def run(seed: int, steps: int = 400) -> Sim:
    sim = Sim(seed)
    for _ in range(steps):
        sim.step()
    sim.heal()
    return sim


@pytest.mark.parametrize("seed", range(60))
def test_seeded_schedules_keep_every_acknowledged_record(seed: int) -> None:
    sim = run(seed)
    assert sim.counter > 0


@pytest.mark.parametrize("seed", REGRESSIONS)
def test_regression_seeds(seed: int) -> None:
    run(seed)


def test_power_loss_without_fsync_can_lose_acknowledged_records() -> None:
    """Known limitation, Kafka's too (KIP-966's "last replica standing"): without fsync
    before the ack, losing the page cache on enough ISR members loses acknowledged records.
    Seed 2 shows it; `log.flush.interval.messages=1` closes it at a latency cost."""
    sim = Sim(2, lose_unflushed=True)
    with pytest.raises(AssertionError, match="lost"):
        for _ in range(400):
            sim.step()


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_random_schedules(seed: int) -> None:
    run(seed, steps=300)


def test_the_checker_sees_loss_with_unclean_election() -> None:
    """Negative control: electing a replica outside the ISR loses acknowledged records."""
    sim = Sim(7)
    for _ in range(3):  # replica 3 never fetches: it leaves the ISR
        sim.learn(2)
        sim.fetch(2)
        sim.now += LAG_MS
        sim.isr_check()
    assert sim.isr == (1, 2)
    for _ in range(20):
        sim.append()
        sim.learn(2)
        sim.fetch(2)
        sim.fetch(2)
    # Replica 3 never fetched; make it leader as an unclean election would.
    sim.replicas[1].alive = False
    sim.replicas[2].alive = False
    assert sim.acked, "nothing was acknowledged"
    sim._set_state(3, (3,))
    with pytest.raises(AssertionError, match="lost"):
        sim.check()
