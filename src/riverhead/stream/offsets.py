"""Per-partition contiguous-ack tracking: which offset a Kafka spout may commit.

A consumer's committed offset means "everything below was processed". Tuple trees finish
out of order, so the spout records every offset it emits (:meth:`OffsetTracker.emitted`)
and every offset whose tree completed or was dead-lettered (:meth:`OffsetTracker.done`);
:meth:`OffsetTracker.committable` is the lowest offset not yet done (or one past the last
done offset when none is pending). A crash replays from there: never loses, may repeat
the offsets above it that had completed (at-least-once).

Example, partition 0: emitted 5, 6, 7, 8; done 6 and 8 → committable 5 (5 is pending);
then done 5 → 7; done 7 → 9.

Offsets of one partition must be emitted in increasing order, as a consumer returns them;
re-emitting a pending offset (a replay) is fine. Not thread-safe (the spout's thread).
"""

from __future__ import annotations

from collections.abc import Hashable


class _Partition:
    __slots__ = ("next_commit", "pending")

    def __init__(self) -> None:
        self.pending: dict[int, bool] = {}  # offset -> done, in emit (= offset) order
        self.next_commit: int | None = None


class OffsetTracker:
    """Offsets in flight per partition key (any hashable: ``(topic, partition)``)."""

    def __init__(self) -> None:
        self._parts: dict[Hashable, _Partition] = {}

    def assign(self, key: Hashable) -> None:
        """Start tracking ``key`` afresh (on partition assignment)."""
        self._parts[key] = _Partition()

    def revoke(self, key: Hashable) -> None:
        """Forget ``key``: later ``done`` calls for it are ignored."""
        self._parts.pop(key, None)

    def tracks(self, key: Hashable) -> bool:
        return key in self._parts

    def partitions(self) -> list[Hashable]:
        """The partition keys tracked now."""
        return list(self._parts)

    def emitted(self, key: Hashable, offset: int) -> None:
        part = self._parts.get(key)
        if part is None:
            part = self._parts[key] = _Partition()
        part.pending.setdefault(offset, False)

    def done(self, key: Hashable, offset: int) -> None:
        """The tree of ``offset`` completed (or the record was dead-lettered)."""
        part = self._parts.get(key)
        if part is None or offset not in part.pending:
            return
        pending = part.pending
        pending[offset] = True
        while pending:
            first = next(iter(pending))
            if not pending[first]:
                break
            del pending[first]
            part.next_commit = first + 1

    def committable(self, key: Hashable) -> int | None:
        """The offset to commit for ``key`` (None: nothing processed yet)."""
        part = self._parts.get(key)
        if part is None:
            return None
        if part.pending:
            return next(iter(part.pending))  # the lowest offset not done
        return part.next_commit

    def in_flight(self) -> int:
        return sum(len(p.pending) for p in self._parts.values())
