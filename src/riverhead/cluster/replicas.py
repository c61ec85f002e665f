"""The replica manager: turns controller-written partition states into local roles, runs
the follower fetchers, and keeps each led partition's ISR honest.

* :meth:`ReplicaManager.apply` takes a topic's metadata (from ZooKeeper, see
  :mod:`riverhead.cluster.node`). A state whose leader epoch is older than the one this
  broker already has is stale and ignored; a newer epoch makes the partition leader or
  follower again; the same epoch with a newer partition epoch only updates the ISR.
* Follower partitions are grouped by leader into :class:`FetcherThread` s.
* The ISR task runs every ``replica.lag.time.max.ms / 2``: for each led partition it
  proposes removing followers that fell behind and adding followers that caught up, one
  AlterPartition in flight per partition (pending additions count for the high
  watermark at once, removals only once the controller committed them — KIP-497).

Thread-safety: ``apply`` is called from the metadata thread; fetch handlers call
:meth:`on_follower_fetch` from request threads; partition objects lock themselves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from riverhead.broker.partition import Partition
from riverhead.cluster.controller import IsrChange, IsrResult
from riverhead.cluster.fetcher import FetcherThread
from riverhead.cluster.model import NO_LEADER, PartitionState, TopicMetadata
from riverhead.logging_setup import event
from riverhead.protocol.errors import ErrorCode

log = logging.getLogger("riverhead.cluster")

TP = tuple[str, int]


def now_ms() -> int:
    return int(time.monotonic() * 1000)


@dataclass
class ReplicaSettings:
    lag_time_max_ms: int = 30_000
    fetch_wait_max_ms: int = 500
    fetch_max_bytes: int = 1_048_576


class ReplicaHost(Protocol):
    """What the replica manager needs from the broker (implemented by BrokerState)."""

    def sync_topic(self, meta: TopicMetadata) -> None:
        """Mirror a cluster topic (name, id, partition count, configs) locally."""

    def open_replica(self, topic: str, index: int) -> Partition:
        """The local replica of a partition of a synced topic (opened or created)."""

    def close_topic(self, topic: str) -> None:
        """The topic was deleted: forget it and delete its local data."""

    def min_isr(self, topic: str) -> int: ...

    def notify(self, tp: TP) -> None:
        """Wake delayed operations waiting on this partition."""

    def on_leadership(self, tp: TP, leader: bool) -> None:
        """This broker became (or stopped being) the partition's leader."""


