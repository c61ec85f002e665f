"""Log compaction (Kafka's log cleaner): keep only the latest record of every key.

For a partition whose ``cleanup.policy`` contains ``compact``, :func:`clean` rewrites the
**closed** segments (never the active one) so that, for each key, only the record with
the highest offset in the log up to the cleanable end survives. See
``docs/log-format.md``, "Compaction", for the rules; in short:

* **Sections.** ``[log start, first dirty)`` was cleaned before ("clean"), ``[first
  dirty, cleanable end)`` was not ("dirty"). The cleanable end is the base offset of the
  first segment that is the active one, reaches past the high watermark, or holds a
  record younger than ``min.compaction.lag.ms``. A pass runs when ``dirty bytes / (clean +
  dirty bytes) >= min.cleanable.dirty.ratio`` (or always through :func:`clean` with
  ``force``).
* **Offset map.** A pass first maps ``blake2b-128(key) -> latest offset`` over the dirty
  section (Kafka's ``OffsetMap``; memory bounded by ``max_keys``: the map stops growing at
  the first segment boundary after it is full, and the pass cleans only up to there).
* **Rewrite.** Every closed segment below that end is then rewritten, oldest first,
  keeping a record unless its key maps to a higher offset, it has no key, or it is a
  tombstone (null value) in a segment whose largest timestamp is more than
  ``delete.retention.ms`` old. Survivors keep their offsets, timestamps, headers and
  bytes; a batch that lost records is re-encoded with the same base offset,
  ``lastOffsetDelta``, producer id/epoch/base sequence, leader epoch, attributes and
  codec, its records keeping their original offset deltas (so it has gaps). A batch that
  lost no record is copied byte for byte. A batch that lost all its records is dropped,
  unless it is the last batch of its producer in the log: then an empty batch (no
  records, same header fields, codec bits cleared) keeps the producer's state.
  Control batches (transaction markers) are kept as they are.
* **Swap**, per segment, crash-safe (Kafka's ``.cleaned``/``.swap`` protocol): the new
  files are written as ``<base>.log.cleaned`` (+ ``.index.cleaned``,
  ``.timeindex.cleaned``) and fsynced; then, under the partition lock, renamed to
  ``*.swap`` (the ``.log.swap`` rename last: it is the commit point; directory fsynced);
  the old segment's files are renamed ``*.deleted`` (readers holding it keep reading
  them; unlinked after ``file.delete.delay.ms``), the ``*.swap`` files get their final
  names and the new segment replaces the old one in the published segment list. A
  segment left empty is simply deleted (unless it is the first: its empty file keeps
  the log start). :func:`recover_leftovers`, run when a partition is loaded, deletes
  ``*.cleaned`` files and completes any ``*.swap``.
* **Checkpoint.** The first dirty offset is kept in ``cleaner-offset.checkpoint`` in the
  partition directory (``version 1`` / ``first_dirty_offset N``; tmp, fsync, rename).

Offsets only ever disappear, never change, so a reader racing a pass sees either the old
or the new segment, each consistent; a fetch at a removed offset gets the next surviving
batch (the segment read skips to the first batch whose last offset is >= the target).

Simplifications against Kafka: segments are not grouped (one cleaned segment per
segment); aborted transactional records are not removed; tombstones expire by their
segment's largest timestamp (the retention clock) instead of a delete horizon stamped by
the first cleaning that saw them.

Thread-safety: one pass per partition at a time (a per-log lock; a second caller waits).
Reading happens without the partition lock; only the swap of each segment takes it, and
it is skipped if the segment was deleted, truncated or became active meanwhile. This
module reaches into :class:`~riverhead.log.partition.PartitionLog` internals (its lock,
segment list and deletion) on purpose: it is the partition's cleaner, kept apart to keep
``partition.py`` small.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from riverhead.log.files import SEGMENT_FILES, read_file
from riverhead.log.index import OffsetIndex, TimeIndex
from riverhead.log.segment import LogSegment, segment_name
from riverhead.protocol.batch import (
    _HEADER,
    ATTR_COMPRESSION_MASK,
    ATTR_TRANSACTIONAL,
    HEADER_SIZE,
    LOG_OVERHEAD,
    BatchHeader,
    CorruptBatchError,
    compute_crc,
    read_header,
)
from riverhead.protocol.compression import Codec
from riverhead.protocol.records import Record, decode_batch, encode_batch

if TYPE_CHECKING:
    from riverhead.log.partition import PartitionLog

logger = logging.getLogger("riverhead.log.cleaner")

CHECKPOINT_FILE = "cleaner-offset.checkpoint"
DEFAULT_MAX_KEYS = 1 << 20  # ~120 MiB of Python dict at most per pass
_READ_CHUNK = 1 << 20
_INDEX_SUFFIXES = ("index", "timeindex")


@dataclass
class CleanResult:
    """What one pass did (all zero when nothing was cleanable or the ratio was too low)."""

    segments_rewritten: int = 0
    segments_deleted: int = 0  # left empty by the pass
    bytes_read: int = 0
    bytes_written: int = 0
    records_read: int = 0
    records_kept: int = 0
    first_dirty_offset: int = 0  # after the pass
    seconds: float = 0.0


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.first_dirty: int | None = None  # None: not read from the checkpoint yet


_STATES: weakref.WeakKeyDictionary[PartitionLog, _State] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def _state(log: PartitionLog) -> _State:
    with _STATES_LOCK:
        state = _STATES.get(log)
        if state is None:
            state = _STATES[log] = _State()
        return state


def _digest(key: bytes) -> bytes:
    return hashlib.blake2b(key, digest_size=16).digest()


# -- checkpoint ----------------------------------------------------------------------------


def read_first_dirty(directory: os.PathLike[str] | str) -> int:
    """The checkpointed first dirty offset of a partition directory (0 if none/unreadable)."""
    path = os.path.join(directory, CHECKPOINT_FILE)
    data = read_file(path)
    if data is None:
        return 0
    try:
        values = dict(line.split() for line in data.decode().splitlines() if line.strip())
        if values.get("version") != "1":
            raise ValueError(f"unknown version {values.get('version')!r}")
        return int(values["first_dirty_offset"])
    except (ValueError, KeyError) as exc:
        logger.warning("%s: ignoring unreadable cleaner checkpoint: %s", path, exc)
        return 0


def _write_first_dirty(directory: os.PathLike[str] | str, offset: int) -> None:
    path = os.path.join(directory, CHECKPOINT_FILE)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, f"version 1\nfirst_dirty_offset {offset}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(directory)


def _fsync_dir(directory: os.PathLike[str] | str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- recovery ------------------------------------------------------------------------------


def recover_leftovers(directory: os.PathLike[str] | str, names: list[str]) -> list[str]:
    """Finish or undo a pass a crash interrupted, before a partition is loaded.

    ``names`` is the directory listing; returns it updated. ``*.cleaned`` files (the
    swap was never committed) are deleted; a ``<base>.log.swap`` (committed) replaces
    ``<base>.log``, and its index ``.swap`` files the indexes (an index without a
    ``.swap`` is deleted, so loading rebuilds it); index ``.swap`` files without a
    ``.log.swap`` are deleted. Cheap when there is nothing to do (no I/O).
    """
    if not any(n.endswith((".cleaned", ".swap")) or n == CHECKPOINT_FILE + ".tmp" for n in names):
        return names
    for name in names:
        if name.endswith(".cleaned") or name == CHECKPOINT_FILE + ".tmp":
            os.unlink(os.path.join(directory, name))
    committed = {n[: -len(".log.swap")] for n in names if n.endswith(".log.swap")}
    for stem in sorted(committed):
        for suffix in _INDEX_SUFFIXES:
            final = os.path.join(directory, f"{stem}.{suffix}")
            try:
                os.replace(final + ".swap", final)
            except FileNotFoundError:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(final)
        os.replace(
            os.path.join(directory, f"{stem}.log.swap"), os.path.join(directory, f"{stem}.log")
        )
        logger.warning("%s: completed the swap of cleaned segment %s", directory, stem)
    for name in names:
        stem = name.partition(".")[0]
        if name.endswith(".swap") and stem not in committed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, name))
    _fsync_dir(directory)
    return os.listdir(directory)


# -- scheduling ----------------------------------------------------------------------------


def _cleanable(log: PartitionLog, now_ms: int) -> list[tuple[LogSegment, int]]:
    """``(segment, upper bound)`` of the closed segments below the cleanable end, oldest
    first; the upper bound is the next segment's base offset."""
    segments = log.segments
    lag = log.config.min_compaction_lag_ms
    hw = log.high_watermark
    out: list[tuple[LogSegment, int]] = []
    for seg, nxt in itertools.pairwise(segments):
        if nxt.base_offset > hw:
            break
        if lag > 0 and seg.size and seg.largest_timestamp() > now_ms - lag:
            break
        out.append((seg, nxt.base_offset))
    return out


