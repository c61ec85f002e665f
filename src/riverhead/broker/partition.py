"""A partition as the broker serves it: its log, producer state, replica role and append paths.

:meth:`Partition.append` is the produce hot path (leader only): for the one batch a
client sends per partition it checks idempotent-producer sequences, appends (the log
assigns offsets and stamps the leader epoch), and records the batch in the producer
state — atomically under ``self.lock``, so two connections producing to one partition
can't interleave a check with another's append. Reads (fetch, list offsets) go straight
to the log, which is safe for concurrent readers.

Replica roles (cluster mode, :mod:`riverhead.cluster`): the broker's replica manager
calls :meth:`make_leader` / :meth:`make_follower` with states the controller wrote. A
leader tracks its followers (:class:`~riverhead.cluster.replica.LeaderReplicaState`)
and moves the high watermark; a follower appends the leader's batches unchanged
(:meth:`append_as_follower`), learns the high watermark from fetch responses and
truncates by leader epoch (:meth:`truncate`). A single broker is the leader of every
partition with ISR = itself, and its high watermark follows the log end.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from riverhead.broker.producer_state import ProducerStateManager
from riverhead.cluster.replica import LeaderReplicaState
from riverhead.log.epochs import LeaderEpochCache
from riverhead.log.partition import PartitionLog
from riverhead.protocol.batch import BatchHeader, read_header
from riverhead.protocol.errors import ErrorCode

NO_LEADER = -1


@dataclass(slots=True)
class AppendOutcome:
    error: ErrorCode
    base_offset: int = -1
    log_append_time: int = -1
    log_start_offset: int = -1
    last_offset: int = -1


class Partition:
    def __init__(
        self,
        topic: str,
        index: int,
        log: PartitionLog,
        snapshot: dict[str, Any] | None = None,
        *,
        node_id: int = 0,
        replicated: bool = False,
    ) -> None:
        self.topic = topic
        self.index = index
        self.log = log
        self.node_id = node_id
        self.lock = threading.Lock()
        self.producers = ProducerStateManager()
        start = self.producers.load_snapshot(snapshot, log.log_end_offset)
        self.producers.rebuild(log.iter_batch_headers(start))
        # Persisted only when replicated: one broker never has to truncate by epoch.
        self.epochs = LeaderEpochCache(log.directory if replicated else None)
        # Replica role. A single broker leads everything; cluster mode starts with no role
        # until the controller's state arrives.
        self.replicated = replicated
        self.leader_id = NO_LEADER if replicated else node_id
        self.leader_epoch = self.epochs.latest_epoch if replicated else 0
        self.partition_epoch = -1
        self.replicas: tuple[int, ...] = (node_id,)
        self.isr: tuple[int, ...] = (node_id,)
        self.leader_state: LeaderReplicaState | None = None
        # Follower: the leader's high watermark from the last fetch response (unclipped).
        self.leader_high_watermark = 0
        if replicated:
            log.high_watermark_follows_leo = False
        elif self.epochs.latest_epoch < 0:
            self.epochs.assign(0, log.log_start_offset)

    @property
    def is_leader(self) -> bool:
        return self.leader_id == self.node_id

    # ---- role changes (replica manager) -----------------------------------------------
    def make_leader(
        self,
        leader_epoch: int,
        isr: tuple[int, ...],
        replicas: tuple[int, ...],
        partition_epoch: int,
        now_ms: int,
    ) -> None:
        with self.lock:
            leo = self.log.log_end_offset
            self.epochs.assign(leader_epoch, leo)
            self.leader_id = self.node_id
            self.leader_epoch = leader_epoch
            self.partition_epoch = partition_epoch
            self.replicas, self.isr = replicas, isr
            self.leader_state = LeaderReplicaState(
                self.node_id,
                replicas,
                isr,
                self.epochs.start_offset_of(leader_epoch) or leo,
                now_ms,
            )

    def make_follower(
        self,
        leader: int,
        leader_epoch: int,
        isr: tuple[int, ...],
        replicas: tuple[int, ...],
        partition_epoch: int,
    ) -> None:
        with self.lock:
            self.leader_id = leader
            self.leader_epoch = leader_epoch
            self.partition_epoch = partition_epoch
            self.replicas, self.isr = replicas, isr
            self.leader_state = None

    def set_isr(self, isr: tuple[int, ...], partition_epoch: int) -> None:
        """The controller committed an ISR change at the current leader epoch."""
        with self.lock:
            self.isr = isr
            self.partition_epoch = partition_epoch
            if self.leader_state is not None:
                self.leader_state.isr = isr
                self.leader_state.pending_isr = None

    # ---- leader ------------------------------------------------------------------------
    def append(
        self, data: bytearray | memoryview, header: BatchHeader, now_ms: int
    ) -> AppendOutcome:
        """Append one validated batch; idempotent duplicates return the original offset."""
        with self.lock:
            if not self.is_leader:
                return AppendOutcome(ErrorCode.NOT_LEADER_OR_FOLLOWER)
            check = self.producers.check(header)
            if check.error:
                return AppendOutcome(check.error, log_start_offset=self.log.log_start_offset)
            if check.duplicate_of is not None:
                return AppendOutcome(
                    ErrorCode.NONE,
                    check.duplicate_of.base_offset,
                    -1,
                    self.log.log_start_offset,
                    -1,
                )
            result = self.log.append(data, leader_epoch=self.leader_epoch, now_ms=now_ms)
            if header.producer_id >= 0:
                self.producers.update(read_header(data))
        return AppendOutcome(
            ErrorCode.NONE,
            result.base_offset,
            result.log_append_time,
            result.log_start_offset,
            result.last_offset,
        )

    def update_follower(self, replica: int, fetch_offset: int, now_ms: int, min_isr: int) -> bool:
        """Record a follower's fetch; returns True if the high watermark moved."""
        with self.lock:
            state = self.leader_state
            if state is None:
                return False
            state.update_follower(replica, fetch_offset, self.log.log_end_offset, now_ms)
            return self._advance_hw(min_isr)

    def maybe_advance_hw(self, min_isr: int) -> bool:
        with self.lock:
            return self._advance_hw(min_isr)

    def _advance_hw(self, min_isr: int) -> bool:
        state = self.leader_state
        if state is None:
            return False
        hw = state.high_watermark(self.log.log_end_offset, min_isr)
        if hw is not None and hw > self.log.high_watermark:
            self.log.high_watermark = hw
            return True
        return False

    # ---- follower ----------------------------------------------------------------------
    def append_as_follower(self, data: bytes, leader_high_watermark: int) -> int:
        """Append the leader's batches as they are; returns the new log end offset."""
        with self.lock:
            if data:
                pos, end = 0, len(data)
                while pos < end:
                    header = read_header(data, pos)
                    if header.partition_leader_epoch > self.epochs.latest_epoch:
                        self.epochs.assign(header.partition_leader_epoch, header.base_offset)
                    if header.producer_id >= 0:
                        self.producers.update(header)
                    pos += header.size
                self.log.append_raw(data)
            leo = self.log.log_end_offset
            self.leader_high_watermark = leader_high_watermark
            hw = min(leader_high_watermark, leo)
            if hw > self.log.high_watermark:
                self.log.high_watermark = hw
            return leo

    def truncate(self, offset: int) -> None:
        """Drop everything from ``offset`` on (a follower diverged from its leader)."""
        with self.lock:
            truncated = offset < self.log.log_end_offset
            if truncated:
                self.log.truncate_to(offset)  # whole batches: may end below ``offset``
            # Epochs starting at or after the new end go even when no data did: a leader
            # that wrote nothing in its epoch still has the epoch's entry (make_leader).
            self.epochs.truncate_from_end(min(offset, self.log.log_end_offset))
            if truncated:
                self.producers = ProducerStateManager()
                self.producers.rebuild(self.log.iter_batch_headers(self.log.log_start_offset))

    def lag(self) -> int:
        """How far this replica's log end is behind the partition's high watermark (0 for
        the leader; a follower measures against the leader's, as last fetched)."""
        hw = self.log.high_watermark if self.is_leader else self.leader_high_watermark
        return max(0, hw - self.log.log_end_offset)

    def producer_snapshot(self) -> dict[str, Any]:
        with self.lock:
            return self.producers.to_snapshot(self.log.log_end_offset)
