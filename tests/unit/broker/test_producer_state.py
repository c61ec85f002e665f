from __future__ import annotations

from pathlib import Path

import pytest

from riverhead.broker.producer_state import ProducerStateManager, take_snapshots, write_snapshots
from riverhead.protocol.batch import BatchHeader
from riverhead.protocol.errors import ErrorCode

pytestmark = pytest.mark.unit


def header(pid: int, epoch: int, seq: int, count: int = 1, offset: int = 0) -> BatchHeader:
    return BatchHeader(offset, 100, 0, 2, 0, 0, count - 1, 0, 0, pid, epoch, seq, count)


def appended(state: ProducerStateManager, h: BatchHeader) -> None:
    assert state.check(h).error == ErrorCode.NONE
    state.update(h)


def test_sequences_must_follow_and_duplicates_are_recognised() -> None:
    state = ProducerStateManager()
    appended(state, header(7, 0, 0, count=3, offset=0))
    appended(state, header(7, 0, 3, count=2, offset=3))
    dup = state.check(header(7, 0, 0, count=3))
    assert dup.error == ErrorCode.NONE and dup.duplicate_of is not None
    assert dup.duplicate_of.base_offset == 0
    assert state.check(header(7, 0, 6)).error == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert state.check(header(7, 0, 5)).duplicate_of is None


def test_only_last_five_batches_are_duplicates() -> None:
    state = ProducerStateManager()
    for i in range(7):
        appended(state, header(1, 0, i, offset=i))
    assert state.check(header(1, 0, 1)).error == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert state.check(header(1, 0, 2)).duplicate_of is not None


def test_epochs() -> None:
    state = ProducerStateManager()
    appended(state, header(1, 3, 0))
    assert state.check(header(1, 2, 1)).error == ErrorCode.INVALID_PRODUCER_EPOCH
    assert state.check(header(1, 4, 5)).error == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    appended(state, header(1, 4, 0, offset=1))
    assert state.producers[1].epoch == 4


def test_unknown_producer_may_start_anywhere_and_non_idempotent_is_unchecked() -> None:
    # As Apache Kafka (found by tests/interop): a producer whose state is gone (retention,
    # DeleteRecords) goes on at its next sequence instead of failing fatally.
    state = ProducerStateManager()
    assert state.check(header(9, 0, 4)).error == ErrorCode.NONE
    appended(state, header(9, 0, 4, offset=0))
    assert state.check(header(9, 0, 6)).error == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert state.check(header(-1, -1, 0)).error == ErrorCode.NONE


def test_sequence_wraps_around() -> None:
    state = ProducerStateManager()
    appended(state, header(1, 0, 0))
    state.producers[1].batches[-1].last_seq = 2**31 - 1
    assert state.check(header(1, 0, 0, offset=5)).error == ErrorCode.NONE


def test_snapshot_round_trip_and_stale_snapshot(tmp_path: Path) -> None:
    state = ProducerStateManager()
    appended(state, header(5, 1, 0, count=2))
    path = tmp_path / "snap.json"
    write_snapshots(path, {"t-0": state.to_snapshot(offset=2), "t-1": state.to_snapshot(10)})
    snapshots = take_snapshots(path)
    assert not path.exists(), "a snapshot is consumed by the start that reads it"
    loaded = ProducerStateManager()
    assert loaded.load_snapshot(snapshots["t-0"], log_end_offset=2) == 2
    assert loaded.check(header(5, 1, 0, count=2)).duplicate_of is not None
    assert ProducerStateManager().load_snapshot(snapshots["t-1"], log_end_offset=3) == 0
    assert ProducerStateManager().load_snapshot(None, log_end_offset=3) == 0


def test_unreadable_snapshot_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_text("{not json")
    assert take_snapshots(path) == {}
    assert not path.exists()
