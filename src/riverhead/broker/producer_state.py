"""Idempotent-producer state of one partition: epochs and sequence numbers per producer id.

Kafka's rules (``ProducerStateManager``/``ProducerAppendInfo``), for a batch with
``producerId >= 0``:

* epoch lower than the producer's current epoch → INVALID_PRODUCER_EPOCH;
* epoch higher (a bumped producer) → its first sequence must be 0;
* same epoch: a batch whose (first, last) sequence equals one of the producer's last five
  batches is a *duplicate* — answered with that batch's original offset, not appended
  again; otherwise the first sequence must follow the last one (modulo 2^31), else
  OUT_OF_ORDER_SEQUENCE_NUMBER;
* an unknown producer (no state: never seen, or its batches removed by retention or
  DeleteRecords) may start at any sequence, as in Kafka (``checkSequence`` accepts any
  sequence when the current epoch is NO_PRODUCER_EPOCH): a producer whose state is gone
  can go on writing instead of failing fatally.

State is rebuilt on start-up from a snapshot written at clean shutdown plus a scan of the
batch headers appended after the snapshot's offset, so it survives restarts and crashes
alike. All partitions' snapshots go to one file, ``producer-snapshots.json`` in the first
log dir (one fsync per shutdown, not one per partition)::

    {"version": 1, "partitions": {"orders-0": {"offset": 120, "producers":
        {"4": {"epoch": 0, "batches": [[first_seq, last_seq, last_offset, delta, ts]]}}}}}

The file is removed when read at start-up; after a crash there is none, and every
partition replays its batch headers (headers only, never records) from offset 0.

Not thread-safe by itself: the owning :class:`~riverhead.broker.partition.Partition`
serialises check-append-update under its lock.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riverhead.protocol.batch import BatchHeader
from riverhead.protocol.errors import ErrorCode

MAX_CACHED_BATCHES = 5
SNAPSHOT_FILE = "producer-snapshots.json"  # in the first log dir


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
        if entry is None:  # any sequence (see the module docstring)
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

    # ---- snapshot ----------------------------------------------------------------
    def to_snapshot(self, offset: int) -> dict[str, Any]:
        """The state as JSON-ready data, valid for a log whose end offset is ``offset``."""
        return {
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

    def load_snapshot(self, data: dict[str, Any] | None, log_end_offset: int) -> int:
        """Load a :meth:`to_snapshot` result; returns the offset to replay headers from.

        No snapshot, or one beyond the log end (the log lost data after it was taken),
        means a replay from offset 0.
        """
        if not data:
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


def write_snapshots(path: Path, snapshots: dict[str, dict[str, Any]]) -> None:
    """Write every partition's snapshot to one file (one fsync for the whole broker)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        json.dump({"version": 1, "partitions": snapshots}, f)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def take_snapshots(path: Path) -> dict[str, dict[str, Any]]:
    """Read and remove the snapshot file: it describes the logs as a clean shutdown left
    them, so it must not outlive the next start (a crash later must replay instead)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logging.getLogger("riverhead.broker").warning("ignoring %s: %s", path, exc)
        data = {}
    path.unlink(missing_ok=True)
    partitions = data.get("partitions", {}) if isinstance(data, dict) else {}
    return partitions if isinstance(partitions, dict) else {}
