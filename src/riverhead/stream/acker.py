"""The acker: Storm's XOR tuple-tree tracking, one 64-bit value per spout tuple.

Algorithm (Storm's ``Acker``; see docs/stream.md for the proof sketch):

* every tuple a task sends along an edge gets a fresh random 64-bit *edge id* (never 0);
* a spout tuple with a ``msg_id`` creates a tree with a random *root id*; :meth:`Acker.init`
  records ``val = XOR of the edge ids sent`` for it;
* when a bolt acks a tuple, the acker XORs in that tuple's edge id and the edge ids of the
  children anchored to it (:meth:`Acker.ack` gets ``edge ^ ack_val``);
* every edge id enters the value exactly twice (created, acked), so ``val`` is 0 exactly when
  every tuple of the tree has been acked, in whatever order the acks arrive; the tree is then
  complete and the spout's ``ack(msg_id)`` is due;
* an explicit fail (:meth:`Acker.fail`) or a timeout (:meth:`Acker.expire`) ends the tree
  at once; the spout's ``fail(msg_id)`` is due.

Finished trees queue in :attr:`Acker.acked` / :attr:`Acker.failed` for the runner to
deliver on the spout's thread. Messages about a root the acker no longer knows (the tree
timed out or failed already) are ignored: the spout has been told, and will replay.

Unlike Storm's acker, which can receive an ack before the init over the network, this
acker lives in the process of the tasks it serves and ``init`` always precedes acks.

Timeouts: trees are kept in insertion order, and every tree's deadline is
``init time + timeout``, so deadlines are sorted and :meth:`expire` only looks at the
expired prefix. :meth:`reset` (a bolt's ``reset_timeout``) moves a tree to the end with a
new deadline.

Not thread-safe: one thread (the runner's) calls every method.
"""

from __future__ import annotations

from typing import Any

from riverhead.stream.components import Failure

# Indexes into a tree record (a list, mutated in place on the hot path).
VAL, SLOT, MSG_ID, DEADLINE, STARTED = range(5)
Record = list[Any]


class Acker:
    """Tracks tuple trees for the spout tasks of one runner.

    ``slots`` is the number of spout tasks; a tree belongs to the spout slot that emitted
    it and :attr:`in_flight` counts trees per slot (for ``max_spout_pending``).
    """

    __slots__ = ("acked", "failed", "in_flight", "timeout", "trees")

    def __init__(self, timeout: float, slots: int = 1) -> None:
        if timeout <= 0:
            raise ValueError(f"message timeout must be > 0, got {timeout}")
        self.timeout = timeout
        self.trees: dict[int, Record] = {}
        self.in_flight = [0] * slots
        self.acked: list[Record] = []
        self.failed: list[tuple[Record, Failure]] = []

    def __len__(self) -> int:
        return len(self.trees)

    def init(self, root: int, val: int, slot: int, msg_id: Any, now: float) -> None:
        """A spout emitted a tracked tuple: ``val`` is the XOR of the edge ids it sent
        (0 if the tuple went nowhere, which completes the tree at once)."""
        rec: Record = [val, slot, msg_id, now + self.timeout, now]
        self.in_flight[slot] += 1
        if val:
            self.trees[root] = rec
        else:
            self.in_flight[slot] -= 1
            self.acked.append(rec)

    def ack(self, root: int, val: int) -> None:
        """XOR ``val`` (an acked tuple's edge id ^ its children's) into tree ``root``."""
        rec = self.trees.get(root)
        if rec is None:
            return
        v = rec[0] ^ val
        if v:
            rec[0] = v
        else:
            self.complete(root, rec)

    def complete(self, root: int, rec: Record) -> None:
        """Tree ``root`` reached zero (the collectors' inlined ack path calls this)."""
        del self.trees[root]
        self.in_flight[rec[1]] -= 1
        self.acked.append(rec)

    def fail(self, root: int, failure: Failure) -> None:
        """End tree ``root`` as failed (first failure wins)."""
        rec = self.trees.pop(root, None)
        if rec is not None:
            self.in_flight[rec[1]] -= 1
            self.failed.append((rec, failure))

    def reset(self, root: int, now: float) -> None:
        """Give tree ``root`` a new deadline ``now + timeout``."""
        rec = self.trees.pop(root, None)
        if rec is not None:
            rec[DEADLINE] = now + self.timeout
            self.trees[root] = rec

    def next_deadline(self) -> float | None:
        """The earliest deadline of a pending tree, or None."""
        for rec in self.trees.values():
            return float(rec[DEADLINE])
        return None

    def expire(self, now: float) -> int:
        """Fail every tree whose deadline is <= ``now``; returns how many."""
        expired: list[int] = []
        for root, rec in self.trees.items():
            if rec[DEADLINE] > now:
                break
            expired.append(root)
        timeout = Failure("timeout")
        for root in expired:
            self.fail(root, timeout)
        return len(expired)
