"""Log compaction (riverhead.log.cleaner): what survives, how it is written, recovery."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riverhead.log import LogConfig, LogManager, PartitionLog, cleaner
from riverhead.log.config import InvalidConfig
from riverhead.log.segment import LogSegment
from riverhead.protocol.batch import BatchHeader, iter_batches
from riverhead.protocol.compression import Codec
from riverhead.protocol.records import Record, decode_batch, encode_batch

from .conftest import FakeClock, crash

pytestmark = pytest.mark.unit

NOW = 1_000_000  # FakeClock's start; record timestamps are near it
COMPACT = LogConfig(
    cleanup_policy="compact",
    segment_bytes=1024,
    file_delete_delay_ms=0,
    delete_retention_ms=10_000,
    index_interval_bytes=128,
)

Row = tuple[bytes | None, bytes | None]


def produce(log: PartitionLog, rows: Sequence[Row], *, per_batch: int = 1, **kw: object) -> None:
    """Append ``rows`` (key, value) in batches of ``per_batch`` records, timestamps NOW+i."""
    for i in range(0, len(rows), per_batch):
        chunk = rows[i : i + per_batch]
        records = [
            Record(0, NOW + i + j, key, value, [("h", str(i + j).encode())])
            for j, (key, value) in enumerate(chunk)
        ]
        log.append(bytearray(encode_batch(records, **kw)), leader_epoch=3)  # type: ignore[arg-type]


def read_all(log: PartitionLog) -> list[tuple[BatchHeader, list[Record]]]:
    out: list[tuple[BatchHeader, list[Record]]] = []
    offset = log.log_start_offset
    while True:
        found = log.read(offset, 1 << 20)
        if found is None:
            return out
        data = found.read()
        for pos, header in iter_batches(data):
            out.append(decode_batch(data, pos))
            offset = header.next_offset


def records(log: PartitionLog) -> list[Record]:
    return [r for _, recs in read_all(log) for r in recs]


def closed_records(log: PartitionLog) -> list[Record]:
    active_base = log.segments[-1].base_offset
    return [r for r in records(log) if r.offset < active_base]


def latest(rows: Sequence[Row]) -> dict[bytes, tuple[int, bytes | None]]:
    out: dict[bytes, tuple[int, bytes | None]] = {}
    for offset, (key, value) in enumerate(rows):
        assert key is not None
        out[key] = (offset, value)
    return out


def test_many_updates_shrink_to_one_record_per_key(
    open_log: Callable[..., PartitionLog],
) -> None:
    log = open_log(COMPACT)
    rows: list[Row] = [(b"k%d" % (i % 10), b"v%d" % i) for i in range(500)]
    produce(log, rows)
    before = {r.offset: r for r in records(log)}
    assert log.segment_count > 10
    result = log.compact(NOW)
    assert result.segments_rewritten > 0
    assert result.first_dirty_offset == log.segments[-1].base_offset
    closed = closed_records(log)
    keys = [r.key for r in closed]
    assert len(keys) == len(set(keys)) <= 10
    want = latest(rows)
    for r in records(log):
        assert before[r.offset] == r  # offsets, values, headers, timestamps unchanged
    for offset, value in want.values():
        assert before[offset].value == value
        assert any(r.offset == offset for r in records(log))
    # Every record of the active segment is still there.
    active_base = log.segments[-1].base_offset
    assert [r.offset for r in records(log) if r.offset >= active_base] == list(
        range(active_base, 500)
    )
    assert log.log_end_offset == 500
    # A second pass without new data has nothing to do.
    assert log.compact(NOW).segments_rewritten == 0


def test_survivors_keep_offsets_timestamps_headers_and_batch_fields(
    open_log: Callable[..., PartitionLog],
) -> None:
    log = open_log(COMPACT)
    rows: list[Row] = [(b"a", b"1"), (b"b", b"2"), (b"a", b"3"), (b"c", b"4"), (b"b", b"5")]
    produce(log, rows, per_batch=5, producer_id=42, producer_epoch=7, base_sequence=100)
    produce(log, [(b"x", b"y" * 2000)])  # rolls nothing yet: the first batch is alone
    produce(log, [(b"z", b"end")])  # rolls: the first two segments are closed
    before = {r.offset: r for r in records(log)}
    log.compact(NOW)
    (header, recs), *_ = read_all(log)
    assert [r.offset for r in recs] == [2, 3, 4]
    assert recs == [before[2], before[3], before[4]]
    assert header.base_offset == 0 and header.last_offset_delta == 4
    assert (header.producer_id, header.producer_epoch, header.base_sequence) == (42, 7, 100)
    assert header.partition_leader_epoch == 3
    assert header.records_count == 3


def test_read_at_removed_offset_returns_next_surviving_batch(
    open_log: Callable[..., PartitionLog],
) -> None:
    log = open_log(COMPACT)
    rows: list[Row] = [(b"k", b"%d" % i) for i in range(60)] + [(b"other", b"x")]
    produce(log, rows)
    old_slice = log.read(0, 100)
    assert old_slice is not None
    old_bytes = old_slice.read()
    log.compact(NOW)
    assert old_slice.read() == old_bytes  # a slice taken before keeps its (old) file
    found = log.read(0, 1 << 20)
    assert found is not None
    first = decode_batch(found.read())[1][0]
    assert first.offset > 0 and first.key in (b"k", b"other")


def test_tombstones_kept_before_delete_retention_and_removed_after(
    open_log: Callable[..., PartitionLog],
) -> None:
    log = open_log(COMPACT)
    rows: list[Row] = [(b"gone", b"v1"), (b"keep", b"v"), (b"gone", b"v2"), (b"gone", None)]
    produce(log, rows + [(b"pad%d" % i, b"p" * 100) for i in range(30)])
    log.compact(NOW + 5_000)  # the tombstone is younger than delete.retention.ms
    closed = closed_records(log)
    assert [(r.key, r.value) for r in closed if r.key in (b"gone", b"keep")] == [
        (b"keep", b"v"),
        (b"gone", None),
    ]
    log.compact(NOW + 20_000)  # forced pass: old enough now
    closed = closed_records(log)
    assert [(r.key, r.value) for r in closed if r.key in (b"gone", b"keep")] == [(b"keep", b"v")]


def test_active_segment_is_never_touched(open_log: Callable[..., PartitionLog]) -> None:
    log = open_log(LogConfig(cleanup_policy="compact", file_delete_delay_ms=0))
    produce(log, [(b"k", b"%d" % i) for i in range(100)])
    assert log.segment_count == 1
    path = log.segments[-1].log_path
    data = path.read_bytes()
    result = log.compact(NOW)
    assert result.segments_rewritten == 0
    assert path.read_bytes() == data
    assert len(records(log)) == 100


@pytest.mark.parametrize("codec", list(Codec))
def test_compressed_batches(open_log: Callable[..., PartitionLog], codec: Codec) -> None:
    log = open_log(COMPACT)
    rows: list[Row] = [(b"k%d" % (i % 4), b"value-%d" % i) for i in range(80)]
    produce(log, rows, per_batch=8, compression=codec)
    produce(log, [(b"tail%d" % i, b"t" * 300) for i in range(8)], per_batch=4)
    before = {r.offset: r for r in records(log)}
    log.compact(NOW)
    for header, recs in read_all(log):
        assert header.compression == (codec if header.base_offset < 80 else 0)
        for r in recs:
            assert before[r.offset] == r
    closed = [r for r in closed_records(log) if r.offset < 80]
    assert sorted((r.key or b"", r.value) for r in closed) == sorted(
        (k, v) for k, (_, v) in latest(rows).items() if v is not None
    )


def test_last_batch_of_a_producer_is_kept_empty(open_log: Callable[..., PartitionLog]) -> None:
    log = open_log(COMPACT)
    produce(
        log,
        [(b"k", b"1"), (b"k", b"2")],
        per_batch=2,
        producer_id=5,
        producer_epoch=1,
        base_sequence=0,
    )
    produce(log, [(b"k", b"3")] * 1 + [(b"j", b"x" * 1200)], per_batch=1)
    produce(log, [(b"end", b"e")])
    log.compact(NOW)
    header, recs = read_all(log)[0]
    assert (header.base_offset, header.last_offset_delta, header.records_count) == (0, 1, 0)
    assert (header.producer_id, header.producer_epoch, header.base_sequence) == (5, 1, 0)
    assert recs == []


def test_dirty_ratio_min_lag_and_scheduler(tmp_path: Path, clock: FakeClock) -> None:
    config = COMPACT.with_topic_configs({"min.cleanable.dirty.ratio": "0.9"})
    manager = LogManager([tmp_path], LogConfig(), now_ms=clock)
    try:
        log = manager.create("c", 0, config)
        plain = manager.create("d", 0, LogConfig(segment_bytes=1024))
        produce(log, [(b"k%d" % (i % 60), b"%d" % i) for i in range(100)])
        produce(plain, [(b"k", b"%d" % i) for i in range(100)])
        lagged = config.with_topic_configs({"min.compaction.lag.ms": "1000000"})
        log.config = lagged
        assert cleaner.dirty_ratio(log, NOW) == 0.0  # nothing old enough
        log.config = config
        assert cleaner.dirty_ratio(log, NOW) == 1.0
        assert manager.run_cleaner(NOW) > 0
        assert cleaner.dirty_ratio(log, NOW) == 0.0
        assert len(closed_records(plain)) > 50  # policy delete: never compacted
        produce(log, [(b"k0", b"%d" % i) for i in range(20)])
        assert 0 < cleaner.dirty_ratio(log, NOW) < 0.9
        assert manager.run_cleaner(NOW) == 0  # below min.cleanable.dirty.ratio
        assert manager.run_cleaner(NOW, force=True) > 0
    finally:
        manager.shutdown()
    # The first dirty offset survives a restart.
    reopened = LogManager([tmp_path], LogConfig(), now_ms=clock)
    try:
        log = reopened.get("c", 0)
        assert log is not None
        log.config = config
        assert cleaner.dirty_ratio(log, NOW) == 0.0
    finally:
        reopened.shutdown()


def test_background_thread_runs_the_cleaner(tmp_path: Path) -> None:
    config = COMPACT.with_topic_configs({"min.cleanable.dirty.ratio": "0.01"})
    manager = LogManager([tmp_path], LogConfig())
    try:
        log = manager.create("c", 0, config)
        produce(log, [(b"k", b"%d" % i) for i in range(100)])
        manager.start(20, 1000)
        deadline = time.monotonic() + 10
        while len(closed_records(log)) > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(closed_records(log)) == 1
    finally:
        manager.shutdown()


def test_crash_after_commit_before_swap_is_completed(
    open_log: Callable[..., PartitionLog], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(COMPACT)
    rows: list[Row] = [(b"k%d" % (i % 3), b"%d" % i) for i in range(60)]
    produce(log, rows)
    base = log.segments[0].base_offset

    real_rename = LogSegment.rename_deleted

    def boom(segment: LogSegment) -> list[Path]:
        monkeypatch.setattr(LogSegment, "rename_deleted", real_rename)  # crash once
        raise KeyboardInterrupt("crash")

    # The old segment's files are renamed right after the .log.swap commit point.
    monkeypatch.setattr(LogSegment, "rename_deleted", boom)
    with pytest.raises(KeyboardInterrupt):
        log.compact(NOW)
    names = os.listdir(log.directory)
    assert f"{base:020d}.log.swap" in names and f"{base:020d}.log" in names
    crash(log)
    reopened = open_log(COMPACT)
    names = os.listdir(reopened.directory)
    assert not [n for n in names if n.endswith((".swap", ".cleaned"))]
    first = records(reopened)[0]
    assert first.key is not None and latest(rows)[first.key][0] >= first.offset
    assert records(reopened)[-1].offset == 59
    reopened.compact(NOW)
    assert len({r.key for r in closed_records(reopened)}) == len(closed_records(reopened))


def test_leftover_cleaned_and_uncommitted_swap_files_are_deleted(
    open_log: Callable[..., PartitionLog],
) -> None:
    log = open_log(COMPACT)
    produce(log, [(b"k", b"%d" % i) for i in range(40)])
    expected = records(log)
    crash(log)
    stem = log.directory / f"{0:020d}"
    for suffix in (".log.cleaned", ".index.cleaned", ".index.swap", ".timeindex.swap"):
        Path(f"{stem}{suffix}").write_bytes(b"junk")
    reopened = open_log(COMPACT)
    assert records(reopened) == expected
    assert not [n for n in os.listdir(reopened.directory) if n.endswith((".swap", ".cleaned"))]


def test_topic_configs() -> None:
    config = LogConfig().with_topic_configs(
        {"min.cleanable.dirty.ratio": "0.25", "min.compaction.lag.ms": "5"}
    )
    assert (config.min_cleanable_dirty_ratio, config.min_compaction_lag_ms) == (0.25, 5)
    assert config.topic_value("min.cleanable.dirty.ratio") == "0.25"
    for bad in ("x", "1.5", "-0.1"):
        with pytest.raises(InvalidConfig):
            LogConfig().with_topic_configs({"min.cleanable.dirty.ratio": bad})


def test_encode_batch_with_offset_gaps() -> None:
    recs = [Record(0, 5, b"a", b"1"), Record(0, 6, b"b", None)]
    data = encode_batch(recs, base_offset=10, offset_deltas=[1, 4], last_offset_delta=6)
    header, out = decode_batch(data)
    assert header.last_offset_delta == 6 and header.records_count == 2
    assert [(r.offset, r.key, r.value) for r in out] == [(11, b"a", b"1"), (14, b"b", None)]
    with pytest.raises(ValueError):
        encode_batch(recs, offset_deltas=[2, 2])
    with pytest.raises(ValueError):
        encode_batch(recs, offset_deltas=[0, 3], last_offset_delta=2)


events = st.lists(
    st.tuples(
        st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"f"]), st.none() | st.binary(max_size=40)
    ),
    min_size=1,
    max_size=120,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=events,
    per_batch=st.integers(1, 6),
    tombstones_expired=st.booleans(),
    codec=st.sampled_from([Codec.NONE, Codec.LZ4]),
)
def test_property_latest_value_per_key_survives(
    rows: list[Row], per_batch: int, tombstones_expired: bool, codec: Codec
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = LogConfig(
            cleanup_policy="compact",
            segment_bytes=300,
            file_delete_delay_ms=0,
            delete_retention_ms=10_000,
        )
        log = PartitionLog(Path(tmp) / "t-0", config, now_ms=FakeClock())
        try:
            produce(log, rows, per_batch=per_batch, compression=codec)
            before = {r.offset: r for r in records(log)}
            log.compact(NOW + (20_000 if tombstones_expired else 0))
            after = records(log)
            active_base = log.segments[-1].base_offset
            want = latest(rows[:active_base])  # the cleaner sees up to the active segment
            by_offset = {r.offset: r for r in after}
            for r in after:
                assert before[r.offset] == r  # nothing changes, things only disappear
            for offset, (key, value) in enumerate(rows):
                survives = offset in by_offset
                if offset >= active_base:
                    assert survives  # the active segment is untouched
                elif offset != want[key][0]:  # type: ignore[index]
                    assert not survives  # superseded
                elif value is not None:
                    assert survives
                elif tombstones_expired:
                    assert not survives
                else:
                    assert survives
            assert log.log_end_offset == len(rows)
        finally:
            log.close()
