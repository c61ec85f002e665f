"""Sparse offset and time indexes of one log segment, held without file descriptors.

Both are Kafka's formats: fixed-size big-endian entries, sorted, in a file of exactly
``entries * entry_size`` bytes. A file whose length is not a multiple of the entry size
is corrupt (so is the zero tail a crashed older Riverhead left in a preallocated file).

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
at or before a time-index entry's offset has a timestamp <= the entry's timestamp. At most
``max_entries`` (``segment.index.bytes`` / entry size) entries.

Where the entries live (no index ever keeps an fd open; Python 3.11's ``mmap`` would):

* **active** (:meth:`make_active`; the active segment, and while recovery rebuilds): in
  an append-only ``bytearray``. :meth:`persist` writes the entries not yet on disk with a
  short-lived fd (on roll and close, never per append), so after a crash the file may be
  stale or empty; an unclean start rebuilds the active segment's indexes from the log.
* **inactive** (rolled segments): on disk only, plus the last two entries (for sanity
  checks and :meth:`last_entry`). The first lookup reads the file into ``bytes`` kept in
  the process-wide LRU :data:`riverhead.log.files.INDEX_BYTES`, bounded by total bytes.

Thread-safety: one writer (the partition's append lock) and any number of lock-free
readers. The writer publishes ``entries`` only after the entry bytes are in place, and the
active buffer never shrinks while the segment is published (truncation only lowers
``entries``), so a reader that read ``entries`` after taking the buffer never indexes
past its end. Cache eviction only drops the cache's reference to the bytes.
"""

from __future__ import annotations

import errno
import os
import struct
from pathlib import Path

from riverhead.log.files import INDEX_BYTES, read_file

INT32_MAX = 2**31 - 1


