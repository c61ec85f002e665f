"""Recovery: torn, corrupt or garbage tails, lost indexes, the clean-shutdown fast path."""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from riverhead.log import LogConfig, PartitionLog
from riverhead.log.segment import LogSegment

from .batches import batch_of_size
from .conftest import crash
from .test_partition import read_all

pytestmark = pytest.mark.unit

Opener = Callable[..., PartitionLog]
CONFIG = LogConfig(segment_bytes=2000, index_interval_bytes=100)


def fill(log: PartitionLog, batches: int = 40) -> list[int]:
    """Append batches of 1-3 records; returns each batch's size."""
    sizes = []
    for i in range(batches):
        batch = batch_of_size(1 + i % 3, 30 + i % 17)
        sizes.append(len(batch))
        log.append(batch, leader_epoch=0)
    return sizes


def index_entries(seg: LogSegment) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    return (
        [seg.offset_index.entry(i) for i in range(seg.offset_index.entries)],
        [seg.time_index.entry(i) for i in range(seg.time_index.entries)],
    )


def active_log_file(log: PartitionLog) -> Path:
    return log.segments[-1].log_path


def test_garbage_tail_is_truncated(open_log: Opener, caplog: pytest.LogCaptureFixture) -> None:
    log = open_log(CONFIG)
    fill(log)
    leo, path = log.log_end_offset, active_log_file(log)
    good_size = path.stat().st_size
    crash(log)
    with path.open("ab") as f:
        f.write(b"\x00garbage" * 10)
    with caplog.at_level(logging.WARNING, logger="riverhead.log"):
        log = open_log(CONFIG)
    assert log.recovered_bytes_truncated == 80
    assert path.stat().st_size == good_size
    assert log.log_end_offset == leo
    assert read_all(log) == list(range(leo))
    assert log.append(batch_of_size(1, 5), leader_epoch=0).base_offset == leo
    [record] = [r for r in caplog.records if "truncated" in r.getMessage()]
    message = record.getMessage()
    assert path.name in message and f"byte position {good_size}" in message
    assert "80 bytes" in message


