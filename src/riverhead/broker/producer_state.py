"""Idempotent-producer state of one partition: epochs and sequence numbers per producer id.

Kafka's rules (``ProducerStateManager``/``ProducerAppendInfo``), for a batch with
``producerId >= 0``:

* epoch lower than the producer's current epoch → INVALID_PRODUCER_EPOCH;
* epoch higher (a bumped producer) → its first sequence must be 0;
* same epoch: a batch whose (first, last) sequence equals one of the producer's last five
  batches is a *duplicate* — answered with that batch's original offset, not appended
  again; otherwise the first sequence must follow the last one (modulo 2^31), else
  OUT_OF_ORDER_SEQUENCE_NUMBER;
* an unknown producer must start at sequence 0.

State is rebuilt on start-up from a snapshot written at clean shutdown
(``producer-state.json`` in the partition directory: ``{"offset": N, "producers": ...}``)
plus a scan of the batch headers appended after the snapshot's offset; so it survives
restarts and crashes alike.

Not thread-safe by itself: the owning :class:`~riverhead.broker.partition.Partition`
serialises check-append-update under its lock.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from riverhead.protocol.batch import BatchHeader
from riverhead.protocol.errors import ErrorCode

MAX_CACHED_BATCHES = 5
SNAPSHOT_NAME = "producer-state.json"


@dataclass(slots=True)
class BatchMeta:
    first_seq: int
    last_seq: int
    last_offset: int
    offset_delta: int
    timestamp: int

    @property
    def base_offset(self) -> int:
        return self.last_offset - self.offset_delta


@dataclass(slots=True)
class ProducerEntry:
    epoch: int
    batches: deque[BatchMeta] = field(default_factory=lambda: deque(maxlen=MAX_CACHED_BATCHES))

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1


class SequenceCheck:
    """Outcome of :meth:`ProducerStateManager.check`."""

    __slots__ = ("duplicate_of", "error")

    def __init__(self, error: ErrorCode = ErrorCode.NONE, duplicate_of: BatchMeta | None = None):
        self.error = error
        self.duplicate_of = duplicate_of


OK = SequenceCheck()


class ProducerStateManager:
    def __init__(self) -> None:
        self.producers: dict[int, ProducerEntry] = {}

    def check(self, header: BatchHeader) -> SequenceCheck:
        """Validate a batch against the state; does not change it."""
        pid = header.producer_id
        if pid < 0:
            return OK
        entry = self.producers.get(pid)
        first, last = header.base_sequence, header.last_sequence
        if entry is None:
            if first != 0:
                return SequenceCheck(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
            return OK
        if header.producer_epoch < entry.epoch:
            return SequenceCheck(ErrorCode.INVALID_PRODUCER_EPOCH)
        if header.producer_epoch > entry.epoch:
            if first != 0:
                return SequenceCheck(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
            return OK
        for meta in entry.batches:
            if meta.first_seq == first and meta.last_seq == last:
                return SequenceCheck(duplicate_of=meta)
        expected = (entry.last_seq + 1) & 0x7FFFFFFF
        if first != expected:
            return SequenceCheck(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
        return OK

    def update(self, header: BatchHeader) -> None:
        """Record an appended batch (its offsets already assigned)."""
        pid = header.producer_id
        if pid < 0:
            return
        entry = self.producers.get(pid)
        if entry is None or header.producer_epoch != entry.epoch:
            entry = ProducerEntry(header.producer_epoch)
            self.producers[pid] = entry
        entry.batches.append(
            BatchMeta(
                header.base_sequence,
                header.last_sequence,
                header.last_offset,
                header.last_offset_delta,
                header.max_timestamp,
            )
        )

    def rebuild(self, headers: Iterable[BatchHeader]) -> None:
        for header in headers:
            if header.producer_id >= 0 and not header.is_control:
                self.update(header)

    # ---- snapshot -----------------------------------------------------------------
    def write_snapshot(self, directory: Path, offset: int) -> None:
        data = {
            "version": 1,
            "offset": offset,
            "producers": {
                str(pid): {
                    "epoch": e.epoch,
                    "batches": [
                        [b.first_seq, b.last_seq, b.last_offset, b.offset_delta, b.timestamp]
                        for b in e.batches
                    ],
                }
                for pid, e in self.producers.items()
            },
        }
        tmp = directory / (SNAPSHOT_NAME + ".tmp")
        with tmp.open("w") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(directory / SNAPSHOT_NAME)

    def load_snapshot(self, directory: Path, log_end_offset: int) -> int:
        """Load the snapshot, consuming it; returns the offset to scan from (0 if none).

        A snapshot beyond the log end (the log was truncated after it) is ignored.
        """
        path = directory / SNAPSHOT_NAME
        try:
            data = json.loads(path.read_text())
            path.unlink()
        except (OSError, ValueError):
            return 0
        offset = int(data.get("offset", 0))
        if offset > log_end_offset:
            return 0
        for pid, raw in data.get("producers", {}).items():
            entry = ProducerEntry(int(raw["epoch"]))
            for b in raw["batches"]:
                entry.batches.append(BatchMeta(*map(int, b)))
            self.producers[int(pid)] = entry
        return offset