class ReplicaManager:
    def __init__(
        self,
        node_id: int,
        host: ReplicaHost,
        settings: ReplicaSettings,
        endpoint: Callable[[int], tuple[str, int] | None],
        alter_partition: Callable[[list[IsrChange]], list[IsrResult]],
    ) -> None:
        self.node_id = node_id
        self.host = host
        self.settings = settings
        self._endpoint = endpoint
        self._alter = alter_partition
        self._lock = threading.RLock()
        self._fetchers: dict[int, FetcherThread] = {}
        self._following: dict[TP, int] = {}
        self.partitions: dict[TP, Partition] = {}
        self._isr_wake = threading.Event()
        self._running = False
        self.isr_shrinks = 0  # ISR changes applied as leader (metrics)
        self.isr_expands = 0
        self._isr_thread: threading.Thread | None = None

    # ---- life cycle -------------------------------------------------------------------
    def start(self) -> None:
        self._running = True
        self._isr_thread = threading.Thread(
            target=self._isr_loop, name="riverhead-isr", daemon=True
        )
        self._isr_thread.start()

    def stop(self) -> None:
        self._running = False
        self._isr_wake.set()
        with self._lock:
            fetchers = list(self._fetchers.values())
            self._fetchers.clear()
            self._following.clear()
        for f in fetchers:
            f.stop()
        if self._isr_thread is not None:
            self._isr_thread.join(timeout=5)

    # ---- applying controller state ----------------------------------------------------
    def apply(self, topic: str, meta: TopicMetadata | None) -> None:
        with self._lock:
            if meta is None:
                for tp in [tp for tp in self.partitions if tp[0] == topic]:
                    self._unfollow(tp)
                    self.partitions.pop(tp, None)
                self.host.close_topic(topic)
                return
            self.host.sync_topic(meta)
            for index, replicas in sorted(meta.assignment.replicas.items()):
                state = meta.states.get(index)
                if state is None or self.node_id not in replicas:
                    continue
                tp = (topic, index)
                part = self.partitions.get(tp)
                if part is None:
                    part = self.host.open_replica(topic, index)
                    self.partitions[tp] = part
                self._apply_state(part, replicas, state)

    def _apply_state(
        self, part: Partition, replicas: tuple[int, ...], state: PartitionState
    ) -> None:
        tp = (part.topic, part.index)
        if state.leader_epoch < part.leader_epoch:
            return  # stale: an older controller's view
        same_epoch = state.leader_epoch == part.leader_epoch and part.partition_epoch >= 0
        if same_epoch and state.partition_epoch <= part.partition_epoch:
            return
        if state.leader == self.node_id:
            if same_epoch and part.is_leader:
                self._count_isr_change(part, state.isr)  # e.g. the controller's, on loss
                part.set_isr(state.isr, state.partition_epoch)
            else:
                if part.is_leader:  # still the leader, at a new epoch (a replica was lost)
                    self._count_isr_change(part, state.isr)
                self._unfollow(tp)
                part.make_leader(
                    state.leader_epoch, state.isr, replicas, state.partition_epoch, now_ms()
                )
                log.info(
                    "%s-%d: leader at epoch %d, isr %s, log end %d",
                    part.topic,
                    part.index,
                    state.leader_epoch,
                    list(state.isr),
                    part.log.log_end_offset,
                    extra=event(
                        "leader_elected",
                        topic=part.topic,
                        partition=part.index,
                        leader=self.node_id,
                        leader_epoch=state.leader_epoch,
                        isr=list(state.isr),
                    ),
                )
                self.host.on_leadership(tp, True)
            if part.maybe_advance_hw(self.host.min_isr(part.topic)):
                self.host.notify(tp)
            return
        was_leader = part.is_leader
        part.make_follower(
            state.leader, state.leader_epoch, state.isr, replicas, state.partition_epoch
        )
        if was_leader:
            self.host.on_leadership(tp, False)
        self.host.notify(tp)  # parked requests learn they are no longer at the leader
        if state.leader == NO_LEADER:
            self._unfollow(tp)
        elif self._following.get(tp) != state.leader:
            self._unfollow(tp)
            self._follow(part, state.leader)
        if not same_epoch:
            log.info(
                "%s-%d: follower of %d at epoch %d",
                part.topic,
                part.index,
                state.leader,
                state.leader_epoch,
            )

    def _count_isr_change(self, part: Partition, new: tuple[int, ...]) -> None:
        """Metrics and an event line: an ISR change applied as leader. Counts may race
        between the ISR thread and the metadata thread (an increment lost at worst)."""
        old = part.isr
        if set(old) != set(new):
            log.info(
                "%s-%d: ISR changed %s -> %s",
                part.topic,
                part.index,
                list(old),
                list(new),
                extra=event(
                    "isr_changed",
                    topic=part.topic,
                    partition=part.index,
                    old_isr=list(old),
                    new_isr=list(new),
                ),
            )
        if len(new) < len(old):
            self.isr_shrinks += 1
        elif len(new) > len(old):
            self.isr_expands += 1

    def _follow(self, part: Partition, leader: int) -> None:
        fetcher = self._fetchers.get(leader)
        if fetcher is None:
            fetcher = FetcherThread(
                self.node_id,
                leader,
                lambda: self._endpoint(leader),
                wait_ms=self.settings.fetch_wait_max_ms,
                max_bytes=self.settings.fetch_max_bytes,
                on_appended=lambda p: None,
            )
            self._fetchers[leader] = fetcher
        fetcher.add(part)
        self._following[(part.topic, part.index)] = leader

    def _unfollow(self, tp: TP) -> None:
        leader = self._following.pop(tp, None)
        if leader is None:
            return
        fetcher = self._fetchers.get(leader)
        if fetcher is not None:
            fetcher.remove(tp)

    # ---- leader side ------------------------------------------------------------------
    def on_follower_fetch(self, part: Partition, replica: int, fetch_offset: int) -> None:
        """A follower fetched at ``fetch_offset`` (called before the records are read)."""
        if part.update_follower(replica, fetch_offset, now_ms(), self.host.min_isr(part.topic)):
            self.host.notify((part.topic, part.index))
        state = part.leader_state
        if (
            state is not None
            and state.pending_isr is None
            and replica in state.ready_to_join(part.log.high_watermark)
        ):
            self._isr_wake.set()

    def _isr_loop(self) -> None:
        interval = max(self.settings.lag_time_max_ms / 2000.0, 0.05)
        while self._running:
            self._isr_wake.wait(interval)
            self._isr_wake.clear()
            if not self._running:
                return
            try:
                self._check_isr()
            except Exception:
                log.exception("ISR check failed")

    def _check_isr(self) -> None:
        changes: list[tuple[Partition, IsrChange]] = []
        now = now_ms()
        with self._lock:
            parts = list(self.partitions.values())
        for part in parts:
            with part.lock:
                state = part.leader_state
                if state is None or state.pending_isr is not None or not part.is_leader:
                    continue
                leo = part.log.log_end_offset
                drop = state.out_of_sync(leo, now, self.settings.lag_time_max_ms)
                add = state.ready_to_join(part.log.high_watermark)
                if not drop and not add:
                    continue
                new_isr = tuple(
                    r for r in part.replicas if (r in part.isr and r not in drop) or r in add
                )
                if drop:
                    log.info(
                        "%s-%d: shrinking ISR %s -> %s", part.topic, part.index, part.isr, new_isr
                    )
                else:
                    log.info(
                        "%s-%d: expanding ISR %s -> %s", part.topic, part.index, part.isr, new_isr
                    )
                state.pending_isr = new_isr
                changes.append(
                    (
                        part,
                        IsrChange(
                            part.topic, part.index, part.leader_epoch, part.partition_epoch, new_isr
                        ),
                    )
                )
        if not changes:
            return
        try:
            results = self._alter([c for _, c in changes])
        except Exception as exc:
            log.warning("AlterPartition failed: %s", exc)
            results = [IsrResult(ErrorCode.REQUEST_TIMED_OUT) for _ in changes]
        for (part, change), result in zip(changes, results, strict=True):
            if result.error == ErrorCode.NONE and result.state is not None:
                if part.leader_epoch == result.state.leader_epoch:
                    self._count_isr_change(part, result.state.isr)
                    part.set_isr(result.state.isr, result.state.partition_epoch)
                    if part.maybe_advance_hw(self.host.min_isr(part.topic)):
                        self.host.notify((part.topic, part.index))
                continue
            log.info(
                "%s-%d: ISR change to %s refused: %s",
                part.topic,
                part.index,
                list(change.new_isr),
                result.error.name,
            )
            with part.lock:
                if part.leader_state is not None:
                    part.leader_state.pending_isr = None