class _Index:
    """Shared machinery: a file of sorted fixed-size entries, see the module docstring."""

    _entry: struct.Struct

    def __init__(
        self, path: str | Path, base_offset: int, max_index_bytes: int, *, active: bool = False
    ) -> None:
        """Open the index at ``path`` (missing is fine: empty, ``existed`` false).

        ``active`` reads every entry into memory for appending; otherwise only the file
        length and the last two entries are read. Either way no fd stays open.
        """
        # Plain strings: building Path objects is a measurable part of loading 10k logs.
        self._path = os.fspath(path)
        self._file = self._path  # where the file is now: *.deleted once the segment is
        self.base_offset = base_offset
        self.entry_size = size = self._entry.size
        self.max_entries = max(2, max_index_bytes // size)
        self.closed = False
        self._buf: bytearray | None = None
        self._tail, self._tail_first = b"", 0  # the last entries, for checks without I/O
        if active:
            data = read_file(self._path)
            self.existed = data is not None
            self._file_length = -1 if data is None else len(data)
            # Entries implied by the length: a zero tail left in a preallocated file by a
            # crash counts as entries, which sanity_check() rejects (the caller rebuilds).
            self.entries = self._file_length // size if data is not None else 0
            self._buf = bytearray(data[: self.entries * size]) if data else bytearray()
            self._on_disk = self.entries  # leading entries known to be in the file
        else:
            self._open_inactive()
            self._on_disk = self.entries
        self._unsynced = False  # written since the last fsync

    def _open_inactive(self) -> None:
        size = self.entry_size
        try:
            fd = os.open(self._file, os.O_RDONLY)
        except FileNotFoundError:
            self.existed, self._file_length, self.entries = False, -1, 0
            return
        try:
            self.existed = True
            self._file_length = os.fstat(fd).st_size
            self.entries = self._file_length // size
            first = max(0, self.entries - 2)
            self._tail = os.pread(fd, (self.entries - first) * size, first * size)
            self._tail_first = first
        finally:
            os.close(fd)

    @property
    def path(self) -> Path:
        """The index file's name (``<base offset>.index`` / ``.timeindex``)."""
        return Path(self._path)

    # -- where the entries are --------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        return self._buf is not None

    def _data(self) -> bytes | bytearray:
        """The entry bytes: the active buffer, or the cached (or freshly read) file."""
        buf = self._buf
        if buf is not None:
            return buf
        return INDEX_BYTES.get(self, self._read_entries)

    def _read_entries(self) -> bytes:
        need = self.entries * self.entry_size
        if need == 0:
            return b""
        data = read_file(self._file)
        if data is None:
            raise FileNotFoundError(errno.ENOENT, "index file is gone", self._file)
        if len(data) < need:
            raise OSError(
                errno.EIO,
                f"index holds {len(data)} bytes, {self.entries} entries of "
                f"{self.entry_size} expected",
                self._file,
            )
        return data if len(data) == need else data[:need]

    def make_active(self) -> None:
        """Load the entries into memory so they can be appended to (segment becomes active
        again: load, follower truncation). Caller holds the partition lock."""
        if self._buf is None:
            n = self.entries
            self._buf = bytearray(self._data()[: n * self.entry_size])
            self._on_disk = min(self._on_disk, n)
            INDEX_BYTES.discard(self)

    def make_inactive(self, *, create_empty: bool = True) -> bool:
        """Persist the entries and drop the buffer (on roll and close); the bytes move to
        the index cache for readers. Returns whether the file was written.
        ``create_empty=False``: an index with no entries and no file stays without one."""
        buf = self._buf
        if buf is None:
            return False
        written = self.persist(create_empty=create_empty)
        n = self.entries
        self._tail_first = max(0, n - 2)
        self._tail = bytes(buf[self._tail_first * self.entry_size : n * self.entry_size])
        INDEX_BYTES.put(self, bytes(buf[: n * self.entry_size]))
        self._buf = None
        return written

    def persist(self, *, create_empty: bool = True) -> bool:
        """Write the entries not yet on disk and cut the file to exactly ``entries``
        entries (a short-lived fd; no fsync, see :meth:`sync`). Returns whether anything
        was written. Active only; caller holds the partition lock."""
        buf = self._buf
        n, size = self.entries, self.entry_size
        if buf is None or (self._on_disk == n and self._file_length == n * size):
            return False
        if n == 0 and self._file_length < 0 and not create_empty:
            return False
        start = min(self._on_disk, n)
        fd = os.open(self._file, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            if start < n:
                view = memoryview(buf)[start * size : n * size]
                try:
                    done = os.pwrite(fd, view, start * size)
                    while done < len(view):
                        done += os.pwrite(fd, view[done:], start * size + done)
                finally:
                    view.release()
            if self._file_length < 0 or self._file_length > n * size:
                os.ftruncate(fd, n * size)
        finally:
            os.close(fd)
        self._on_disk, self._file_length, self.existed = n, n * size, True
        self._unsynced = True
        return True

    def sync(self) -> None:
        """fsync the file if it was written since the last sync (any thread)."""
        if not self._unsynced:
            return
        self._unsynced = False
        fd = os.open(self._file, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Release cached bytes; nothing is written (a crash is simulated this way).
        Readers may still look up entries (uncached) afterwards."""
        self.closed = True
        INDEX_BYTES.discard(self)

    def renamed(self, target: str | Path) -> None:
        """The file was renamed (segment deletion): readers keep finding it there."""
        self._file = os.fspath(target)

    def delete(self) -> None:
        self.close()
        Path(self._file).unlink(missing_ok=True)

    # -- entries --------------------------------------------------------------------------

    @property
    def is_full(self) -> bool:
        return self.entries >= self.max_entries

    @property
    def size_bytes(self) -> int:
        return self.entries * self.entry_size

    def entry(self, i: int) -> tuple[int, int]:
        """Entry ``i`` as (first field, second field), relative offsets as stored."""
        if not 0 <= i < self.entries:
            raise IndexError(f"entry {i} of {self.entries} in {self._path}")
        buf = self._buf
        if buf is None and i >= self._tail_first:
            rel = i - self._tail_first
            if (rel + 1) * self.entry_size <= len(self._tail):
                a, b = self._entry.unpack_from(self._tail, rel * self.entry_size)
                return int(a), int(b)
        data = buf if buf is not None else self._data()
        a, b = self._entry.unpack_from(data, i * self.entry_size)
        return int(a), int(b)

    def _write(self, a: int, b: int) -> None:
        buf = self._buf
        if buf is None:
            raise RuntimeError(f"index {self._path} is not active")
        if self.entries >= self.max_entries:
            raise RuntimeError(f"index {self._path} is full ({self.max_entries} entries)")
        at = self.entries * self.entry_size
        if len(buf) > at:  # slots kept by a truncation: overwrite, never shrink
            self._entry.pack_into(buf, at, a, b)
        else:
            buf += self._entry.pack(a, b)
        self.entries += 1  # publish only after the bytes are in place

    def _largest_at_most(self, target: int, field: int) -> int:
        """Index of the last entry whose ``field`` is <= target, or -1 (binary search)."""
        if self.entries == 0:
            return -1
        data = self._data()  # take the bytes before reading entries (see module doc)
        size = self.entry_size
        n = min(self.entries, len(data) // size)
        if n == 0:
            return -1
        unpack = self._entry.unpack_from
        if unpack(data, 0)[field] > target:
            return -1
        lo, hi = 0, n - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if unpack(data, mid * size)[field] <= target:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def truncate_entries(self, count: int) -> None:
        """Forget all entries from ``count`` on; the file is cut at the next
        :meth:`persist`. Loads an inactive index into memory first."""
        self.make_active()
        self.entries = min(self.entries, max(0, count))
        self._on_disk = min(self._on_disk, self.entries)

    def reset(self) -> None:
        """Forget every entry and make the index active (before a rebuild at load time,
        when no reader can hold the buffer: it is replaced, freeing a crashed file's
        zero tail)."""
        self.entries = 0
        self._on_disk = 0
        self._buf = bytearray()
        self._tail, self._tail_first = b"", 0
        INDEX_BYTES.discard(self)

    def _check_length(self) -> str:
        length = self._file_length
        if length > 0 and length % self.entry_size:
            return f"length {length} is not a multiple of {self.entry_size}"
        return ""


class OffsetIndex(_Index):
    """Sparse map from (last) offset of a batch to its byte position in the segment."""

    _entry = struct.Struct(">ii")

    def append(self, offset: int, position: int) -> None:
        rel = offset - self.base_offset
        if not 0 <= rel <= INT32_MAX or not 0 < position <= INT32_MAX:
            raise ValueError(f"index entry ({offset}, {position}) out of range for {self._path}")
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
        problem = self._check_length()
        if problem:
            return problem
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


class TimeIndex(_Index):
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
        """Return why the index cannot be trusted for a segment ending at ``next_offset``,
        or ""."""
        problem = self._check_length()
        if problem:
            return problem
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