def _first_dirty(log: PartitionLog, state: _State) -> int:
    if state.first_dirty is None:
        state.first_dirty = read_first_dirty(log.directory)
    return max(state.first_dirty, log.log_start_offset)


def dirty_ratio(log: PartitionLog, now_ms: int) -> float:
    """Bytes of cleanable segments not cleaned yet / bytes of all cleanable segments."""
    closed = _cleanable(log, now_ms)
    total = sum(seg.size for seg, _ in closed)
    if not total:
        return 0.0
    first_dirty = _first_dirty(log, _state(log))
    return sum(seg.size for seg, upper in closed if upper > first_dirty) / total


# -- the pass ------------------------------------------------------------------------------


def clean(
    log: PartitionLog, now_ms: int, *, force: bool = True, max_keys: int = DEFAULT_MAX_KEYS
) -> CleanResult:
    """One cleaning pass over ``log`` (see the module docstring).

    ``force=False`` (the background scheduler) skips the pass unless the dirty ratio is
    at least ``min.cleanable.dirty.ratio``. Raises RuntimeError if the log is closed,
    :class:`CorruptBatchError` (a ValueError) for a corrupt batch (nothing is swapped
    for that segment), OSError for I/O errors.
    """
    state = _state(log)
    with state.lock:
        log._check_open()
        started = time.perf_counter()
        result = CleanResult()
        first_dirty = _first_dirty(log, state)
        result.first_dirty_offset = first_dirty
        closed = _cleanable(log, now_ms)
        total = sum(seg.size for seg, _ in closed)
        dirty = sum(seg.size for seg, upper in closed if upper > first_dirty)
        # force: also a pass over clean segments only (tombstones may have expired)
        ratio = dirty / total if total else 0.0
        if not total or (not force and (not dirty or ratio < log.config.min_cleanable_dirty_ratio)):
            return result
        try:
            offset_map, end = _build_map(closed, first_dirty, max_keys, result)
            last_batches = _last_batch_of_producers(log, closed[0][0].base_offset)
            for seg, upper in closed:
                if upper > end:
                    break
                _clean_segment(log, seg, offset_map, last_batches, now_ms, result)
        except FileNotFoundError:
            if log._closed:  # deleted meanwhile: nothing to keep
                return result
            raise
        state.first_dirty = end
        _write_first_dirty(log.directory, end)
        result.first_dirty_offset = end
        result.seconds = time.perf_counter() - started
        logger.info(
            "%s: cleaned %d segments (%d deleted) up to offset %d: %d of %d records kept, "
            "%d -> %d bytes in %.3f s",
            log.directory.name,
            result.segments_rewritten,
            result.segments_deleted,
            end,
            result.records_kept,
            result.records_read,
            result.bytes_read,
            result.bytes_written,
            result.seconds,
        )
        return result


