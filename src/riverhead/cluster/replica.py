"""What a partition leader knows about its followers: log ends, catch-up times, the high
watermark rule and ISR membership decisions (pure; the caller passes the clock).

Kafka's rules (``Partition.scala``/``Replica.scala``), which this class keeps:

* A follower's fetch at offset *o* acknowledges everything below *o*: its log end
  offset (LEO) becomes *o*.
* ``last_caught_up`` is the fetch time if the fetch reached the leader's LEO, else the
  previous fetch time if that fetch reached the leader's LEO as it was then; a follower
  is out of sync when its LEO differs from the leader's and it has not caught up for
  ``replica.lag.time.max.ms`` — one rule for stuck and for slow followers.
* High watermark = minimum LEO over the *maximal* ISR (the committed ISR plus additions
  in flight to the controller, KIP-497), and it does not advance at all while the ISR is
  smaller than ``min.insync.replicas`` (KIP-966's strict rule). It never moves back.
* A follower may rejoin the ISR once its LEO reaches the high watermark and the start
  offset of the current leader epoch (it has truncated against this leader).

Not thread-safe: the owning partition serialises calls under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from riverhead.log.epochs import UNDEFINED, LeaderEpochCache


@dataclass
class FollowerState:
    leo: int = -1
    last_fetch_ms: int = 0
    last_fetch_leader_leo: int = -1
    last_caught_up_ms: int = 0


class LeaderReplicaState:
    """Per-partition follower tracking on the leader (see module docstring)."""

    def __init__(
        self,
        me: int,
        replicas: tuple[int, ...],
        isr: tuple[int, ...],
        epoch_start_offset: int,
        now_ms: int,
    ) -> None:
        self.me = me
        self.isr = tuple(isr)
        self.pending_isr: tuple[int, ...] | None = None  # sent to the controller
        self.epoch_start_offset = epoch_start_offset
        # ISR members start as caught up now (Kafka resets remote states on makeLeader).
        self.followers = {
            r: FollowerState(last_caught_up_ms=now_ms if r in isr else 0)
            for r in replicas
            if r != me
        }

    def maximal_isr(self) -> set[int]:
        """Committed ISR plus additions in flight (never minus removals in flight)."""
        out = set(self.isr)
        if self.pending_isr is not None:
            out |= set(self.pending_isr)
        return out

    def update_follower(self, replica: int, fetch_offset: int, leader_leo: int, now: int) -> None:
        f = self.followers.get(replica)
        if f is None:
            return
        if fetch_offset >= leader_leo:
            f.last_caught_up_ms = now
        elif fetch_offset >= f.last_fetch_leader_leo >= 0:
            f.last_caught_up_ms = max(f.last_caught_up_ms, f.last_fetch_ms)
        f.leo = fetch_offset
        f.last_fetch_ms = now
        f.last_fetch_leader_leo = leader_leo

    def high_watermark(self, leader_leo: int, min_isr: int) -> int | None:
        """The high watermark the ISR allows now, or None while |ISR| < min ISR."""
        isr = self.maximal_isr()
        if len(self.isr) < min_isr:
            return None
        hw = leader_leo
        for r in isr:
            if r == self.me:
                continue
            f = self.followers.get(r)
            leo = f.leo if f is not None else -1
            hw = min(hw, max(leo, 0))
        return hw

    def out_of_sync(self, leader_leo: int, now: int, lag_ms: int) -> set[int]:
        """ISR followers that have not caught up within ``lag_ms``."""
        out = set()
        for r in self.isr:
            f = self.followers.get(r)
            if r == self.me or f is None:
                continue
            if f.leo != leader_leo and now - f.last_caught_up_ms > lag_ms:
                out.add(r)
        return out

    def ready_to_join(self, high_watermark: int) -> set[int]:
        """Followers outside the ISR that have caught up enough to rejoin it."""
        isr = self.maximal_isr()
        return {
            r
            for r, f in self.followers.items()
            if r not in isr and f.leo >= high_watermark and f.leo >= self.epoch_start_offset
        }


def diverging_epoch(
    epochs: LeaderEpochCache,
    log_start: int,
    log_end: int,
    last_fetched_epoch: int,
    fetch_offset: int,
) -> tuple[int, int] | None:
    """Leader side: where a follower's log diverges from ours, as (epoch, end offset).

    None if the follower sent no epoch or is consistent; ``(-1, log_start)`` if we know no
    epoch as old as its last one (it falls back to its high watermark).
    """
    if last_fetched_epoch < 0:
        return None
    epoch, end = epochs.end_offset_for(last_fetched_epoch, log_end)
    if epoch < 0:
        return (UNDEFINED, log_start)
    if epoch < last_fetched_epoch or end < fetch_offset:
        return (epoch, end)
    return None


def truncation_point(
    epochs: LeaderEpochCache, log_end: int, high_watermark: int, epoch: int, end_offset: int
) -> int:
    """Follower side: where to truncate after the leader reported ``(epoch, end_offset)``
    (Kafka's ``AbstractFetcherThread`` with KIP-279's refinement)."""
    if epoch == UNDEFINED or end_offset == UNDEFINED:
        return min(high_watermark, log_end)
    mine, my_end = epochs.end_offset_for(epoch, log_end)
    if mine == UNDEFINED:
        return min(high_watermark, log_end)
    if mine != epoch:
        return min(my_end, log_end)
    return min(end_offset, my_end, log_end)
