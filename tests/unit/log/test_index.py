"""Offset and time indexes: lookups, trimming, reopening, sanity checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riverhead.log.index import OffsetIndex, TimeIndex

pytestmark = pytest.mark.unit


def test_offset_index_entry_bytes(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "00000000000000000100.index", 100, 80)
    index.make_writable()
    assert index.max_entries == 10
    index.append(134, 4200)
    index.trim()
    assert (tmp_path / "00000000000000000100.index").read_bytes() == bytes.fromhex(
        "00000022" "00001068"
    )


def test_time_index_entry_bytes(tmp_path: Path) -> None:
    index = TimeIndex(tmp_path / "x.timeindex", 100, 120)
    index.make_writable()
    index.maybe_append(1_700_000_000_000, 134)
    index.maybe_append(1_700_000_000_000, 140)  # not increasing: skipped
    index.trim()
    assert (tmp_path / "x.timeindex").read_bytes() == bytes.fromhex(
        "0000018bcfe56800" "00000022"
    )


@given(st.lists(st.integers(1, 1000), min_size=0, max_size=60), st.integers(0, 70_000))
def test_offset_lookup_is_floor(gaps: list[int], target: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        index = OffsetIndex(Path(tmp) / "a.index", 1000, 1 << 12)
        index.make_writable()
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
    index.make_writable()
    for i in range(1, 6):
        index.append(i * 10, i * 100)
    index.trim()
    assert path.stat().st_size == 40
    again = OffsetIndex(path, 0, 1024)
    assert again.entries == 5 and again.last_entry() == (50, 500)
    assert again.sanity_check(501) == ""
    assert "outside" in again.sanity_check(500)
    again.truncate_to_position(300)
    assert again.entries == 2


def test_preallocated_zero_tail_fails_sanity(tmp_path: Path) -> None:
    path = tmp_path / "c.index"
    index = OffsetIndex(path, 0, 1024)
    index.make_writable()
    index.append(5, 100)
    index.flush()
    crashed = OffsetIndex(path, 0, 1024)  # a crash left it preallocated
    assert crashed.entries == 128
    assert crashed.sanity_check(1000) != ""


def test_time_index_lookup_before_and_reserved_slot(tmp_path: Path) -> None:
    index = TimeIndex(tmp_path / "d.timeindex", 0, 36)  # 3 slots, one reserved
    index.make_writable()
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
