"""PartitionLog: append/read, rolls, fetch edges, timestamps, retention, truncation."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from riverhead.log import FileSlice, LogConfig, OffsetOutOfRange, PartitionLog
from riverhead.protocol.batch import crc_ok, iter_batches, read_header, valid_prefix

from .batches import batch_of_size, build_batch
from .conftest import FakeClock

pytestmark = pytest.mark.unit

Opener = Callable[..., PartitionLog]


def headers(data: bytes) -> list[tuple[int, int]]:
    """(base offset, last offset) of each batch in ``data``."""
    return [(h.base_offset, h.last_offset) for _, h in iter_batches(data)]


def read_all(log: PartitionLog, start: int = 0, max_bytes: int = 1 << 20) -> list[int]:
    """Every offset readable from ``start`` by repeated fetches."""
    offsets: list[int] = []
    offset = start
    while True:
        piece = log.read(offset, max_bytes)
        if piece is None:
            return offsets
        data = piece.read()
        assert valid_prefix(data)[0] == len(data)
        for base, last in headers(data):
            offsets.extend(range(base, last + 1))
            offset = last + 1


def test_helper_builds_valid_batches() -> None:
    batch = build_batch([b"a", b"bc", b"def"], keys=[None, b"k", b""])
    end, count, reason = valid_prefix(batch)
    assert (end, count, reason) == (len(batch), 1, "")
    header = read_header(batch)
    assert header.records_count == 3 and header.last_offset_delta == 2


def test_empty_dir_starts_at_zero(open_log: Opener, tmp_path: os.PathLike[str]) -> None:
    log = open_log()
    assert (log.topic, log.partition) == ("topic", 0)
    assert log.log_start_offset == log.log_end_offset == log.high_watermark == 0
    assert log.read(0, 100) is None
    assert log.segment_count == 1
    # no checkpoint yet: a missing one reads as log start 0, so creation skips an fsync;
    # no index files: the active segment's entries are in memory until roll or close,
    # and an empty segment needs none even then
    assert sorted(p.name for p in log.directory.iterdir()) == ["00000000000000000000.log"]
    log.close()
    assert sorted(p.name for p in log.directory.iterdir()) == ["00000000000000000000.log"]


def test_append_assigns_dense_offsets_and_stamps_epoch(open_log: Opener) -> None:
    log = open_log()
    data = build_batch([b"a", b"b", b"c"]) + build_batch([b"d"])
    result = log.append(data, leader_epoch=7)
    assert (result.base_offset, result.last_offset, result.log_append_time) == (0, 3, -1)
    assert result.max_timestamp == 1002
    assert log.log_end_offset == log.high_watermark == 4
    piece = log.read(0, 10_000)
    assert piece is not None
    stored = piece.read()
    assert stored == bytes(data)  # rewritten in place, written as is
    assert [(h.base_offset, h.partition_leader_epoch) for _, h in iter_batches(stored)] == [
        (0, 7),
        (3, 7),
    ]
    assert all(crc_ok(stored, pos, h) for pos, h in iter_batches(stored))
    assert log.append(build_batch([b"e"]), leader_epoch=7).base_offset == 4


def test_round_trip_across_many_rolls(open_log: Opener) -> None:
    log = open_log(LogConfig(segment_bytes=1000, index_interval_bytes=100))
    for i in range(200):
        log.append(batch_of_size(1 + i % 4, 20 + i % 50), leader_epoch=0)
    assert log.segment_count > 20
    total = log.log_end_offset
    assert read_all(log) == list(range(total))
    assert read_all(log, max_bytes=1) == list(range(total))  # one batch per fetch
    for offset in range(0, total, 7):  # any offset, mid-batch included
        piece = log.read(offset, 300)
        assert piece is not None
        first = headers(piece.read())[0]
        assert first[0] <= offset <= first[1]
    names = sorted(p.name for p in log.directory.glob("*.log"))
    assert names[0] == "00000000000000000000.log"
    assert all(int(n[:20]) == seg.base_offset for n, seg in zip(names, log.segments, strict=True))


def test_read_mid_batch_returns_containing_batch(open_log: Opener) -> None:
    log = open_log()
    log.append(build_batch([b"x"] * 5), leader_epoch=0)
    log.append(build_batch([b"y"] * 5), leader_epoch=0)
    piece = log.read(7, 1 << 20)
    assert piece is not None
    assert headers(piece.read()) == [(5, 9)]
    piece = log.read(4, 1 << 20)
    assert piece is not None and headers(piece.read()) == [(0, 4), (5, 9)]


def test_max_bytes_whole_batches_and_kip74(open_log: Opener) -> None:
    log = open_log()
    small = [batch_of_size(1, 50) for _ in range(3)]
    big = batch_of_size(1, 5000)
    sizes = [len(b) for b in small]
    for b in small:
        log.append(b, leader_epoch=0)
    log.append(big, leader_epoch=0)
    piece = log.read(0, sizes[0] + sizes[1] + 10)
    assert piece is not None and piece.size == sizes[0] + sizes[1]
    assert headers(piece.read()) == [(0, 0), (1, 1)]
    # KIP-74: the first batch comes whole even when bigger than max_bytes
    piece = log.read(3, 100)
    assert piece is not None and piece.size == len(big)
    assert log.read(3, 100, min_one_batch=False) is None
    piece = log.read(0, 0)
    assert piece is not None and piece.size == sizes[0]


def test_upper_bound_and_high_watermark(open_log: Opener) -> None:
    log = open_log()
    for _ in range(4):
        log.append(build_batch([b"a", b"b"]), leader_epoch=0)  # offsets 0..7
    piece = log.read(0, 1 << 20, upper_bound=4)
    assert piece is not None and headers(piece.read()) == [(0, 1), (2, 3)]
    assert log.read(4, 1 << 20, upper_bound=4) is None
    assert log.read(2, 1 << 20, upper_bound=3) is None  # the batch straddles the bound
    log.high_watermark_follows_leo = False
    log.high_watermark = 6
    piece = log.read(0, 1 << 20)
    assert piece is not None and headers(piece.read())[-1] == (4, 5)
    log.append(build_batch([b"c"]), leader_epoch=0)
    assert log.high_watermark == 6  # replication owns it now
    piece = log.read(0, 1 << 20, upper_bound=100)  # the bound never passes the end
    assert piece is not None and headers(piece.read())[-1] == (8, 8)


def test_offset_out_of_range(open_log: Opener) -> None:
    log = open_log()
    log.append(build_batch([b"a"] * 3), leader_epoch=0)
    assert log.read(3, 100) is None  # == log end offset
    with pytest.raises(OffsetOutOfRange) as info:
        log.read(4, 100)
    assert (info.value.offset, info.value.log_start_offset, info.value.log_end_offset) == (4, 0, 3)
    log.delete_records_before(2)
    with pytest.raises(OffsetOutOfRange):
        log.read(1, 100)
    piece = log.read(2, 100)
    assert piece is not None and headers(piece.read()) == [(0, 2)]


def test_file_slice_outlives_deleted_segment(open_log: Opener) -> None:
    log = open_log(LogConfig(segment_bytes=200, retention_bytes=0, file_delete_delay_ms=0))
    for _ in range(3):
        log.append(batch_of_size(1, 150), leader_epoch=0)
    piece = log.read(0, 1000)
    assert isinstance(piece, FileSlice) and piece is not None
    expected = piece.read()
    assert log.apply_retention(0) == 3  # the active segment too, as in Kafka
    assert not (log.directory / "00000000000000000000.log").exists()
    assert piece.read() == expected  # the fd stays valid
    assert os.fstat(piece.fd).st_size > 0


def test_log_append_time(open_log: Opener, clock: FakeClock) -> None:
    log = open_log(LogConfig(message_timestamp_type="LogAppendTime"))
    clock.now = 5_000_000
    result = log.append(build_batch([b"a", b"b"], base_timestamp=1), leader_epoch=0)
    assert result.log_append_time == 5_000_000 == result.max_timestamp
    piece = log.read(0, 1000)
    assert piece is not None
    data = piece.read()
    header = read_header(data)
    assert header.log_append_time and header.max_timestamp == 5_000_000
    assert crc_ok(data, 0, header)
    assert log.offset_for_timestamp(4_000_000) == (0, 5_000_000)


def test_offset_for_timestamp(open_log: Opener) -> None:
    log = open_log(LogConfig(segment_bytes=400, index_interval_bytes=50))
    # batch i holds offsets 3i..3i+2 with timestamps 100i, 100i+10, 100i+20
    for i in range(30):
        log.append(
            build_batch([b"v"] * 3, timestamps=[100 * i, 100 * i + 10, 100 * i + 20]),
            leader_epoch=0,
        )
    assert log.segment_count > 3
    assert log.offset_for_timestamp(0) == (0, 0)
    assert log.offset_for_timestamp(-5) == (0, 0)
    assert log.offset_for_timestamp(1005) == (31, 1010)
    assert log.offset_for_timestamp(1010) == (31, 1010)
    assert log.offset_for_timestamp(1021) == (33, 1100)
    assert log.offset_for_timestamp(2920) == (89, 2920)
    assert log.offset_for_timestamp(2921) is None
    assert log.max_timestamp_entry() == (89, 2920)


def test_offset_for_timestamp_out_of_order(open_log: Opener) -> None:
    log = open_log(LogConfig(index_interval_bytes=1))
    log.append(build_batch([b"a", b"b"], timestamps=[500, 100]), leader_epoch=0)
    log.append(build_batch([b"c"], timestamps=[300]), leader_epoch=0)
    log.append(build_batch([b"d"], timestamps=[700]), leader_epoch=0)
    assert log.offset_for_timestamp(200) == (0, 500)
    assert log.offset_for_timestamp(501) == (3, 700)
    assert log.max_timestamp_entry() == (3, 700)
    empty = open_log(name="other-0")
    assert empty.offset_for_timestamp(0) is None and empty.max_timestamp_entry() is None


def test_offset_for_timestamp_skips_records_below_log_start(open_log: Opener) -> None:
    # As Apache Kafka (found by tests/interop/test_list_offsets.py): a deleted record that
    # matches is not the answer (it used to be, clamped to the log start offset).
    log = open_log(LogConfig(index_interval_bytes=1))
    log.append(build_batch([b"a", b"b", b"c", b"d"], timestamps=[0, 3000, 1000, 2000]),
               leader_epoch=0)
    log.append(build_batch([b"e"], timestamps=[4000]), leader_epoch=0)
    assert log.offset_for_timestamp(1500) == (1, 3000)
    log.delete_records_before(2)
    assert log.offset_for_timestamp(1500) == (3, 2000)
    assert log.offset_for_timestamp(500) == (2, 1000)
    log.delete_records_before(4)
    assert log.offset_for_timestamp(1500) == (4, 4000)


def test_max_timestamp_entry_exact_record(open_log: Opener) -> None:
    log = open_log()
    log.append(build_batch([b"a", b"b", b"c"], timestamps=[10, 90, 20]), leader_epoch=0)
    log.append(build_batch([b"d"], timestamps=[50]), leader_epoch=0)
    assert log.max_timestamp_entry() == (1, 90)


def test_retention_by_time(open_log: Opener, clock: FakeClock) -> None:
    log = open_log(LogConfig(segment_bytes=300, retention_ms=1000, file_delete_delay_ms=0))
    for i in range(10):
        log.append(batch_of_size(1, 200, base_timestamp=i * 1000), leader_epoch=0)
    assert log.segment_count == 10
    assert log.apply_retention(5000) == 4  # max timestamps 0..3000 are older than 5000-1000
    assert log.log_start_offset == 4
    assert log.segment_count == 6
    with pytest.raises(OffsetOutOfRange):
        log.read(3, 100)
    assert read_all(log, 4) == list(range(4, 10))
    assert log.apply_retention(5000) == 0
    # The active segment expires too, as in Kafka (found by tests/interop/test_retention.py;
    # it used to be kept): it is rolled, and the log restarts empty at its end.
    assert log.apply_retention(10**9) == 6
    assert log.log_start_offset == 10 and log.log_end_offset == 10
    assert len(list(log.directory.glob("*.log"))) == 1
    assert log.apply_retention(10**9) == 0  # an empty active segment stays
    log.append(batch_of_size(1, 200, base_timestamp=20_000), leader_epoch=0)
    assert read_all(log, 10) == [10]


def test_retention_by_size(open_log: Opener) -> None:
    config = LogConfig(
        segment_bytes=300, retention_bytes=1000, retention_ms=-1, file_delete_delay_ms=0
    )
    log = open_log(config)
    for _ in range(10):
        log.append(batch_of_size(1, 200), leader_epoch=0)
    seg_size = log.segments[0].size
    assert log.size_bytes == 10 * seg_size
    deleted = log.apply_retention(0)
    assert 1000 <= log.size_bytes < 1000 + seg_size  # Kafka: never below retention.bytes
    assert log.log_start_offset == deleted
    assert read_all(log, log.log_start_offset) == list(range(deleted, 10))


def test_retention_delay_renames_then_unlinks(open_log: Opener, clock: FakeClock) -> None:
    log = open_log(LogConfig(segment_bytes=300, retention_bytes=0, file_delete_delay_ms=100))
    for _ in range(3):
        log.append(batch_of_size(1, 200), leader_epoch=0)
    assert log.apply_retention(clock.now) == 3  # the active segment too, as in Kafka
    assert len(list(log.directory.glob("*.deleted"))) == 9
    clock.now += 100
    log.flush_if_due(clock.now)
    assert not list(log.directory.glob("*.deleted"))


def test_compact_only_policy_keeps_segments(open_log: Opener) -> None:
    log = open_log(LogConfig(segment_bytes=300, retention_bytes=0, cleanup_policy="compact"))
    for _ in range(3):
        log.append(batch_of_size(1, 200), leader_epoch=0)
    assert log.apply_retention(10**12) == 0


def test_delete_records_before(open_log: Opener) -> None:
    log = open_log(LogConfig(segment_bytes=300, file_delete_delay_ms=0))
    for _ in range(5):
        log.append(batch_of_size(2, 100), leader_epoch=0)  # 2 offsets per segment
    assert log.delete_records_before(5) == 5
    assert log.segments[0].base_offset == 4
    assert log.delete_records_before(3) == 5  # never backwards
    with pytest.raises(OffsetOutOfRange):
        log.delete_records_before(11)
    assert log.delete_records_before(10) == 10  # everything: rolls the active segment
    assert log.segment_count == 1 and log.size_bytes == 0
    assert log.read(10, 100) is None
    assert log.append(batch_of_size(1, 10), leader_epoch=0).base_offset == 10


def test_log_start_offset_survives_restart(open_log: Opener) -> None:
    log = open_log()
    log.append(build_batch([b"a"] * 5), leader_epoch=0)
    log.delete_records_before(3)
    log.close()
    log = open_log()
    assert log.log_start_offset == 3 and log.log_end_offset == 5


def test_roll_by_time(open_log: Opener, clock: FakeClock) -> None:
    log = open_log(LogConfig(segment_ms=1000))
    log.append(build_batch([b"a"], base_timestamp=10_000), leader_epoch=0)
    log.append(build_batch([b"b"], base_timestamp=10_500), leader_epoch=0)
    assert log.segment_count == 1
    log.append(build_batch([b"c"], base_timestamp=11_001), leader_epoch=0)
    assert log.segment_count == 2 and log.segments[1].base_offset == 2


def test_roll_when_index_full(open_log: Opener) -> None:
    log = open_log(LogConfig(segment_index_bytes=32, index_interval_bytes=1))
    for _ in range(20):
        log.append(build_batch([b"a"]), leader_epoch=0)
    assert log.segment_count > 2
    assert all(seg.offset_index.entries <= 4 for seg in log.segments)
    assert read_all(log) == list(range(20))


def test_truncate_to(open_log: Opener) -> None:
    log = open_log(LogConfig(segment_bytes=300, index_interval_bytes=50))
    for _ in range(10):
        log.append(batch_of_size(2, 60), leader_epoch=0)  # batch i: offsets 2i, 2i+1
    log.truncate_to(7)  # drops the batch 6..7 that straddles 7, and everything after
    assert log.log_end_offset == 6 and log.high_watermark == 6
    assert read_all(log) == list(range(6))
    assert log.append(batch_of_size(1, 10), leader_epoch=1).base_offset == 6
    log.truncate_to(100)  # no-op past the end
    assert log.log_end_offset == 7
    log.close()
    log = open_log(LogConfig(segment_bytes=300))
    assert read_all(log) == list(range(7))


def test_truncate_below_log_start_restarts(open_log: Opener) -> None:
    log = open_log()
    log.append(build_batch([b"a"] * 5), leader_epoch=0)
    log.delete_records_before(4)
    log.truncate_to(2)
    assert (log.log_start_offset, log.log_end_offset, log.size_bytes) == (2, 2, 0)
    assert log.append(build_batch([b"b"]), leader_epoch=0).base_offset == 2


def test_append_raw_keeps_offsets(open_log: Opener) -> None:
    log = open_log(LogConfig(segment_bytes=200))
    log.append_raw(bytes(build_batch([b"a"] * 2, base_offset=0)))
    result = log.append_raw(bytes(build_batch([b"b"], base_offset=10)))
    assert (result.base_offset, result.last_offset) == (10, 10)
    assert log.log_end_offset == 11
    piece = log.read(5, 1000)  # in the gap: the next batch
    assert piece is not None and headers(piece.read()) == [(10, 10)]
    with pytest.raises(ValueError):
        log.append_raw(bytes(build_batch([b"c"], base_offset=3)))
    big = batch_of_size(1, 300, base_offset=20)
    log.append_raw(bytes(big))
    assert log.segments[-1].base_offset == 20


def test_iter_batch_headers(open_log: Opener) -> None:
    log = open_log(LogConfig(segment_bytes=300))
    for i in range(6):
        log.append(batch_of_size(2, 80, producer_id=7, base_sequence=2 * i), leader_epoch=0)
    assert [h.base_offset for h in log.iter_batch_headers()] == [0, 2, 4, 6, 8, 10]
    assert [h.base_sequence for h in log.iter_batch_headers(5)] == [4, 6, 8, 10]


def test_flush_interval_messages(open_log: Opener) -> None:
    log = open_log(LogConfig(flush_interval_messages=3))
    log.append(build_batch([b"a"] * 2), leader_epoch=0)
    assert log.segments[-1].dirty
    log.append(build_batch([b"a"] * 2), leader_epoch=0)
    assert not log.segments[-1].dirty


def test_flush_if_due(open_log: Opener, clock: FakeClock) -> None:
    log = open_log(LogConfig(flush_interval_ms=1000))
    log.append(build_batch([b"a"]), leader_epoch=0)
    log.flush_if_due(clock.now + 10)
    assert log.segments[-1].dirty
    log.flush_if_due(clock.now + 1000)
    assert not log.segments[-1].dirty


def test_closed_and_deleted(open_log: Opener) -> None:
    log = open_log()
    log.append(build_batch([b"a"]), leader_epoch=0)
    log.close()
    with pytest.raises(RuntimeError):
        log.append(build_batch([b"a"]), leader_epoch=0)
    other = open_log(name="gone-1")
    other.delete()
    assert not other.directory.exists()


def test_rejects_bad_dir_name(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(ValueError):
        PartitionLog(os.path.join(tmp_path, "nopartition"), LogConfig())  # type: ignore[arg-type]
