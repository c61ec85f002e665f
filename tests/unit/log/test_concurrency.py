"""Lock-free readers racing appends, rolls and retention only ever see whole batches."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from riverhead.log import LogConfig, OffsetOutOfRange, PartitionLog
from riverhead.protocol.batch import iter_batches, valid_prefix

from .batches import batch_of_size

pytestmark = pytest.mark.unit


def test_readers_during_appends_and_retention(open_log: Callable[..., PartitionLog]) -> None:
    log = open_log(
        LogConfig(
            segment_bytes=2000,
            index_interval_bytes=64,
            retention_bytes=20_000,
            file_delete_delay_ms=0,
        )
    )
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        offset = 0
        try:
            while not stop.is_set():
                try:
                    piece = log.read(offset, 700)
                except OffsetOutOfRange as exc:
                    offset = exc.log_start_offset
                    continue
                if piece is None:
                    time.sleep(0.0005)
                    continue
                data = piece.read()
                end, count, reason = valid_prefix(data)
                assert end == len(data) and count > 0, reason
                *_, (_, last) = iter_batches(data)
                assert last.next_offset > offset
                offset = last.next_offset
                time.sleep(0.0001)  # let the appender have the GIL
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(1500):
        log.append(batch_of_size(1 + i % 3, 40 + i % 90), leader_epoch=0)
        if i % 100 == 0:
            log.apply_retention(0)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert log.log_end_offset == sum(1 + i % 3 for i in range(1500))
