"""Offset and time indexes: lookups, persisting, reopening, sanity checks, the bytes cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riverhead.log import files
from riverhead.log.index import OffsetIndex, TimeIndex

pytestmark = pytest.mark.unit


def test_offset_index_entry_bytes(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "00000000000000000100.index", 100, 80)
    index.make_active()
    assert index.max_entries == 10
    index.append(134, 4200)
    index.make_inactive()
    assert (tmp_path / "00000000000000000100.index").read_bytes() == bytes.fromhex(
        "0000002200001068"
    )


def test_time_index_entry_bytes(tmp_path: Path) -> None:
    index = TimeIndex(tmp_path / "x.timeindex", 100, 120)
    index.make_active()
    index.maybe_append(1_700_000_000_000, 134)
    index.maybe_append(1_700_000_000_000, 140)  # not increasing: skipped
    index.make_inactive()
    assert (tmp_path / "x.timeindex").read_bytes() == bytes.fromhex("0000018bcfe5680000000022")


@given(st.lists(st.integers(1, 1000), min_size=0, max_size=60), st.integers(0, 70_000))
def test_offset_lookup_is_floor(gaps: list[int], target: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        index = OffsetIndex(Path(tmp) / "a.index", 1000, 1 << 12, active=True)
        entries, offset, position = [], 1000, 0
        for gap in gaps:
            offset += gap
            position += gap * 10
            index.append(offset, position)
            entries.append((offset, position))
        expected = max((e for e in entries if e[0] <= target), default=(1000, 0))
        assert index.lookup(target) == expected
        floor = max((p for _, p in entries if p <= target), default=0)
        assert index.floor_position(target) == floor


def test_reopen_trimmed_and_sanity(tmp_path: Path) -> None:
    path = tmp_path / "b.index"
    index = OffsetIndex(path, 0, 1024)
    index.make_active()
    for i in range(1, 6):
        index.append(i * 10, i * 100)
    index.make_inactive()
    assert path.stat().st_size == 40
    again = OffsetIndex(path, 0, 1024)
    assert again.entries == 5 and again.last_entry() == (50, 500)
    assert again.sanity_check(501) == ""
    assert "outside" in again.sanity_check(500)
    again.truncate_to_position(300)
    assert again.entries == 2


def test_preallocated_zero_tail_fails_sanity(tmp_path: Path) -> None:
    path = tmp_path / "c.index"
    # what a crash of an older Riverhead (mmapped, preallocated indexes) left behind
    path.write_bytes(bytes.fromhex("0000000500000064") + bytes(1016))
    crashed = OffsetIndex(path, 0, 1024)
    assert crashed.entries == 128
    assert crashed.sanity_check(1000) != ""
    active = OffsetIndex(path, 0, 1024, active=True)
    assert active.entries == 128 and active.sanity_check(1000) != ""


def test_active_entries_reach_the_file_only_when_persisted(tmp_path: Path) -> None:
    path = tmp_path / "e.index"
    index = OffsetIndex(path, 0, 1024, active=True)
    assert not index.existed and not path.exists()
    index.append(5, 100)
    index.append(9, 200)
    assert not path.exists()  # appends never touch the disk
    assert index.persist() and path.stat().st_size == 16
    assert not index.persist()  # unchanged: no write
    index.append(12, 300)
    index.truncate_to_position(200)  # drops (9, 200) and (12, 300)
    index.append(10, 250)
    assert index.persist()
    assert path.read_bytes() == bytes.fromhex("00000005000000640000000a000000fa")
    index.sync()


def test_inactive_index_reads_file_once_into_bounded_cache(tmp_path: Path) -> None:
    files.INDEX_BYTES.clear()
    old_capacity = files.INDEX_BYTES.capacity
    try:
        files.configure(index_cache_bytes=100)
        indexes = []
        for n in range(3):
            index = OffsetIndex(tmp_path / f"{n}.index", 0, 1024, active=True)
            for i in range(1, 6):
                index.append(i * 10, i * 100)
            index.make_inactive()  # 40 bytes go to the cache
            indexes.append(OffsetIndex(index.path, 0, 1024))  # reopened: nothing read yet
        files.INDEX_BYTES.clear()
        loads = files.INDEX_BYTES.loads
        assert indexes[0].lookup(35) == (30, 300) and indexes[1].lookup(55) == (50, 500)
        assert indexes[0].lookup(15) == (10, 100)  # cached
        assert files.INDEX_BYTES.loads == loads + 2
        assert indexes[2].lookup(45) == (40, 400)  # evicts indexes[1], least recently used
        assert indexes[0].lookup(5) == (0, 0)
        assert files.INDEX_BYTES.loads == loads + 3
        assert files.INDEX_BYTES.total_weight == 80 and len(files.INDEX_BYTES) == 2
        assert indexes[1].lookup(25) == (20, 200)  # read again
        assert files.INDEX_BYTES.loads == loads + 4
        assert indexes[0].last_entry() == (50, 500)  # from the kept tail, no read
        indexes[0].close()
        assert indexes[0].lookup(25) == (20, 200)  # still readable, uncached
    finally:
        files.configure(index_cache_bytes=old_capacity)
        files.INDEX_BYTES.clear()


def test_time_index_lookup_before_and_reserved_slot(tmp_path: Path) -> None:
    index = TimeIndex(tmp_path / "d.timeindex", 0, 36)  # 3 slots, one reserved
    index.make_active()
    index.maybe_append(10, 1)
    index.maybe_append(20, 2)
    index.maybe_append(30, 3)  # only the reserved slot is left: skipped
    assert index.entries == 2 and index.is_full
    index.maybe_append(30, 3, skip_full_check=True)
    assert index.entries == 3
    assert index.lookup_before(10) is None
    assert index.lookup_before(11) == 1
    assert index.lookup_before(31) == 3
    index.truncate_to_offset(3)
    assert index.last_entry() == (20, 2)
