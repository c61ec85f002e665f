"""A partition as the broker serves it: its log, its producer state, and the append path.

:meth:`Partition.append` is the produce hot path: for the one batch a client sends per
partition it checks idempotent-producer sequences, appends (the log assigns offsets), and
records the batch in the producer state — atomically under ``self.lock``, so two
connections producing to one partition can't interleave a check with another's append.
Reads (fetch, list offsets) go straight to the log, which is safe for concurrent readers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from riverhead.broker.producer_state import ProducerStateManager
from riverhead.log.partition import PartitionLog
from riverhead.protocol.batch import BatchHeader, read_header
from riverhead.protocol.errors import ErrorCode


@dataclass(slots=True)
class AppendOutcome:
    error: ErrorCode
    base_offset: int = -1
    log_append_time: int = -1
    log_start_offset: int = -1


class Partition:
    def __init__(
        self, topic: str, index: int, log: PartitionLog, snapshot: dict[str, Any] | None = None
    ) -> None:
        self.topic = topic
        self.index = index
        self.log = log
        self.leader_epoch = 0
        self.lock = threading.Lock()
        self.producers = ProducerStateManager()
        start = self.producers.load_snapshot(snapshot, log.log_end_offset)
        self.producers.rebuild(log.iter_batch_headers(start))

    def append(
        self, data: bytearray | memoryview, header: BatchHeader, now_ms: int
    ) -> AppendOutcome:
        """Append one validated batch; idempotent duplicates return the original offset."""
        with self.lock:
            check = self.producers.check(header)
            if check.error:
                return AppendOutcome(check.error, log_start_offset=self.log.log_start_offset)
            if check.duplicate_of is not None:
                return AppendOutcome(
                    ErrorCode.NONE,
                    check.duplicate_of.base_offset,
                    -1,
                    self.log.log_start_offset,
                )
            result = self.log.append(data, leader_epoch=self.leader_epoch, now_ms=now_ms)
            if header.producer_id >= 0:
                self.producers.update(read_header(data))
        return AppendOutcome(
            ErrorCode.NONE, result.base_offset, result.log_append_time, result.log_start_offset
        )

    def producer_snapshot(self) -> dict[str, Any]:
        with self.lock:
            return self.producers.to_snapshot(self.log.log_end_offset)
