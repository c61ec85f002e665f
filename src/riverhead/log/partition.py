"""The log of one partition: a directory of segments, offsets assigned on append.

Directory ``<topic>-<partition>`` (split on the last ``-``) holds the segments (see
:mod:`riverhead.log.segment` for file formats) and ``log-state.checkpoint``, a text file::

    version 1
    log_start_offset 1200
    recovery_point 5000

``log_start_offset`` survives DeleteRecords inside a segment; ``recovery_point`` is an
offset below which everything was fsynced, so on an unclean start only segments reaching
past it are fully recovered (Kafka's recovery-point checkpoint). Other files in the
directory (e.g. the broker's producer-state snapshots) are left alone.

Invariants: offsets assigned by :meth:`PartitionLog.append` are dense and never reused,
also across restarts (the active segment's base offset carries the log end offset even
when empty); ``log_start_offset <= high_watermark <= log_end_offset`` (the high watermark
follows the log end offset while ``high_watermark_follows_leo`` is true).

Thread-safety: appends, rolls, truncation, retention and DeleteRecords are serialized by
one lock. Readers (:meth:`read`, :meth:`offset_for_timestamp`, :meth:`iter_batch_headers`,
the properties) take no lock: they work from an immutable snapshot of the segment list and
each segment's published ``(size, next_offset)``, and only ever see whole appends. fsync
happens outside the append lock. A reader racing with :meth:`truncate_to` may be handed
bytes that are being cut; replication only truncates above the high watermark, which
readers never reach.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from riverhead.log import cleaner
from riverhead.log.config import LogConfig
from riverhead.log.files import SEGMENT_FILES, read_file
from riverhead.log.index import INT32_MAX
from riverhead.log.segment import LogSegment
from riverhead.logging_setup import event
from riverhead.protocol.batch import (
    HEADER_SIZE,
    BatchHeader,
    CorruptBatchError,
    read_header,
    set_base_offset,
    set_leader_epoch,
    set_log_append_time,
)

if TYPE_CHECKING:
    from riverhead.security.encryption import BatchCipher

logger = logging.getLogger("riverhead.log")

CHECKPOINT_FILE = "log-state.checkpoint"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class AppendResult:
    base_offset: int
    last_offset: int
    log_append_time: int  # -1 unless message.timestamp.type=LogAppendTime
    log_start_offset: int
    max_timestamp: int


@dataclass(frozen=True)
class FileSlice:
    """Bytes of whole batches to send for a fetch: ``size`` bytes at ``position`` of ``fd``.

    ``fd`` stays open while this object lives, even if the segment is rolled, its fd is
    evicted from the LRU of open segment files, or the segment is deleted meanwhile: the
    slice holds a reference to the fd's :class:`~riverhead.log.files.FileHandle`, which
    closes the fd only when its last holder is gone. So it can be passed to
    ``os.sendfile``; keep the slice (not just ``fd``) until the bytes are sent.
    """

    fd: int
    position: int
    size: int
    _handle: object = field(default=None, repr=False, compare=False)

    def read(self) -> bytes:
        return os.pread(self.fd, self.size, self.position)


class OffsetOutOfRange(Exception):
    """An offset outside ``[log_start_offset, log_end_offset]`` (Kafka OFFSET_OUT_OF_RANGE)."""

    def __init__(self, offset: int, log_start_offset: int, log_end_offset: int) -> None:
        super().__init__(f"offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")
        self.offset = offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset


class PartitionLog:
    """Segments of one partition; see the module docstring for layout and thread-safety.

    ``recover=True`` (unclean start) fully recovers every segment not known to be flushed
    (always the last one): indexes are rebuilt by scanning and an invalid tail is truncated,
    dropping later segments, with a WARNING on ``riverhead.log``. ``recover=False`` (after a
    clean shutdown) only checks each segment's index and tail cheaply; a segment failing the
    check is recovered anyway. ``now_ms`` is the clock (injectable for tests).
    """

    def __init__(
        self,
        directory: Path,
        config: LogConfig,
        *,
        recover: bool = True,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self.directory = Path(directory)
        topic, sep, part = self.directory.name.rpartition("-")
        if not sep or not topic or not part.isdigit():
            raise ValueError(f"{self.directory} is not named <topic>-<partition>")
        self.topic, self.partition = topic, int(part)
        self.config = config
        self._now = now_ms or wall_clock_ms
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        # Set by the broker when the topic's batches are encrypted at rest: seals batches
        # on write; readers of records (fetch) open them (riverhead.security.encryption).
        self.cipher: BatchCipher | None = None
        self._checkpoint_lock = threading.Lock()
        self._flusher_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._flush_target = 0
        self._segments: tuple[LogSegment, ...] = ()
        self._leo = 0
        self._log_start = 0
        self._recovery_point = 0
        self._written_checkpoint: tuple[int, int] = (-1, -1)
        self._unflushed_messages = 0
        self._last_flush_ms = self._now()
        self._pending_deletes: list[tuple[int, list[Path]]] = []
        self._closed = False
        self.recovered_bytes_truncated = 0
        self.high_watermark = 0
        self.high_watermark_follows_leo = True
        self._load(recover)

    # -- properties -----------------------------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        return self._log_start

    @property
    def log_end_offset(self) -> int:
        """The next offset to assign."""
        return self._leo

    @property
    def size_bytes(self) -> int:
        return sum(seg.size for seg in self._segments)

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    @property
    def segments(self) -> tuple[LogSegment, ...]:
        """Snapshot of the segments, oldest first (for tools and tests)."""
        return self._segments

    # -- loading --------------------------------------------------------------------------

    def _open_segment(self, base_offset: int, *, active: bool = True) -> LogSegment:
        return LogSegment(
            self.directory,
            base_offset,
            index_bytes=self.config.segment_index_bytes,
            index_interval_bytes=self.config.index_interval_bytes,
            created_ms=self._now(),
            active=active,
        )

    def _load(self, recover: bool) -> None:
        # One listdir; the per-partition syscalls are what a 10k-partition restart pays.
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            self.directory.mkdir(parents=True)
            names = []
        names = cleaner.recover_leftovers(self.directory, names)  # crashed compaction
        bases: list[int] = []
        indexes: list[tuple[str, str]] = []
        for name in names:
            stem, dot, suffix = name.partition(".")
            if name.endswith(".deleted") or name == CHECKPOINT_FILE + ".tmp":
                (self.directory / name).unlink(missing_ok=True)
            elif suffix == "log" and len(stem) == 20 and stem.isdigit():
                bases.append(int(stem))
            elif dot and suffix in ("index", "timeindex"):
                indexes.append((stem, name))
        bases.sort()
        known = set(bases)
        for stem, name in indexes:
            if not stem.isdigit() or int(stem) not in known:
                (self.directory / name).unlink()
        log_start, recovery_point = self._read_checkpoint()
        segments: list[LogSegment] = []
        for i, base in enumerate(bases):
            last = i == len(bases) - 1
            seg = self._open_segment(base, active=last)
            trusted = not recover or (not last and bases[i + 1] <= recovery_point)
            problem = seg.load() if trusted else ""
            if problem:
                logger.warning("%s: rebuilding indexes: %s", seg.log_path, problem)
            truncated = 0
            if not trusted or problem:
                previous_end = segments[-1].next_offset if segments else 0
                truncated, reason = seg.recover(previous_end)
                if truncated:
                    logger.warning(
                        "%s: truncated %d bytes at byte position %d: %s",
                        seg.log_path,
                        truncated,
                        seg.size,
                        reason,
                        extra=event(
                            "recovery_truncated",
                            segment=str(seg.log_path),
                            bytes=truncated,
                            position=seg.size,
                            reason=reason,
                        ),
                    )
                    self.recovered_bytes_truncated += truncated
            if (not trusted or problem) and not last and not truncated:
                seg.make_inactive()  # recovery made it active: write its indexes, drop the fd
            if not seg.is_active:
                SEGMENT_FILES.discard(seg)  # idle rolled segments hold no fd after loading
            segments.append(seg)
            if truncated and not last:
                for later in bases[i + 1 :]:
                    dropped = self._open_segment(later, active=False)
                    logger.warning(
                        "%s: deleted %d bytes after the invalid data in %s",
                        dropped.log_path,
                        dropped.size,
                        seg.log_path.name,
                    )
                    self.recovered_bytes_truncated += dropped.size
                    for path in dropped.rename_deleted():
                        path.unlink()
                break
        if not segments:
            segments.append(self._open_segment(max(log_start, recovery_point)))
        active = segments[-1]
        active.make_active()
        self._publish(segments)
        self._leo = max(active.next_offset, active.base_offset)
        self._log_start = min(max(log_start, segments[0].base_offset), self._leo)
        self._recovery_point = min(recovery_point, self._leo)
        self.high_watermark = self._leo
        # Rewrite (and fsync) only if loading changed it; a missing file reads as (0, 0).
        self._written_checkpoint = self._checkpoint_key(log_start, recovery_point)
        self._write_checkpoint()

    def _read_checkpoint(self) -> tuple[int, int]:
        path = os.path.join(self.directory, CHECKPOINT_FILE)
        data = read_file(path)
        if data is None:
            return 0, 0
        try:
            lines = data.decode().splitlines()
            values = dict(line.split() for line in lines if line.strip())
            if values.get("version") != "1":
                raise ValueError(f"unknown version {values.get('version')!r}")
            return int(values["log_start_offset"]), int(values["recovery_point"])
        except (ValueError, KeyError) as exc:
            logger.warning("%s: ignoring unreadable checkpoint: %s", path, exc)
            return 0, 0

    def _checkpoint_key(self, log_start: int, recovery_point: int) -> tuple[int, int]:
        """What a restart uses of a checkpoint: the recovery point matters per segment."""
        bases = [seg.base_offset for seg in self._segments]
        if not bases:
            return (log_start, 0)
        return (log_start, bases[max(0, bisect.bisect_right(bases, recovery_point) - 1)])

    def _write_checkpoint(self, *, force: bool = False) -> None:
        """Persist (log start, recovery point) atomically: tmp file, fsync, rename.

        Skipped when nothing a restart would use changed: the recovery point only matters
        at segment granularity.
        """
        with self._checkpoint_lock:
            rp = self._recovery_point
            key = self._checkpoint_key(self._log_start, rp)
            if key == self._written_checkpoint and not force:
                return
            path = self.directory / CHECKPOINT_FILE
            tmp = path.with_name(CHECKPOINT_FILE + ".tmp")
            text = f"version 1\nlog_start_offset {self._log_start}\nrecovery_point {rp}\n"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, text.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            fsync_dir(self.directory)
            self._written_checkpoint = key

    def _publish(self, segments: list[LogSegment]) -> None:
        """Swap in a new segment list; readers keep whichever snapshot they took."""
        self._segments = tuple(segments)

    # -- appending ------------------------------------------------------------------------

    def append(
        self, data: bytearray | memoryview, *, leader_epoch: int, now_ms: int | None = None
    ) -> AppendResult:
        """Assign offsets to ``data`` (whole validated v2 batches) and write it.

        Rewrites each batch's baseOffset and partitionLeaderEpoch in place, and stamps
        LogAppendTime (recomputing the CRC) when the topic asks for it. One ``os.write``.
        Raises :class:`CorruptBatchError` if ``data`` does not split into whole batches.
        """
        with self._lock:
            self._check_open()
            now = self._now() if now_ms is None else now_ms
            log_append_time = self.config.message_timestamp_type == "LogAppendTime"
            first = offset = self._leo
            batches: list[tuple[int, int, int, int]] = []
            max_ts, pos, end = -1, 0, len(data)
            while pos < end:
                header = read_header(data, pos)
                size = header.size
                if pos + size > end or header.last_offset_delta < 0:
                    raise CorruptBatchError(
                        f"batch at byte {pos} declares {size} bytes and lastOffsetDelta "
                        f"{header.last_offset_delta}; {end - pos} bytes remain"
                    )
                set_base_offset(data, pos, offset)
                set_leader_epoch(data, pos, leader_epoch)
                last = offset + header.last_offset_delta
                ts = header.max_timestamp
                if log_append_time:
                    set_log_append_time(data, pos, size, now)
                    ts = now
                max_ts = max(max_ts, ts)
                batches.append((pos, size, last, ts))
                offset, pos = last + 1, pos + size
            if not batches:
                raise CorruptBatchError("append of zero batches")
            self._write(data, batches, first, max_ts, now, first)
            result = AppendResult(
                first, offset - 1, now if log_append_time else -1, self._log_start, max_ts
            )
            flush_due = self._unflushed_messages >= self.config.flush_interval_messages
        if flush_due:
            self.flush()
        return result

    def append_raw(self, data: bytes) -> AppendResult:
        """Append batches that already carry offsets (replication, tests) unchanged.

        Offsets must be >= the log end offset and increase; gaps are allowed.
        """
        with self._lock:
            self._check_open()
            now = self._now()
            batches: list[tuple[int, int, int, int]] = []
            next_expected, max_ts, pos, end = self._leo, -1, 0, len(data)
            first = -1
            while pos < end:
                header = read_header(data, pos)
                if pos + header.size > end or header.last_offset_delta < 0:
                    raise CorruptBatchError(f"batch at byte {pos} is not whole")
                if header.base_offset < next_expected:
                    raise ValueError(
                        f"batch at byte {pos} has offset {header.base_offset}, "
                        f"expected >= {next_expected}"
                    )
                if first < 0:
                    first = header.base_offset
                max_ts = max(max_ts, header.max_timestamp)
                batches.append((pos, header.size, header.last_offset, header.max_timestamp))
                next_expected, pos = header.next_offset, pos + header.size
            if not batches:
                raise CorruptBatchError("append of zero batches")
            self._write(data, batches, first, max_ts, now, first)
            result = AppendResult(first, next_expected - 1, -1, self._log_start, max_ts)
            flush_due = self._unflushed_messages >= self.config.flush_interval_messages
        if flush_due:
            self.flush()
        return result

    def _write(
        self,
        data: bytes | bytearray | memoryview,
        batches: list[tuple[int, int, int, int]],
        first: int,
        max_ts: int,
        now: int,
        roll_base: int,
    ) -> None:
        """Roll if needed, write, publish the new end offset. Caller holds the lock."""
        if self.cipher is not None:  # encryption at rest (riverhead.security.encryption)
            data, batches = self.cipher.seal(data, batches)
        seg = self._segments[-1]
        last_offset = batches[-1][2]
        if self._should_roll(seg, len(data), last_offset, max_ts, now):
            seg = self._roll(roll_base)
        seg.index_interval_bytes = self.config.index_interval_bytes
        seg.append(data, batches)
        self._leo = last_offset + 1
        if self.high_watermark_follows_leo:
            self.high_watermark = self._leo
        self._unflushed_messages += last_offset + 1 - first

    def _should_roll(
        self, seg: LogSegment, nbytes: int, last_offset: int, max_ts: int, now: int
    ) -> bool:
        overflow = last_offset - seg.base_offset > INT32_MAX
        if seg.size == 0:
            return overflow
        return (
            overflow
            or seg.size + nbytes > min(self.config.segment_bytes, INT32_MAX)
            or seg.time_waited_for_roll(now, max_ts) > self.config.segment_ms
            or seg.index_full
        )

    def _roll(self, new_base: int) -> LogSegment:
        """Close the active segment (or replace it if empty) and start one at ``new_base``."""
        segments = list(self._segments)
        old = segments[-1]
        if old.size == 0:
            if old.base_offset == new_base:
                return old
            segments.pop()
            for path in old.rename_deleted():
                path.unlink()
        else:
            old.make_inactive()
            self._schedule_background_flush(new_base)
        new = self._open_segment(new_base)
        if new.size:
            raise RuntimeError(f"{new.log_path} already exists with {new.size} bytes")
        new.make_active()
        segments.append(new)
        self._publish(segments)
        logger.info(
            "%s: rolled a new segment at offset %d",
            self.directory.name,
            new_base,
            extra=event("segment_rolled", partition=self.directory.name, base_offset=new_base),
        )
        return new

    # -- flushing -------------------------------------------------------------------------

    def _schedule_background_flush(self, upto: int) -> None:
        """fsync rolled segments off the append path (Kafka flushes them asynchronously)."""
        with self._flusher_lock:
            self._flush_target = max(self._flush_target, upto)
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flusher_main, name=f"log-flush-{self.directory.name}", daemon=True
                )
                self._flusher.start()

    def _flusher_main(self) -> None:
        done = 0
        while True:
            with self._flusher_lock:
                target = self._flush_target
                if target <= done or self._closed:  # close() flushes everything itself
                    self._flusher = None
                    return
            try:
                self._flush_upto(target)
            except OSError:
                logger.exception("%s: background flush failed", self.directory)
            done = target

    def _flush_upto(self, offset: int) -> None:
        """fsync every dirty segment holding offsets below ``offset``; advance the
        recovery point."""
        with self._flush_lock:
            closed_flushed = False
            segments = self._segments
            for seg in segments:
                if seg.base_offset < offset and seg.dirty:
                    active = seg is segments[-1] and not self._closed
                    with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                        seg.flush(indexes=not active)
                        closed_flushed = closed_flushed or not active
            if closed_flushed:  # files of rolled segments must survive a power loss
                with contextlib.suppress(FileNotFoundError):
                    fsync_dir(self.directory)
            if offset > self._recovery_point:
                self._recovery_point = offset
                self._write_checkpoint()

    def flush(self) -> None:
        """fsync everything appended so far (outside the append lock)."""
        with self._lock:
            leo = self._leo
            self._unflushed_messages = 0
            self._last_flush_ms = self._now()
        self._flush_upto(leo)

    def flush_if_due(self, now_ms: int) -> None:
        """Flush if ``flush.ms`` passed since the last flush with data pending; also runs
        delayed file deletions that are due."""
        self._purge_deleted(now_ms)
        elapsed = now_ms - self._last_flush_ms
        if self._unflushed_messages and elapsed >= self.config.flush_interval_ms:
            self.flush()

    # -- reading --------------------------------------------------------------------------

    def read(
        self,
        offset: int,
        max_bytes: int,
        *,
        upper_bound: int | None = None,
        min_one_batch: bool = True,
    ) -> FileSlice | None:
        """Whole batches from the one containing ``offset`` (or the next after a gap).

        Raises :class:`OffsetOutOfRange` if offset is outside [log start, log end]. Returns
        None at the log end, at/after ``upper_bound`` (default: the high watermark), when
        the first batch straddles the bound, or when it exceeds ``max_bytes`` and
        ``min_one_batch`` is false. Otherwise the slice holds whole batches within one
        segment, at most ``max_bytes`` unless the first batch alone is bigger (KIP-74).
        """
        try:
            return self._read(offset, max_bytes, upper_bound, min_one_batch)
        except FileNotFoundError:
            # A segment of our snapshot was deleted and its files unlinked meanwhile
            # (retention with file.delete.delay.ms=0): try again with the current
            # segments, which raises OffsetOutOfRange if the log start moved past offset.
            return self._read(offset, max_bytes, upper_bound, min_one_batch)

    def _read(
        self, offset: int, max_bytes: int, upper_bound: int | None, min_one_batch: bool
    ) -> FileSlice | None:
        leo, start_offset = self._leo, self._log_start
        if offset < start_offset or offset > leo:
            raise OffsetOutOfRange(offset, start_offset, leo)
        bound = min(self.high_watermark if upper_bound is None else upper_bound, leo)
        if offset >= bound:
            return None
        segments = self._segments
        i = max(0, bisect.bisect_right(segments, offset, key=_base_offset) - 1)
        for seg in segments[i:]:
            if seg.base_offset >= bound:
                return None
            found = seg.read_slice(offset, max_bytes, bound, min_one_batch)
            if found is None:
                continue  # nothing at or after offset here: the next segment has it
            if found[1] == 0:
                return None
            position, size, handle = found
            return FileSlice(handle.fd, position, size, handle)
        return None

    def iter_batch_headers(self, start_offset: int = 0) -> Iterator[BatchHeader]:
        """Headers of the batches from the one containing ``start_offset`` to the end."""
        for seg in self._segments:
            size, seg_next = seg.state
            if seg_next <= start_offset:
                continue
            found = seg.find_batch(start_offset, size)
            if found is None:
                continue
            for _, header in seg.iter_headers(found[0], size):
                yield header

    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        """``(offset, timestamp)`` of the first record with timestamp >= ``timestamp``.

        Exact for uncompressed batches (records are decoded) and LogAppendTime batches;
        for a compressed CreateTime batch it returns the batch's base offset and max
        timestamp (the broker never decompresses here). None if no record qualifies.
        Records below the log start offset are skipped (deleted), as in Kafka.
        """
        start_offset = self._log_start
        for seg in self._segments:
            size, seg_next = seg.state
            if seg_next <= start_offset or seg.max_timestamp < timestamp:
                continue
            found = seg.find_by_timestamp(timestamp, size, start_offset)
            if found is not None:
                return max(found[0], start_offset), found[1]
        return None

    def max_timestamp_entry(self) -> tuple[int, int] | None:
        """``(offset, timestamp)`` of the record with the largest timestamp (ListOffsets -3).

        Exact for uncompressed batches; otherwise the last offset of the batch holding it.
        """
        start_offset = self._log_start
        best: LogSegment | None = None
        for seg in self._segments:
            if (
                seg.next_offset > start_offset
                and seg.max_timestamp >= 0
                and (best is None or seg.max_timestamp > best.max_timestamp)
            ):
                best = seg
        if best is None:
            return None
        max_ts, offset = best.max_timestamp, best.offset_of_max_timestamp
        found = best.find_batch(offset, best.size)
        if found is not None:
            header = read_header(best.read_batch(found[0], HEADER_SIZE))
            hit = best.first_record_at_or_after(found[0], header, max_ts)
            if hit is not None:
                offset = hit[0]
        return max(offset, start_offset), max_ts

    # -- truncation, retention, deletion --------------------------------------------------

    def truncate_to(self, offset: int) -> None:
        """Drop every batch with an offset >= ``offset`` (whole batches; a batch straddling
        ``offset`` goes too). Below the log start, the log restarts empty at ``offset``."""
        with self._lock:
            self._check_open()
            if offset >= self._leo:
                return
            if offset < self._log_start:
                self._restart_at(offset)
                return
            segments = list(self._segments)
            keep = [seg for seg in segments if seg.base_offset <= offset]
            self._delete_segments([seg for seg in segments if seg.base_offset > offset])
            active = keep[-1]
            removed = active.truncate_to(offset)  # also makes it active if it was rolled
            logger.info(
                "%s: truncated to offset %d (%d bytes)",
                self.directory.name,
                offset,
                removed,
                extra=event(
                    "log_truncated", partition=self.directory.name, offset=offset, bytes=removed
                ),
            )
            self._publish(keep)
            self._leo = max(active.next_offset, active.base_offset)
            self.high_watermark = min(self.high_watermark, self._leo)
            self._recovery_point = min(self._recovery_point, self._leo)
            self._write_checkpoint(force=True)

    def _restart_at(self, offset: int) -> None:
        self._delete_segments(list(self._segments))
        new = self._open_segment(offset)
        new.make_active()
        self._publish([new])
        self._leo = self._log_start = self.high_watermark = self._recovery_point = offset
        self._write_checkpoint(force=True)

    def delete_records_before(self, offset: int) -> int:
        """Advance the log start offset to ``offset`` (DeleteRecords); returns the new log
        start. Raises :class:`OffsetOutOfRange` above the high watermark."""
        with self._lock:
            self._check_open()
            if offset > self.high_watermark:
                raise OffsetOutOfRange(offset, self._log_start, self._leo)
            if offset > self._log_start:
                self._log_start = offset
                active = self._segments[-1]
                if active.size and active.next_offset <= offset:
                    self._roll(self._leo)
                self._delete_below_log_start()
                self._write_checkpoint()
            return self._log_start

    def _delete_below_log_start(self) -> None:
        segments = self._segments
        doomed = [
            seg for seg, nxt in itertools.pairwise(segments) if nxt.base_offset <= self._log_start
        ]
        if doomed:
            self._publish(list(segments[len(doomed) :]))
            self._delete_segments(doomed)

    def apply_retention(self, now_ms: int) -> int:
        """Delete the oldest segments past ``retention.ms`` (by their largest timestamp) or
        beyond ``retention.bytes``, or wholly below the log start offset. The active
        segment too, as in Kafka (``UnifiedLog.deletableSegments``), when it is non-empty,
        wholly below the high watermark and expired by time or size: it is rolled first,
        so that an idle topic's records expire instead of living until the next roll.
        Returns the number of segments deleted."""
        with self._lock:
            self._check_open()
            self._purge_deleted(now_ms)
            cfg = self.config
            segments = self._segments
            use_delete = "delete" in cfg.cleanup_policy.split(",")
            over = sum(seg.size for seg in segments) - cfg.retention_bytes
            doomed: list[LogSegment] = []
            for seg, nxt in zip(segments, [*segments[1:], None], strict=True):
                if nxt is None and (seg.size == 0 or self.high_watermark < self._leo):
                    break
                below_start = nxt is not None and nxt.base_offset <= self._log_start
                by_time = (
                    use_delete
                    and cfg.retention_ms >= 0
                    and (now_ms - seg.largest_timestamp() > cfg.retention_ms)
                )
                by_size = use_delete and cfg.retention_bytes >= 0 and over - seg.size >= 0
                if not (below_start or by_time or by_size):
                    break
                doomed.append(seg)
                over -= seg.size
            if doomed:
                if len(doomed) == len(segments):
                    self._roll(self._leo)  # a log always keeps one (active) segment
                remaining = list(self._segments[len(doomed) :])
                self._publish(remaining)
                self._log_start = max(self._log_start, remaining[0].base_offset)
                self._delete_segments(doomed)
                self._write_checkpoint()
                logger.info(
                    "%s: retention deleted %d segments, log start offset now %d",
                    self.directory.name,
                    len(doomed),
                    self._log_start,
                    extra=event(
                        "segments_deleted",
                        partition=self.directory.name,
                        segments=len(doomed),
                        log_start_offset=self._log_start,
                    ),
                )
            return len(doomed)

    def compact(self, now_ms: int | None = None) -> cleaner.CleanResult:
        """Run one log-compaction pass now, whatever the dirty ratio (see
        :mod:`riverhead.log.cleaner`; raises like :func:`~riverhead.log.cleaner.clean`)."""
        return cleaner.clean(self, self._now() if now_ms is None else now_ms)

    def _delete_segments(self, segments: list[LogSegment]) -> None:
        """Rename to ``*.deleted`` now, unlink after ``file.delete.delay.ms``."""
        for seg in segments:
            self._dispose(seg.rename_deleted())

    def _dispose(self, paths: list[Path]) -> None:
        """Unlink renamed ``*.deleted`` files now or after ``file.delete.delay.ms``.
        Call it only once no published segment list refers to them any more."""
        if self.config.file_delete_delay_ms <= 0:
            for path in paths:
                path.unlink(missing_ok=True)
        else:
            self._pending_deletes.append((self._now() + self.config.file_delete_delay_ms, paths))

    def _purge_deleted(self, now_ms: int | None) -> None:
        """Unlink renamed files that are due (all of them when ``now_ms`` is None)."""
        keep = []
        for due, paths in list(self._pending_deletes):
            if now_ms is None or due <= now_ms:
                for path in paths:
                    path.unlink(missing_ok=True)
            else:
                keep.append((due, paths))
        self._pending_deletes = keep

    # -- lifecycle ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"log {self.directory} is closed")

    def close(self) -> None:
        """Write the final time-index entry and the active indexes, fsync what changed,
        checkpoint if changed, release files. Closing an unchanged log does no fsync."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        with self._flusher_lock:
            flusher = self._flusher
        if flusher is not None:
            flusher.join()
        with self._lock:
            self._segments[-1].make_inactive()
            leo = self._leo
        self._flush_upto(leo)  # fsyncs only what changed; rewrites the checkpoint if needed
        self._purge_deleted(None)
        for seg in self._segments:
            seg.close()

    def delete(self) -> None:
        """Close without flushing and remove the directory: it is first renamed to
        ``<name>.<uuid hex>-delete`` so that a crash midway is finished at the next start
        (:class:`~riverhead.log.manager.LogManager` removes such dirs)."""
        with self._lock:
            self._closed = True
            for seg in self._segments:
                seg.close()
        target = self.directory.with_name(f"{self.directory.name}.{uuid.uuid4().hex}-delete")
        try:
            self.directory.replace(target)
        except FileNotFoundError:
            return
        shutil.rmtree(target, ignore_errors=True)

    def __repr__(self) -> str:
        return (
            f"PartitionLog({self.directory.name}, start={self._log_start}, end={self._leo}, "
            f"segments={len(self._segments)})"
        )


def _base_offset(segment: LogSegment) -> int:
    return segment.base_offset


def fsync_dir(path: Path) -> None:
    """fsync a directory so renames and new files in it survive a power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