def test_torn_last_batch_is_truncated(open_log: Opener) -> None:
    log = open_log(CONFIG)
    sizes = fill(log)
    leo, path = log.log_end_offset, active_log_file(log)
    size = path.stat().st_size
    crash(log)
    with path.open("r+b") as f:
        f.truncate(size - sizes[-1] // 2)
    log = open_log(CONFIG)
    assert log.recovered_bytes_truncated == sizes[-1] - sizes[-1] // 2
    assert path.stat().st_size == size - sizes[-1]
    lost = 1 + 39 % 3
    assert log.log_end_offset == leo - lost
    assert read_all(log) == list(range(leo - lost))
    assert log.append(batch_of_size(1, 5), leader_epoch=0).base_offset == leo - lost


def test_flipped_byte_drops_the_batch(open_log: Opener) -> None:
    log = open_log(CONFIG)
    sizes = fill(log)
    leo, path = log.log_end_offset, active_log_file(log)
    size = path.stat().st_size
    crash(log)
    with path.open("r+b") as f:
        f.seek(size - 3)  # inside the last batch's records, covered by the CRC
        byte = f.read(1)
        f.seek(size - 3)
        f.write(bytes([byte[0] ^ 0xFF]))
    log = open_log(CONFIG)
    assert log.recovered_bytes_truncated == sizes[-1]
    assert read_all(log) == list(range(leo - 1 - 39 % 3))


def test_corrupt_closed_segment_drops_later_segments(open_log: Opener) -> None:
    log = open_log(CONFIG)
    fill(log, 120)
    log.flush()  # every closed segment is now trusted (below the recovery point)
    assert log.segment_count >= 3
    victim = log.segments[-3]
    victim_end = victim.next_offset
    crash(log)
    with victim.log_path.open("r+b") as f:
        f.seek(-2, 2)
        f.write(b"\xff\xff")
    log = open_log(CONFIG)
    assert log.segments[-1].base_offset == victim.base_offset
    assert log.log_end_offset < victim_end
    assert read_all(log) == list(range(log.log_end_offset))
    assert not list(log.directory.glob("*.deleted"))


def test_missing_indexes_are_rebuilt(open_log: Opener) -> None:
    log = open_log(CONFIG)
    fill(log, 120)
    log.close()
    log = open_log(CONFIG, recover=False)
    before = [index_entries(seg) for seg in log.segments]
    leo = log.log_end_offset
    log.close()
    for path in list(log.directory.glob("*.index"))[:2] + list(log.directory.glob("*.timeindex")):
        path.unlink()
    log = open_log(CONFIG, recover=False)
    assert log.log_end_offset == leo
    assert log.recovered_bytes_truncated == 0
    # rebuilt entries are identical; the final max-timestamp entry written on roll may be
    # absent from a rebuilt time index, so compare offset indexes exactly
    after = [index_entries(seg) for seg in log.segments]
    assert [a[0] for a in after] == [b[0] for b in before]
    assert read_all(log) == list(range(leo))
    assert log.offset_for_timestamp(1000) == (0, 1000)


def test_corrupt_index_is_rebuilt(open_log: Opener, caplog: pytest.LogCaptureFixture) -> None:
    log = open_log(CONFIG)
    fill(log, 60)
    log.close()
    index = log.segments[0].offset_index.path
    with index.open("ab") as f:
        f.write(b"\x00\x00\x00")  # not a multiple of 8 bytes
    with caplog.at_level(logging.WARNING, logger="riverhead.log"):
        log = open_log(CONFIG, recover=False)
    assert any("rebuilding indexes" in r.getMessage() for r in caplog.records)
    assert index.stat().st_size % 8 == 0
    assert read_all(log) == list(range(log.log_end_offset))


def test_unclean_active_segment_index_is_rebuilt(open_log: Opener) -> None:
    log = open_log(LogConfig(index_interval_bytes=50))
    fill(log, 30)
    before = index_entries(log.segments[-1])
    assert before[0]
    crash(log)  # the active segment's entries were only in memory
    assert not log.segments[-1].offset_index.path.exists()
    log = open_log(LogConfig(index_interval_bytes=50))
    assert index_entries(log.segments[-1]) == before
    assert log.recovered_bytes_truncated == 0


def test_stale_active_index_is_rebuilt_after_crash(open_log: Opener) -> None:
    config = LogConfig(index_interval_bytes=50)
    log = open_log(config)
    fill(log, 20)
    log.close()  # the index file now holds the entries of these 20 batches
    log = open_log(config, recover=False)
    fill(log, 20)
    before = index_entries(log.segments[-1])
    path = log.segments[-1].offset_index.path
    stale = path.stat().st_size
    assert 0 < stale < len(before[0]) * 8
    crash(log)
    assert path.stat().st_size == stale  # appends since the last close never reached it
    log = open_log(config)
    assert index_entries(log.segments[-1]) == before
    assert read_all(log) == list(range(log.log_end_offset))
    log.close()
    assert path.stat().st_size == len(before[0]) * 8


def test_index_persisted_on_roll_and_close(open_log: Opener) -> None:
    log = open_log(CONFIG)
    fill(log, 120)
    assert log.segment_count >= 3
    for seg in log.segments[:-1]:  # rolled: written exactly, Kafka's format
        entries = index_entries(seg)
        assert seg.offset_index.path.read_bytes() == b"".join(
            struct.pack(">ii", *e) for e in entries[0]
        )
        assert seg.time_index.path.read_bytes() == b"".join(
            struct.pack(">qi", *e) for e in entries[1]
        )
    active = log.segments[-1]
    log.close()
    entries = index_entries(active)
    assert active.offset_index.path.stat().st_size == len(entries[0]) * 8 > 0
    assert active.time_index.path.stat().st_size == len(entries[1]) * 12 > 0


def test_clean_start_skips_recovery_but_checks_tail(open_log: Opener) -> None:
    log = open_log(CONFIG)
    fill(log)
    leo = log.log_end_offset
    log.close()
    assert log.segments[-1].offset_index.path.stat().st_size % 8 == 0
    log = open_log(CONFIG, recover=False)
    assert log.log_end_offset == leo and log.recovered_bytes_truncated == 0
    path = active_log_file(log)
    log.close()
    with path.open("ab") as f:
        f.write(b"torn")
    log = open_log(CONFIG, recover=False)  # the cheap tail check notices
    assert log.recovered_bytes_truncated == 4 and log.log_end_offset == leo


def test_offsets_not_reused_after_roll_and_crash(open_log: Opener) -> None:
    log = open_log(LogConfig(segment_bytes=100))
    log.append(batch_of_size(1, 80), leader_epoch=0)
    log.append(batch_of_size(1, 80), leader_epoch=0)
    log.delete_records_before(2)  # rolls to an empty segment at 2, deletes the rest
    crash(log)
    log = open_log(LogConfig(segment_bytes=100))
    assert (log.log_start_offset, log.log_end_offset) == (2, 2)
    assert log.append(batch_of_size(1, 5), leader_epoch=0).base_offset == 2


def test_unflushed_closed_segments_are_recovered(open_log: Opener) -> None:
    log = open_log(CONFIG)
    fill(log, 80)
    leo = log.log_end_offset
    crash(log)  # the recovery point may lag: those segments get a full recovery
    (log.directory / "log-state.checkpoint").unlink(missing_ok=True)  # flusher may not have run
    log = open_log(CONFIG)
    assert log.log_end_offset == leo
    assert read_all(log) == list(range(leo))


def test_recovered_closed_segments_get_trimmed_indexes(open_log: Opener) -> None:
    log = open_log(CONFIG)
    fill(log, 80)
    crash(log)
    (log.directory / "log-state.checkpoint").unlink(missing_ok=True)  # flusher may not have run
    log = open_log(CONFIG)
    for seg in log.segments[:-1]:
        assert seg.offset_index.path.stat().st_size == seg.offset_index.entries * 8
        assert seg.time_index.path.stat().st_size == seg.time_index.entries * 12
