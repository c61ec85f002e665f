"""Sparse, memory-mapped indexes of one log segment: offset -> position and time -> offset.

Both are Kafka's formats: fixed-size big-endian entries, sorted, in a file that is
preallocated to ``segment.index.bytes`` (rounded down to whole entries) while the segment
is active and trimmed to exactly ``entries * entry_size`` bytes when the segment is rolled
or closed. A file whose length is not a multiple of the entry size is corrupt.

``.index`` (:class:`OffsetIndex`), 8-byte entries::

    int32 relativeOffset   offset - segment base offset; the LAST offset of a batch
    int32 position         byte position of that batch's header in the .log file

    e.g. segment 00000000000000000100, batch with offsets 130..134 at byte 4200:
    relativeOffset 34 -> 00 00 00 22, position 4200 -> 00 00 10 68
    entry = 00 00 00 22 00 00 10 68

``.timeindex`` (:class:`TimeIndex`), 12-byte entries::

    int64 timestamp        largest record timestamp seen in the segment up to ...
    int32 relativeOffset   ... this offset (the last offset of the batch holding it)

Invariants: offset-index entries strictly increase in both fields and no entry has
position 0 (the first batch of a segment is never indexed, lookups default to the start);
time-index timestamps strictly increase and relative offsets never decrease. Every record
at or before a time-index entry's offset has a timestamp <= the entry's timestamp.

Thread-safety: one writer (the partition's append lock) and any number of lock-free
readers. A writer only publishes ``entries`` after the entry bytes are written, and never
closes a mapping a reader may still hold: resizing swaps in a new ``mmap`` and lets the
old one be unmapped when its last reader drops it.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

INT32_MAX = 2**31 - 1


class _MmapIndex:
    """Shared machinery: a preallocatable, memory-mapped file of sorted fixed-size entries."""

    _entry: struct.Struct

    def __init__(self, path: Path, base_offset: int, max_index_bytes: int) -> None:
        self.path = path
        self.base_offset = base_offset
        self.entry_size = self._entry.size
        self.max_entries = max(2, max_index_bytes // self.entry_size)
        self.existed = path.exists()
        if not self.existed:
            path.touch()
        self._mm: mmap.mmap | None = None
        length = path.stat().st_size
        # Entries implied by the file length; a preallocated file left by a crash counts its
        # zero tail as entries, which sanity_check() rejects (the caller then rebuilds).
        self.entries = length // self.entry_size
        self._map(length)

    # -- mapping --------------------------------------------------------------------------

    def _map(self, length: int) -> None:
        if length == 0:
            self._mm = None
            return
        fd = os.open(self.path, os.O_RDWR)
        try:
            self._mm = mmap.mmap(fd, length, access=mmap.ACCESS_WRITE)
        finally:
            os.close(fd)

    def _set_length(self, length: int) -> None:
        """Resize the file and swap in a new mapping (the old one lives on for readers)."""
        os.truncate(self.path, length)
        self._map(length)

    def make_writable(self) -> None:
        """Preallocate the file to its maximum size so entries can be appended (active)."""
        if self._mm is None or len(self._mm) < self.max_entries * self.entry_size:
            self._set_length(self.max_entries * self.entry_size)

    def trim(self) -> None:
        """Shrink the file to the valid entries (on roll and close), like Kafka."""
        length = self.entries * self.entry_size
        if self._mm is None or len(self._mm) != length:
            self._set_length(length)

    def flush(self) -> None:
        """msync the mapping and fsync the file (its length changes on trim)."""
        mm = self._mm
        if mm is not None:
            mm.flush()
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Drop the mapping; it is unmapped once no reader holds it."""
        self._mm = None

    def delete(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    # -- entries --------------------------------------------------------------------------

    @property
    def is_full(self) -> bool:
        return self.entries >= self.max_entries

    @property
    def size_bytes(self) -> int:
        return self.entries * self.entry_size

    def entry(self, i: int) -> tuple[int, int]:
        mm = self._mm
        assert mm is not None and 0 <= i < self.entries
        a, b = self._entry.unpack_from(mm, i * self.entry_size)
        return int(a), int(b)

    def _write(self, a: int, b: int) -> None:
        mm = self._mm
        if mm is None or len(mm) < (self.entries + 1) * self.entry_size:
            raise RuntimeError(f"index {self.path} is not writable or is full")
        self._entry.pack_into(mm, self.entries * self.entry_size, a, b)
        self.entries += 1  # publish only after the bytes are in place

    def _largest_at_most(self, target: int, field: int) -> int:
        """Index of the last entry whose ``field`` is <= target, or -1 (binary search)."""
        mm = self._mm
        n = self.entries
        if mm is None or n == 0:
            return -1
        unpack, size = self._entry.unpack_from, self.entry_size
        lo, hi = 0, n - 1
        if unpack(mm, 0)[field] > target:
            return -1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if unpack(mm, mid * size)[field] <= target:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def truncate_entries(self, count: int) -> None:
        """Forget all entries from ``count`` on (the file keeps its length)."""
        self.entries = min(self.entries, max(0, count))

    def reset(self) -> None:
        """Forget every entry and make the index writable (before a rebuild)."""
        self.entries = 0
        self.make_writable()


class OffsetIndex(_MmapIndex):
    """Sparse map from (last) offset of a batch to its byte position in the segment."""

    _entry = struct.Struct(">ii")

    def append(self, offset: int, position: int) -> None:
        rel = offset - self.base_offset
        if not 0 <= rel <= INT32_MAX or not 0 < position <= INT32_MAX:
            raise ValueError(f"index entry ({offset}, {position}) out of range for {self.path}")
        self._write(rel, position)

    def lookup(self, offset: int) -> tuple[int, int]:
        """(offset, position) of the largest entry with offset <= target, else (base, 0)."""
        i = self._largest_at_most(offset - self.base_offset, 0)
        if i < 0:
            return self.base_offset, 0
        rel, pos = self.entry(i)
        return self.base_offset + rel, pos

    def floor_position(self, position: int) -> int:
        """The largest indexed batch position <= ``position`` (0 if none)."""
        i = self._largest_at_most(position, 1)
        return 0 if i < 0 else self.entry(i)[1]

    def truncate_to_position(self, position: int) -> None:
        """Drop entries pointing at or past ``position`` (the log was truncated there)."""
        self.truncate_entries(self._largest_at_most(position - 1, 1) + 1)

    def last_entry(self) -> tuple[int, int]:
        """(offset, position) of the last entry, or (base, 0) when empty."""
        if self.entries == 0:
            return self.base_offset, 0
        rel, pos = self.entry(self.entries - 1)
        return self.base_offset + rel, pos

    def sanity_check(self, log_size: int) -> str:
        """Return why the index cannot be trusted against a log of ``log_size`` bytes, or ""."""
        length = self.path.stat().st_size
        if length % self.entry_size:
            return f"length {length} is not a multiple of {self.entry_size}"
        if self.entries == 0:
            return ""
        rel, pos = self.entry(self.entries - 1)
        if rel < 0 or pos <= 0 or pos >= log_size:
            return f"last entry ({rel}, {pos}) is outside the {log_size}-byte log"
        if self.entries > 1:
            prev_rel, prev_pos = self.entry(self.entries - 2)
            if prev_rel >= rel or prev_pos >= pos:
                return f"last entries ({prev_rel}, {prev_pos}), ({rel}, {pos}) do not increase"
        return ""


class TimeIndex(_MmapIndex):
    """Sparse map from the running maximum timestamp to the offset where it was reached."""

    _entry = struct.Struct(">qi")

    def maybe_append(self, timestamp: int, offset: int, *, skip_full_check: bool = False) -> None:
        """Append unless it would not increase the timestamp.

        The last slot is reserved for the entry written when the segment is rolled or
        closed (``skip_full_check=True``), so ordinary appends stop one slot early.
        """
        if timestamp < 0:
            return
        if self.entries:
            last_ts, _last_rel = self.entry(self.entries - 1)
            if timestamp <= last_ts:
                return
        limit = self.max_entries if skip_full_check else self.max_entries - 1
        if self.entries >= limit:
            return
        self._write(timestamp, offset - self.base_offset)

    @property
    def is_full(self) -> bool:
        return self.entries >= self.max_entries - 1

    def lookup_before(self, timestamp: int) -> int | None:
        """Offset of the last entry with timestamp < target: no record at or before it
        can have timestamp >= target. None if there is no such entry."""
        i = self._largest_at_most(timestamp - 1, 0)
        if i < 0:
            return None
        return self.base_offset + self.entry(i)[1]

    def last_entry(self) -> tuple[int, int] | None:
        """(timestamp, offset) of the last entry, or None."""
        if self.entries == 0:
            return None
        ts, rel = self.entry(self.entries - 1)
        return ts, self.base_offset + rel

    def truncate_to_offset(self, offset: int) -> None:
        """Drop entries whose offset is >= ``offset``."""
        keep = self.entries
        while keep > 0 and self.entry(keep - 1)[1] + self.base_offset >= offset:
            keep -= 1
        self.truncate_entries(keep)

    def sanity_check(self, next_offset: int) -> str:
        length = self.path.stat().st_size
        if length % self.entry_size:
            return f"length {length} is not a multiple of {self.entry_size}"
        if self.entries == 0:
            return ""
        ts, rel = self.entry(self.entries - 1)
        if rel < 0 or self.base_offset + rel >= max(next_offset, self.base_offset + 1):
            return f"last entry offset {self.base_offset + rel} is not below {next_offset}"
        if self.entries > 1:
            prev_ts, prev_rel = self.entry(self.entries - 2)
            if prev_ts >= ts or prev_rel > rel:
                return f"last entries ({prev_ts}, {prev_rel}), ({ts}, {rel}) do not increase"
        return ""
