"""Open files: one fd per partition, a bounded LRU for rolled segments, slices that
outlive eviction and deletion."""

from __future__ import annotations

import contextlib
import gc
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from riverhead.log import LogConfig, LogManager, OffsetOutOfRange, PartitionLog, files
from riverhead.protocol.batch import iter_batches, valid_prefix

from .batches import batch_of_size
from .conftest import FakeClock
from .test_partition import read_all

pytestmark = pytest.mark.unit

Opener = Callable[..., PartitionLog]
ROLLING = LogConfig(segment_bytes=1000, index_interval_bytes=100)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def fd_targets() -> list[str]:
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return targets


@pytest.fixture
def lru() -> Iterator[Callable[[int], None]]:
    """Set the open-segment-files bound for one test; restores it and empties the caches."""
    old = files.SEGMENT_FILES.capacity
    files.SEGMENT_FILES.clear()

    def _set(capacity: int) -> None:
        files.configure(open_segment_files=capacity)

    yield _set
    files.configure(open_segment_files=old)
    files.SEGMENT_FILES.clear()
    files.INDEX_BYTES.clear()


def wait_for_background_flushes(logs: list[PartitionLog]) -> None:
    for log in logs:
        flusher = log._flusher
        if flusher is not None:
            flusher.join()


def fill(log: PartitionLog, batches: int) -> None:
    for i in range(batches):
        log.append(batch_of_size(1 + i % 2, 150), leader_epoch=0)


def test_one_fd_per_partition_and_a_bounded_lru(
    tmp_path: Path, clock: FakeClock, lru: Callable[[int], None]
) -> None:
    lru(50)
    gc.collect()
    before = open_fds()
    manager = LogManager([tmp_path], ROLLING, now_ms=clock)
    logs = [manager.create("many", p, ROLLING) for p in range(200)]
    for log in logs:
        fill(log, 16)  # 4 segments each
    assert all(log.segment_count >= 3 for log in logs)
    wait_for_background_flushes(logs)  # they open short-lived fds (fsync of indexes, dir)
    gc.collect()
    assert open_fds() - before <= 200 + 50
    for log in logs:  # read every rolled segment once: the LRU bounds the extra fds
        assert read_all(log) == list(range(log.log_end_offset))
    gc.collect()
    held = open_fds() - before
    assert held <= 200 + 50
    assert len(files.SEGMENT_FILES) <= 50
    # no index file is ever held open
    assert not [t for t in fd_targets() if t.endswith((".index", ".timeindex"))]
    manager.shutdown()
    gc.collect()
    assert open_fds() <= before
    # after a clean restart: one fd per partition, rolled segments hold none
    manager = LogManager([tmp_path], ROLLING, now_ms=clock)
    gc.collect()
    assert open_fds() - before == 200 and len(files.SEGMENT_FILES) == 0
    logs_dir = [t for t in fd_targets() if t.startswith(str(tmp_path))]
    assert len(logs_dir) == 200 and all(t.endswith(".log") for t in logs_dir)
    manager.shutdown()


def test_reads_from_rolled_segments_after_eviction(
    open_log: Opener, lru: Callable[[int], None]
) -> None:
    lru(1)
    log = open_log(ROLLING)
    fill(log, 30)
    assert log.segment_count >= 5
    for _ in range(2):  # every rolled segment's fd is evicted by the next one's
        assert read_all(log) == list(range(log.log_end_offset))
    assert len(files.SEGMENT_FILES) == 1
    assert files.SEGMENT_FILES.evictions >= log.segment_count
    assert log.offset_for_timestamp(1000) == (0, 1000)  # time index of a rolled segment


def test_slice_keeps_its_fd_through_eviction_and_deletion(
    open_log: Opener, lru: Callable[[int], None]
) -> None:
    lru(1)
    log = open_log(LogConfig(segment_bytes=1000, index_interval_bytes=100, file_delete_delay_ms=0))
    fill(log, 30)
    oldest = log.segments[0]
    first = log.read(0, 10_000)
    assert first is not None
    expected = first.read()
    read_all(log)  # evicts the first segment's fd from the LRU
    assert oldest not in files.SEGMENT_FILES
    log.delete_records_before(log.segments[2].base_offset)  # renames and unlinks it
    assert not oldest.log_path.exists() and log.segments[0] is not oldest
    gc.collect()
    assert os.pread(first.fd, first.size, first.position) == expected
    fd = first.fd
    target = os.readlink(f"/proc/self/fd/{fd}")
    assert target.endswith(".log.deleted (deleted)")
    del first
    gc.collect()
    with contextlib.suppress(FileNotFoundError):  # closed with the last reference ...
        assert os.readlink(f"/proc/self/fd/{fd}") != target  # ... or the number reused


def test_stale_reader_of_a_deleted_segment(open_log: Opener, lru: Callable[[int], None]) -> None:
    """A reader holding a segment that retention renamed keeps reading it (its fd may have
    been evicted); once the files are unlinked, PartitionLog.read retries with the current
    segments and reports the moved log start."""
    lru(1)
    log = open_log(LogConfig(segment_bytes=1000, index_interval_bytes=100))
    fill(log, 30)
    stale = log.segments[0]
    files.SEGMENT_FILES.clear()
    files.INDEX_BYTES.clear()
    log.delete_records_before(log.segments[1].base_offset)  # file.delete.delay.ms: renamed
    assert stale.log_path.with_name(stale.log_path.name + ".deleted").exists()
    found = stale.read_slice(0, 10_000, stale.next_offset, True)
    assert found is not None and found[1] > 0


def test_readers_race_eviction_roll_and_retention(
    open_log: Opener, lru: Callable[[int], None]
) -> None:
    """Lock-free readers of rolled segments while other readers evict their fds, the
    appender rolls and retention deletes: every read returns whole, valid batches."""
    lru(2)
    files.configure(index_cache_bytes=64)  # index bytes evicted all the time too
    config = LogConfig(
        segment_bytes=600, index_interval_bytes=64, retention_bytes=12_000, file_delete_delay_ms=0
    )
    log = open_log(config)
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                start, end = log.log_start_offset, log.log_end_offset
                if end <= start:
                    continue
                offset = rng.randrange(start, end)
                try:
                    piece = log.read(offset, 300)
                except OffsetOutOfRange:
                    continue
                if piece is None:
                    continue
                data = piece.read()
                valid, count, reason = valid_prefix(data)
                assert valid == len(data) and count > 0, reason
                *_, (_, last) = iter_batches(data)
                assert last.last_offset >= offset
                time.sleep(0.0001)  # let the appender have the GIL
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(600):
            log.append(batch_of_size(1 + i % 3, 40 + i % 90), leader_epoch=0)
            if i % 50 == 0:
                log.apply_retention(0)
    finally:
        stop.set()
        for t in threads:
            t.join()
        files.configure(index_cache_bytes=files.DEFAULT_INDEX_CACHE_BYTES)
    assert not errors, errors[0]
    assert files.SEGMENT_FILES.evictions > 0 and files.INDEX_BYTES.evictions > 0
