"""One log segment: an append-only ``.log`` file of record batches plus its two indexes.

Files, named by the segment's base offset zero-padded to 20 digits (Kafka's layout)::

    00000000000000000100.log        record batches exactly as appended, back to back
    00000000000000000100.index      sparse offset index (see riverhead.log.index)
    00000000000000000100.timeindex  sparse time index

Invariants: batches in the file have strictly increasing offsets, all >= the base offset
and within base + 2**31 - 1; positions fit in an int32. ``size`` and ``next_offset`` (the
offset after the last batch) are kept in memory and published together as one tuple
(:attr:`state`) after the bytes are written, so a lock-free reader never sees a size that
covers unwritten bytes nor an offset whose bytes it cannot see.

Open files (see :mod:`riverhead.log.files`): an **active** segment holds one fd, its
``.log`` opened for append, and keeps its index entries in memory. A **rolled** segment
holds no fd of its own: reads open the ``.log`` read-only through the process-wide LRU
:data:`~riverhead.log.files.SEGMENT_FILES`, and index lookups read the index file into
the :data:`~riverhead.log.files.INDEX_BYTES` cache.

Thread-safety: mutations (append, truncate, roll, recover, :meth:`make_active`,
:meth:`make_inactive`) are serialized by the owning
:class:`~riverhead.log.partition.PartitionLog`; reads (:meth:`read_slice`, scans) are
lock-free and may race with a roll, an LRU eviction or a deletion. Every fd is owned by a
:class:`~riverhead.log.files.FileHandle` that closes it when the last reference goes away,
and a reader holds the handle object (never just the int) while it uses the fd, so neither
eviction nor a roll can close an fd under a reader, and a FileSlice handed to the network
stays valid even if retention deletes the segment meanwhile. A reader of a deleted segment
keeps reading its renamed ``*.deleted`` file; once that is unlinked it gets
FileNotFoundError (the partition retries with a fresh segment list).
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from pathlib import Path

from riverhead.log.files import SEGMENT_FILES, FileHandle
from riverhead.log.index import INT32_MAX, OffsetIndex, TimeIndex
from riverhead.protocol.batch import (
    HEADER_SIZE,
    LOG_OVERHEAD,
    BatchHeader,
    iter_batches,
    read_header,
    valid_prefix,
)

_SCAN_CHUNK = 16 * 1024
_OFF_LEN = struct.Struct(">qi")  # baseOffset, batchLength
_DELTA = struct.Struct(">i")  # lastOffsetDelta at byte 23
_SHORT_HEADER = 27  # bytes needed to know base offset, size and last offset


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


__all__ = ["FileHandle", "LogSegment", "segment_name"]


class LogSegment:
    """A segment file plus indexes; see the module docstring for formats and invariants."""

    def __init__(
        self,
        directory: Path,
        base_offset: int,
        *,
        index_bytes: int,
        index_interval_bytes: int,
        created_ms: int,
        active: bool = True,
    ) -> None:
        """Open (creating if ``active`` and missing) the segment at ``base_offset``.

        ``active``: the ``.log`` is opened for append and kept open, the indexes are read
        into memory. A new segment has no index files until it is rolled or closed
        (creating a file costs ~0.5 ms on a busy disk; nothing needs them before).
        Otherwise (a rolled segment being loaded) the ``.log`` fd goes to the LRU and
        only the indexes' lengths and last entries are read. Raises FileNotFoundError if
        an inactive segment's ``.log`` is missing.
        """
        # Plain strings for I/O: Path objects cost more than the syscalls when loading.
        prefix = os.path.join(directory, segment_name(base_offset))
        self.base_offset = base_offset
        self._log_path = prefix + ".log"
        self._read_path = self._log_path  # moves to *.deleted when the segment is deleted
        self.index_interval_bytes = index_interval_bytes
        self.closed = False
        self._write_handle: FileHandle | None = None
        if active:
            handle = FileHandle(os.open(self._log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND))
            self._write_handle = handle
        else:
            handle = FileHandle(os.open(self._log_path, os.O_RDONLY))
            SEGMENT_FILES.put(self, handle)
        size = os.fstat(handle.fd).st_size
        del handle
        self.offset_index = OffsetIndex(prefix + ".index", base_offset, index_bytes, active=active)
        self.time_index = TimeIndex(prefix + ".timeindex", base_offset, index_bytes, active=active)
        self.state: tuple[int, int] = (size, base_offset)  # (size, next_offset)
        self.max_timestamp = -1
        self.offset_of_max_timestamp = -1
        self.bytes_since_last_index_entry = 0
        self.created_ms = created_ms
        self.rolling_timestamp: int | None = None  # max timestamp of the first batch
        self.dirty = False  # written since the last fsync

    # -- properties -----------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self.state[0]

    @property
    def next_offset(self) -> int:
        return self.state[1]

    @property
    def log_path(self) -> Path:
        """The ``.log`` file's name (it is renamed ``*.deleted`` when the segment is)."""
        return Path(self._log_path)

    @property
    def is_active(self) -> bool:
        return self._write_handle is not None

    @property
    def index_full(self) -> bool:
        return self.offset_index.is_full or self.time_index.is_full

    def largest_timestamp(self) -> int:
        """Max record timestamp, or the file's mtime when no batch has one (retention)."""
        if self.max_timestamp >= 0:
            return self.max_timestamp
        return int(os.stat(self._read_path).st_mtime * 1000)

    def time_waited_for_roll(self, now_ms: int, max_timestamp: int) -> int:
        """Kafka's rule: time since the first batch's timestamp, or since creation."""
        if self.rolling_timestamp is not None and self.rolling_timestamp >= 0:
            return max_timestamp - self.rolling_timestamp
        return now_ms - self.created_ms

    # -- writing --------------------------------------------------------------------------

    def append(
        self, data: bytes | bytearray | memoryview, batches: list[tuple[int, int, int, int]]
    ) -> None:
        """Write ``data`` (whole batches) with one write and index it.

        ``batches`` holds ``(position in data, size, last offset, max timestamp)`` per
        batch, computed by the caller from the headers; no per-record work happens here.
        The segment must be active.
        """
        handle = self._write_handle
        if handle is None:
            raise RuntimeError(f"{self._log_path} is not the active segment")
        fd = handle.fd
        view = memoryview(data)
        try:
            done = os.write(fd, view)
            while done < len(view):  # short writes: disk full or signals
                done += os.write(fd, view[done:])
        finally:
            view.release()
        position, _ = self.state
        if position == 0 and batches:
            self.rolling_timestamp = batches[0][3]
        oi, ti, interval = self.offset_index, self.time_index, self.index_interval_bytes
        since = self.bytes_since_last_index_entry
        max_ts, max_ts_offset = self.max_timestamp, self.offset_of_max_timestamp
        for pos, size, last_offset, ts in batches:
            if ts > max_ts:
                max_ts, max_ts_offset = ts, last_offset
            if since > interval:
                if not oi.is_full:
                    oi.append(last_offset, position + pos)
                ti.maybe_append(max_ts, max_ts_offset)
                since = 0
            since += size
        self.max_timestamp, self.offset_of_max_timestamp = max_ts, max_ts_offset
        self.bytes_since_last_index_entry = since
        self.dirty = True
        self.state = (position + len(data), batches[-1][2] + 1)

    def flush(self, *, indexes: bool = True) -> None:
        """fsync the log and (unless ``indexes`` is false) the index files written since
        their last fsync. Any thread; no lock needed (fsync of whatever is on disk).

        The active segment's indexes are in memory, written only on roll and close: an
        unclean start rebuilds them.
        """
        self.dirty = False
        handle = self._reader()
        os.fsync(handle.fd)
        del handle
        if indexes:
            self.offset_index.sync()
            self.time_index.sync()

    def make_inactive(self) -> None:
        """On roll/close: record the final max timestamp, write both indexes (exact
        length) and give the append fd to the read LRU. Caller holds the partition lock."""
        if self.offset_of_max_timestamp >= 0:
            self.time_index.maybe_append(
                self.max_timestamp, self.offset_of_max_timestamp, skip_full_check=True
            )
        # An empty segment needs no index files (a missing index only matters with data);
        # creating them costs two file creations per idle partition at every shutdown.
        data = self.size > 0
        written = self.offset_index.make_inactive(create_empty=data)
        written = self.time_index.make_inactive(create_empty=data) or written
        if written:
            self.dirty = True  # the indexes must reach the disk
        handle = self._write_handle
        if handle is not None:
            SEGMENT_FILES.put(self, handle)  # first, so readers find it there; evicted later
            self._write_handle = None

    def make_active(self) -> None:
        """Open the ``.log`` for append and load the indexes into memory (the segment
        takes appends again). Caller holds the partition lock."""
        if self._write_handle is None:
            self._write_handle = FileHandle(os.open(self._read_path, os.O_RDWR | os.O_APPEND))
            SEGMENT_FILES.discard(self)
        self.offset_index.make_active()
        self.time_index.make_active()

    def _reader(self) -> FileHandle:
        """An fd for reading: the append fd, else one from the LRU (opened if needed).
        Callers keep the returned object alive while they use its fd."""
        handle = self._write_handle
        if handle is not None:
            return handle
        return SEGMENT_FILES.get(self, self._open_for_reading)

    def _open_for_reading(self) -> FileHandle:
        return FileHandle(os.open(self._read_path, os.O_RDONLY))

    def close(self) -> None:
        """Release the fd and cached bytes without writing anything (after a crash this
        is all that happened). Outstanding FileSlices keep their fd until dropped; later
        reads open an uncached fd."""
        self.closed = True
        self._write_handle = None
        SEGMENT_FILES.discard(self)
        self.offset_index.close()
        self.time_index.close()

    def rename_deleted(self) -> list[Path]:
        """Rename the files to ``*.deleted`` (open fds stay valid; readers holding this
        segment keep reading the renamed files); returns the new paths."""
        self.close()
        renamed = []
        for path, moved in (
            (self._log_path, self._log_renamed),
            (self.offset_index.path, self.offset_index.renamed),
            (self.time_index.path, self.time_index.renamed),
        ):
            target = f"{path}.deleted"
            try:
                os.replace(path, target)
            except FileNotFoundError:
                continue
            renamed.append(Path(target))
            moved(target)
        return renamed

    def _log_renamed(self, target: str | Path) -> None:
        self._read_path = os.fspath(target)

    # -- loading and recovery -------------------------------------------------------------

    def load(self) -> str:
        """Cheap load for a segment whose data is trusted (flushed, or clean shutdown).

        Checks the indexes, then scans and CRC-checks only the tail after the last index
        entry, which must end exactly at the end of the file. Returns "" on success or why
        a full :meth:`recover` is needed.
        """
        size = self.size
        for index in (self.offset_index, self.time_index):
            if size and not index.existed:
                return f"{index.path.name} is missing"
        problem = self.offset_index.sanity_check(size)
        if problem:
            return f"{self.offset_index.path.name}: {problem}"
        _, tail_pos = self.offset_index.last_entry()
        handle = self._reader()
        tail = os.pread(handle.fd, size - tail_pos, tail_pos)
        valid_end, count, reason = valid_prefix(tail)
        if valid_end != len(tail):
            return f"tail at byte {tail_pos + valid_end}: {reason}"
        next_offset = self.base_offset
        max_ts, max_ts_offset = -1, -1
        last = self.time_index.last_entry()
        if last is not None:
            max_ts, max_ts_offset = last
        for _, header in iter_batches(tail):
            next_offset = header.next_offset
            if header.max_timestamp > max_ts:
                max_ts, max_ts_offset = header.max_timestamp, header.last_offset
        if count == 0 and self.offset_index.entries:
            return "the last index entry points at the end of the log"
        if size and next_offset - 1 - self.base_offset > INT32_MAX:
            return f"offsets up to {next_offset - 1} do not fit the segment"
        problem = self.time_index.sanity_check(next_offset)
        if problem:
            return f"{self.time_index.path.name}: {problem}"
        self.max_timestamp, self.offset_of_max_timestamp = max_ts, max_ts_offset
        self.bytes_since_last_index_entry = size - tail_pos
        self.state = (size, next_offset)
        if size >= HEADER_SIZE:  # Kafka's time-based roll needs the first batch's timestamp
            first = tail if tail_pos == 0 else os.pread(handle.fd, HEADER_SIZE, 0)
            self.rolling_timestamp = read_header(first).max_timestamp
        return ""

    def recover(self, min_offset: int) -> tuple[int, str]:
        """Rebuild both indexes by scanning every batch; truncate an invalid tail.

        A batch is valid if it is whole, its CRC matches, its offsets increase, its base
        offset is >= ``min_offset`` (the previous segment's end) and it fits the segment's
        relative-offset range. Returns ``(bytes truncated, reason)``. Leaves the segment
        active (its indexes in memory); the caller makes it inactive if it is not the last.
        """
        self.make_active()
        handle = self._write_handle
        assert handle is not None
        fd = handle.fd
        file_size = os.fstat(fd).st_size
        self.offset_index.reset()
        self.time_index.reset()
        self.state = (0, self.base_offset)
        self.max_timestamp = self.offset_of_max_timestamp = -1
        self.bytes_since_last_index_entry = 0
        self.rolling_timestamp = None
        valid_end, reason = 0, ""
        batches: list[tuple[int, int, int, int]] = []
        if file_size:
            mm = mmap.mmap(fd, file_size, access=mmap.ACCESS_READ)
            view = memoryview(mm)
            try:
                valid_end, _, reason = valid_prefix(view)
                lower = max(min_offset, self.base_offset)
                for pos, header in iter_batches(view, 0, valid_end):
                    if header.base_offset < lower:
                        valid_end, reason = (
                            pos,
                            (
                                f"batch at byte {pos} has offset {header.base_offset}, "
                                f"expected >= {lower}"
                            ),
                        )
                        break
                    if header.last_offset - self.base_offset > INT32_MAX:
                        valid_end, reason = pos, f"offset {header.last_offset} overflows segment"
                        break
                    batches.append((pos, header.size, header.last_offset, header.max_timestamp))
                self._reindex(batches)
            finally:
                view.release()
                mm.close()
        if valid_end < file_size:
            os.ftruncate(fd, valid_end)
        self.state = (valid_end, batches[-1][2] + 1 if batches else self.base_offset)
        self.dirty = True
        return file_size - valid_end, reason

    def _reindex(self, batches: list[tuple[int, int, int, int]]) -> None:
        """Replay Kafka's append-time indexing over the batches found by recovery."""
        oi, ti, interval = self.offset_index, self.time_index, self.index_interval_bytes
        since, max_ts, max_ts_offset = 0, -1, -1
        for pos, size, last_offset, ts in batches:
            if ts > max_ts:
                max_ts, max_ts_offset = ts, last_offset
            if since > interval:
                if not oi.is_full:
                    oi.append(last_offset, pos)
                ti.maybe_append(max_ts, max_ts_offset)
                since = 0
            since += size
        self.max_timestamp, self.offset_of_max_timestamp = max_ts, max_ts_offset
        self.bytes_since_last_index_entry = since
        if batches:
            self.rolling_timestamp = batches[0][3]

    def truncate_to(self, offset: int) -> int:
        """Drop every batch whose last offset is >= ``offset`` (whole batches); returns the
        number of bytes removed. Indexes are cut to match and the tail state is reloaded.
        Makes the segment active (the caller's new last segment)."""
        self.make_active()
        size = self.size
        found = self.find_batch(offset, size)
        if found is None:
            return 0
        position = found[0]
        handle = self._write_handle
        assert handle is not None
        os.ftruncate(handle.fd, position)
        self.offset_index.truncate_to_position(position)
        self.state = (position, self.base_offset)
        # Recompute next offset / max timestamp from the remaining tail, then cut the time
        # index to the surviving offsets.
        _, tail_pos = self.offset_index.last_entry()
        next_offset, max_ts, max_ts_offset = self.base_offset, -1, -1
        for _, header in self.iter_headers(tail_pos, position):
            next_offset = header.next_offset
            if header.max_timestamp > max_ts:
                max_ts, max_ts_offset = header.max_timestamp, header.last_offset
        self.time_index.truncate_to_offset(next_offset)
        last = self.time_index.last_entry()
        if last is not None and last[0] > max_ts:
            max_ts, max_ts_offset = last
        self.max_timestamp, self.offset_of_max_timestamp = max_ts, max_ts_offset
        self.bytes_since_last_index_entry = position - tail_pos
        if position == 0:
            self.rolling_timestamp = None
        self.state = (position, next_offset)
        self.dirty = True
        return size - position

    # -- reading (lock-free) --------------------------------------------------------------

    def find_batch(
        self, offset: int, end: int, start: int | None = None
    ) -> tuple[int, int, int] | None:
        """``(position, size, last_offset)`` of the first batch in ``[start, end)`` whose last
        offset is >= ``offset``: the batch containing it, or the next one after a gap.
        ``start`` defaults to the offset index's lookup position. None if there is none."""
        handle = self._reader()  # kept alive while fd is used
        fd = handle.fd
        pos = self.offset_index.lookup(offset)[1] if start is None else start
        buf, buf_start = b"", pos
        while pos + _SHORT_HEADER <= end:
            rel = pos - buf_start
            if rel + _SHORT_HEADER > len(buf):
                buf, buf_start, rel = os.pread(fd, min(_SCAN_CHUNK, end - pos), pos), pos, 0
                if len(buf) < _SHORT_HEADER:
                    return None
            base, length = _OFF_LEN.unpack_from(buf, rel)
            (delta,) = _DELTA.unpack_from(buf, rel + 23)
            size = length + LOG_OVERHEAD
            if base + delta >= offset:
                return pos, size, base + delta
            pos += size
        return None

    def last_boundary_at_most(self, limit: int, start: int) -> int:
        """Largest batch boundary (end of a whole batch) in ``[start, limit]``; ``start`` if the
        batch at ``start`` does not fit. Uses the offset index to skip ahead, then scans."""
        handle = self._reader()  # kept alive while fd is used
        fd = handle.fd
        pos = max(start, self.offset_index.floor_position(limit))
        buf, buf_start = b"", pos
        while True:
            rel = pos - buf_start
            if rel + 12 > len(buf):
                if limit - pos < 12:
                    return pos
                buf, buf_start, rel = os.pread(fd, min(_SCAN_CHUNK, limit - pos), pos), pos, 0
                if len(buf) < 12:
                    return pos
            _, length = _OFF_LEN.unpack_from(buf, rel)
            nxt = pos + length + LOG_OVERHEAD
            if nxt > limit:
                return pos
            pos = nxt

    def iter_headers(self, start: int, end: int) -> Iterator[tuple[int, BatchHeader]]:
        """Yield ``(position, header)`` for every whole batch in ``[start, end)``."""
        handle = self._reader()  # kept alive while fd is used
        fd = handle.fd
        pos = start
        buf, buf_start = b"", pos
        while end - pos >= HEADER_SIZE:
            rel = pos - buf_start
            if rel + HEADER_SIZE > len(buf):
                buf, buf_start, rel = os.pread(fd, min(_SCAN_CHUNK, end - pos), pos), pos, 0
            header = read_header(buf, rel)
            if pos + header.size > end:
                return
            yield pos, header
            pos += header.size

    def read_batch(self, position: int, size: int) -> bytes:
        handle = self._reader()
        return os.pread(handle.fd, size, position)

    def read_slice(
        self, offset: int, max_bytes: int, bound: int, min_one_batch: bool
    ) -> tuple[int, int, FileHandle] | None:
        """``(position, size, handle)`` of whole batches for a fetch at ``offset``.

        Starts at the batch containing ``offset`` (or the next one), ends before the batch
        holding offset ``bound`` and within ``max_bytes`` (but takes the first batch whole
        if ``min_one_batch``). None if this segment has nothing at or after ``offset``;
        size 0 if it has but nothing may be returned (bound or max_bytes).
        """
        size, seg_next = self.state
        handle = self._reader()
        found = self.find_batch(offset, size) if offset < seg_next else None
        if found is None:
            return None
        start, first_size, _ = found
        if bound >= seg_next:
            bound_pos = size
        else:
            at_bound = self.find_batch(bound, size)
            bound_pos = size if at_bound is None else at_bound[0]
        first_end = start + first_size
        if first_end > bound_pos:
            return start, 0, handle
        limit = start + max(0, max_bytes)
        if bound_pos <= limit:
            end = bound_pos
        else:
            end = self.last_boundary_at_most(limit, start)
            if end == start:
                end = first_end if min_one_batch else start
        return start, end - start, handle

    def find_by_timestamp(
        self, timestamp: int, size: int, start_offset: int = 0
    ) -> tuple[int, int] | None:
        """``(offset, timestamp)`` of the first record at or after ``start_offset`` (the log
        start: records below it are deleted, as Kafka's ``findOffsetByTimestamp`` skips
        them) with timestamp >= target within the first ``size`` bytes: the time index gives
        a starting offset, the offset index a position, then batch headers are scanned by
        maxTimestamp."""
        before = self.time_index.lookup_before(timestamp)
        pos = 0 if before is None else self.offset_index.lookup(max(before, start_offset))[1]
        for position, header in self.iter_headers(pos, size):
            if header.last_offset >= start_offset and header.max_timestamp >= timestamp:
                found = self.first_record_at_or_after(position, header, timestamp, start_offset)
                if found is not None:
                    return found
        return None

    def first_record_at_or_after(
        self, position: int, header: BatchHeader, timestamp: int, start_offset: int = 0
    ) -> tuple[int, int] | None:
        """(offset, timestamp) of the batch's first record at or after ``start_offset`` with
        timestamp >= target; None if only records below ``start_offset`` qualify.

        Only uncompressed CreateTime batches are decoded (per-record work, acceptable on
        the ListOffsets path); otherwise returns (base offset, max timestamp): an
        approximation for compressed CreateTime batches, exact for LogAppendTime.
        """
        # Bit 15: records encrypted at rest (riverhead.security.encryption), not decodable here.
        if header.compression or header.log_append_time or header.attributes & 0x8000:
            return max(header.base_offset, start_offset), header.max_timestamp
        buf = self.read_batch(position, header.size)
        pos = HEADER_SIZE
        below_start = False
        try:
            for _ in range(header.records_count):
                length, body = _varint(buf, pos)
                ts_delta, after = _varint(buf, body + 1)  # skip the attributes byte
                offset_delta, _ = _varint(buf, after)
                if header.base_timestamp + ts_delta >= timestamp:
                    if header.base_offset + offset_delta >= start_offset:
                        return header.base_offset + offset_delta, header.base_timestamp + ts_delta
                    below_start = True
                pos = body + length
        except IndexError:
            pass
        if below_start:  # the matches are deleted; a later batch may hold the answer
            return None
        return max(header.base_offset, start_offset), header.max_timestamp


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode one zig-zag varint at ``pos``; returns (value, next position)."""
    shift = result = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
