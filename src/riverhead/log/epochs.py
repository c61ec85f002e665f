"""The leader-epoch cache of one partition: the first offset written in each leader epoch.

KIP-101's fix for truncation: every batch carries the epoch of the leader that appended it
(``partitionLeaderEpoch`` in the batch header) and each replica remembers, per epoch, the
first offset of that epoch. A follower whose log may have diverged from the leader's asks
(or is told, in a fetch response's ``DivergingEpoch``) where its last epoch ends on the
leader and truncates there — never by high watermark, which is stale by one round trip.

File ``leader-epoch-checkpoint`` in the partition directory, Kafka's text format::

    0            <- format version
    2            <- number of entries
    0 0          <- epoch, start offset
    3 1750

Written atomically (temporary file, fsync, rename). Entries are kept strictly increasing
in both epoch and start offset; :meth:`assign` drops entries an out-of-order assignment
would contradict, as Kafka's cache does. Thread-safe (one lock).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

logger = logging.getLogger("riverhead.log")

CHECKPOINT_FILE = "leader-epoch-checkpoint"
UNDEFINED = -1


class LeaderEpochCache:
    """``(epoch, start_offset)`` entries, oldest first; persisted if ``directory`` is set."""

    def __init__(self, directory: Path | None) -> None:
        self._path = directory / CHECKPOINT_FILE if directory is not None else None
        self._lock = threading.Lock()
        self._entries: list[tuple[int, int]] = self._read()

    def _read(self) -> list[tuple[int, int]]:
        if self._path is None or not self._path.exists():
            return []
        try:
            lines = self._path.read_text().split("\n")
            count = int(lines[1])
            entries = [tuple(map(int, line.split())) for line in lines[2 : 2 + count]]
            return [(e[0], e[1]) for e in entries]
        except (ValueError, IndexError, OSError) as exc:
            logger.warning("%s is unreadable (%s): starting with no epochs", self._path, exc)
            return []

    def _write(self) -> None:
        if self._path is None:
            return
        body = f"0\n{len(self._entries)}\n" + "".join(f"{e} {o}\n" for e, o in self._entries)
        tmp = self._path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)

    @property
    def entries(self) -> list[tuple[int, int]]:
        with self._lock:
            return list(self._entries)

    @property
    def latest_epoch(self) -> int:
        with self._lock:
            return self._entries[-1][0] if self._entries else UNDEFINED

    def start_offset_of(self, epoch: int) -> int | None:
        with self._lock:
            for e, offset in self._entries:
                if e == epoch:
                    return offset
        return None

    def assign(self, epoch: int, start_offset: int) -> None:
        """Record that ``epoch`` starts at ``start_offset`` (no-op if already known).

        An entry with a larger epoch, or a start offset at or beyond this one, contradicts
        the new one and is removed first.
        """
        if epoch < 0:
            return
        with self._lock:
            if self._entries and self._entries[-1][0] == epoch:
                return
            if self._entries and self._entries[-1][0] > epoch:
                logger.warning("epoch %d assigned after later epochs %s", epoch, self._entries)
            kept = [(e, o) for e, o in self._entries if e < epoch and o < start_offset]
            kept.append((epoch, start_offset))
            self._entries = kept
            self._write()

    def end_offset_for(self, epoch: int, log_end_offset: int) -> tuple[int, int]:
        """Kafka's ``endOffsetFor``: ``(largest known epoch <= epoch, its end offset)``.

        The end offset of an epoch is the start offset of the next larger epoch, or the log
        end offset for the latest epoch. ``(UNDEFINED, UNDEFINED)`` if ``epoch`` is older
        than every known epoch (or nothing is known).
        """
        with self._lock:
            entries = self._entries
            if not entries or epoch < entries[0][0]:
                return UNDEFINED, UNDEFINED
            if epoch >= entries[-1][0]:
                return entries[-1][0], log_end_offset
            for i in range(len(entries) - 1, -1, -1):
                if entries[i][0] <= epoch:
                    return entries[i][0], entries[i + 1][1]
        return UNDEFINED, UNDEFINED  # unreachable

    def truncate_from_end(self, end_offset: int) -> None:
        """Forget epochs starting at or after ``end_offset`` (the log was truncated there)."""
        with self._lock:
            kept = [(e, o) for e, o in self._entries if o < end_offset]
            if kept != self._entries:
                self._entries = kept
                self._write()

    def clear(self) -> None:
        with self._lock:
            self._entries = []
            self._write()