def _build_map(
    closed: list[tuple[LogSegment, int]], first_dirty: int, max_keys: int, result: CleanResult
) -> tuple[dict[bytes, int], int]:
    """Map key digest -> latest offset over the dirty segments; returns the map and the
    end of the mapped range (a segment boundary)."""
    offset_map: dict[bytes, int] = {}
    end = closed[-1][1]
    for seg, upper in closed:
        if upper <= first_dirty:
            continue
        if len(offset_map) >= max_keys:
            end = seg.base_offset
            break
        for _, header, batch in _batches(seg):
            if header.is_control or header.next_offset <= first_dirty:
                continue
            for record in decode_batch(batch)[1]:
                if record.key is not None and record.offset >= first_dirty:
                    offset_map[_digest(record.key)] = record.offset
    return offset_map, end


def _last_batch_of_producers(log: PartitionLog, start: int) -> dict[int, int]:
    """producer id -> base offset of its last batch in the log (from ``start`` on)."""
    last: dict[int, int] = {}
    for header in log.iter_batch_headers(start):
        if header.producer_id >= 0:
            last[header.producer_id] = header.base_offset
    return last


def _batches(seg: LogSegment) -> Iterator[tuple[int, BatchHeader, memoryview]]:
    """``(position, header, batch bytes)`` of every batch of a closed segment, read in
    chunks of ~1 MiB. Raises CorruptBatchError for a truncated batch."""
    end, pos = seg.size, 0
    while pos < end:
        chunk = memoryview(seg.read_batch(pos, min(_READ_CHUNK, end - pos)))
        off = 0
        while len(chunk) - off >= HEADER_SIZE:
            header = read_header(chunk, off)
            if off + header.size > len(chunk):
                break
            yield pos + off, header, chunk[off : off + header.size]
            off += header.size
        if off == 0:  # one batch larger than a chunk
            if len(chunk) < HEADER_SIZE:
                raise CorruptBatchError(f"{seg.log_path}: truncated batch at byte {pos}")
            header = read_header(chunk)
            whole = memoryview(seg.read_batch(pos, header.size))
            if len(whole) < header.size:
                raise CorruptBatchError(f"{seg.log_path}: truncated batch at byte {pos}")
            yield pos, header, whole
            off = header.size
        pos += off


