"""Hypothesis: whatever the appends, rolls and restarts, offsets stay dense and readable."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riverhead.log import LogConfig, PartitionLog
from riverhead.protocol.batch import iter_batches

from .batches import batch_of_size
from .conftest import crash

pytestmark = pytest.mark.unit

batch = st.tuples(st.integers(1, 6), st.integers(0, 300))  # records, value size
step = st.one_of(
    st.tuples(st.just("append"), st.lists(batch, min_size=1, max_size=4)),
    st.tuples(st.just("close"), st.none()),
    st.tuples(st.just("crash"), st.none()),
    st.tuples(st.just("torn"), st.integers(1, 200)),
)


def all_offsets(log: PartitionLog, max_bytes: int) -> list[int]:
    offsets: list[int] = []
    offset = log.log_start_offset
    while (piece := log.read(offset, max_bytes)) is not None:
        for _, header in iter_batches(piece.read()):
            offsets.extend(range(header.base_offset, header.last_offset + 1))
            offset = header.last_offset + 1
    return offsets


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(step, min_size=1, max_size=25),
    segment_bytes=st.integers(100, 3000),
    index_interval=st.integers(1, 500),
    max_bytes=st.integers(0, 2000),
)
def test_offsets_dense_and_readable_across_restarts(
    steps: list[tuple[str, object]], segment_bytes: int, index_interval: int, max_bytes: int
) -> None:
    config = LogConfig(segment_bytes=segment_bytes, index_interval_bytes=index_interval)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "t.x-y-3"
        log = PartitionLog(directory, config)
        expected_end = 0
        for kind, arg in steps:
            if kind == "append":
                assert isinstance(arg, list)
                data = bytearray()
                for records, size in arg:
                    data += batch_of_size(records, size)
                result = log.append(data, leader_epoch=1)
                assert result.base_offset == expected_end
                expected_end += sum(records for records, _ in arg)
                assert result.last_offset == expected_end - 1
            elif kind == "torn":  # crash in the middle of a write: a partial batch on disk
                assert isinstance(arg, int)
                partial = batch_of_size(3, 100)[:arg]
                path = log.segments[-1].log_path
                crash(log)
                with path.open("ab") as f:
                    f.write(partial)
                log = PartitionLog(directory, config)
                assert log.recovered_bytes_truncated == len(partial)
            else:
                if kind == "close":
                    log.close()
                else:
                    crash(log)
                log = PartitionLog(directory, config, recover=kind == "crash")
                assert log.recovered_bytes_truncated == 0
            assert log.log_end_offset == expected_end
            assert all_offsets(log, max_bytes) == list(range(expected_end))
        log.close()