def _empty_batch(header: BatchHeader) -> bytes:
    """``header``'s batch without records (keeps a producer's last sequence in the log)."""
    out = bytearray(HEADER_SIZE)
    _HEADER.pack_into(
        out,
        0,
        header.base_offset,
        HEADER_SIZE - LOG_OVERHEAD,
        header.partition_leader_epoch,
        header.magic,
        0,
        header.attributes & ~ATTR_COMPRESSION_MASK,
        header.last_offset_delta,
        header.base_timestamp,
        header.max_timestamp,
        header.producer_id,
        header.producer_epoch,
        header.base_sequence,
        0,
    )
    out[17:21] = compute_crc(out, 0, len(out)).to_bytes(4, "big")
    return bytes(out)


def _rebuild(header: BatchHeader, kept: list[Record]) -> bytes:
    """The batch re-encoded with only ``kept``, at their original offsets."""
    base = header.base_offset
    return encode_batch(
        kept,
        base_offset=base,
        compression=Codec(header.compression),
        log_append_time=header.log_append_time,
        producer_id=header.producer_id,
        producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence,
        partition_leader_epoch=header.partition_leader_epoch,
        transactional=bool(header.attributes & ATTR_TRANSACTIONAL),
        offset_deltas=[r.offset - base for r in kept],
        last_offset_delta=header.last_offset_delta,
    )


def _clean_segment(
    log: PartitionLog,
    seg: LogSegment,
    offset_map: dict[bytes, int],
    last_batches: dict[int, int],
    now_ms: int,
    result: CleanResult,
) -> None:
    """Write the cleaned copy of ``seg`` and swap it in (if anything changed)."""
    prefix = os.path.join(log.directory, segment_name(seg.base_offset))
    cleaned = prefix + ".log.cleaned"
    drop_tombstones = seg.largest_timestamp() + log.config.delete_retention_ms < now_ms
    changed = False
    written: list[tuple[int, int, int, int]] = []  # (position, size, last offset, max ts)
    position = 0
    try:
        with open(cleaned, "wb", buffering=_READ_CHUNK) as out:
            for _, header, batch in _batches(seg):
                result.bytes_read += header.size
                if header.is_control:
                    data: bytes | memoryview = batch
                else:
                    records = decode_batch(batch)[1]
                    kept = []
                    for r in records:
                        if r.key is None:
                            continue
                        latest = offset_map.get(_digest(r.key))
                        if latest is not None and latest > r.offset:
                            continue
                        if r.value is None and drop_tombstones:
                            continue
                        kept.append(r)
                    result.records_read += len(records)
                    result.records_kept += len(kept)
                    if len(kept) == len(records):
                        data = batch
                    else:
                        changed = True
                        if kept:
                            data = _rebuild(header, kept)
                        elif (
                            header.producer_id >= 0
                            and last_batches.get(header.producer_id) == header.base_offset
                        ):
                            data = _empty_batch(header)
                        else:
                            continue
                out.write(data)
                size = len(data)
                max_ts = header.max_timestamp if data is batch else read_header(data).max_timestamp
                written.append((position, size, header.last_offset, max_ts))
                position += size
            if not changed:
                return
            out.flush()
            os.fsync(out.fileno())
        _write_indexes(log, seg.base_offset, prefix, written)
        result.bytes_written += position
        _swap(log, seg, prefix, empty=not written, result=result)
    finally:
        for path in (cleaned, prefix + ".index.cleaned", prefix + ".timeindex.cleaned"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _write_indexes(
    log: PartitionLog, base: int, prefix: str, batches: list[tuple[int, int, int, int]]
) -> None:
    """Build ``.index.cleaned``/``.timeindex.cleaned`` as appends would have built them
    (the rules of ``LogSegment._reindex`` plus the final time-index entry of a roll)."""
    cfg = log.config
    oi = OffsetIndex(prefix + ".index.cleaned", base, cfg.segment_index_bytes, active=True)
    ti = TimeIndex(prefix + ".timeindex.cleaned", base, cfg.segment_index_bytes, active=True)
    since, max_ts, max_ts_offset = 0, -1, -1
    for pos, size, last_offset, ts in batches:
        if ts > max_ts:
            max_ts, max_ts_offset = ts, last_offset
        if since > cfg.index_interval_bytes:
            if not oi.is_full:
                oi.append(last_offset, pos)
            ti.maybe_append(max_ts, max_ts_offset)
            since = 0
        since += size
    if max_ts_offset >= 0:
        ti.maybe_append(max_ts, max_ts_offset, skip_full_check=True)
    for index in (oi, ti):
        index.persist(create_empty=bool(batches))
        index.sync()
        index.close()


def _swap(
    log: PartitionLog, old: LogSegment, prefix: str, *, empty: bool, result: CleanResult
) -> None:
    """Replace ``old`` by its cleaned files under the partition lock (see module doc)."""
    with log._lock:
        segments = list(log.segments)
        where = next((i for i, s in enumerate(segments[:-1]) if s is old), -1)
        if log._closed or where < 0 or old.is_active:
            return  # deleted, truncated or reactivated meanwhile: keep what is there
        if empty and where > 0:
            del segments[where]
            log._publish(segments)
            log._delete_segments([old])
            result.segments_deleted += 1
            return
        swaps = [
            (prefix + f".{suffix}.cleaned", prefix + f".{suffix}.swap", prefix + f".{suffix}")
            for suffix in (*_INDEX_SUFFIXES, "log")  # the .log rename last: the commit point
        ]
        moved = []
        for cleaned, swap, final in swaps:
            if os.path.exists(cleaned):
                os.replace(cleaned, swap)
                moved.append((swap, final))
        _fsync_dir(log.directory)
        retired = old.rename_deleted()  # frees the final names; readers follow the rename
        for swap, final in moved:
            os.replace(swap, final)
        _fsync_dir(log.directory)
        new = log._open_segment(old.base_offset, active=False)
        problem = new.load()
        if problem:
            logger.warning("%s: cleaned segment rebuilt: %s", new.log_path, problem)
            new.recover(0)
            new.make_inactive()
        SEGMENT_FILES.discard(new)
        new.dirty = False
        segments[where] = new
        log._publish(segments)
        # Unlink only now: a lock-free reader that met the old files gone retries with
        # the published list, which must already hold the new segment.
        log._dispose(retired)
        result.segments_rewritten += 1
