"""Stream groupings: how a stream's tuples are split among a subscriber's tasks.

=================  ==========================================================================
``shuffle``        round-robin over the tasks, starting at a random task per emitting task
                   (Storm: random with equal counts)
``fields``         a stable hash of the grouping fields' values, mod the task count: the same
                   values always reach the same task (stable across processes and runs)
``all``            every task gets a copy
``global``         the task with the lowest id
``direct``         the emitter picks the task (``emit_direct``); the stream must be direct
``local_or_shuffle``  shuffle among the tasks in the same process; in Riverhead every
                   worker runs every component, so it is a shuffle within the worker
=================  ==========================================================================

Across worker processes (``riverhead stream run --workers N``) fields and global groupings
go through a repartition topic (see :mod:`riverhead.stream.repartition`); the others stay
inside the worker.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any


class GroupingKind(Enum):
    SHUFFLE = "shuffle"
    FIELDS = "fields"
    ALL = "all"
    GLOBAL = "global"
    DIRECT = "direct"
    LOCAL_OR_SHUFFLE = "local_or_shuffle"


@dataclass(frozen=True)
class Subscription:
    """Bolt ``target`` reads ``source``'s ``stream`` with ``kind`` (``fields`` for FIELDS)."""

    target: str
    source: str
    stream: str
    kind: GroupingKind
    fields: tuple[str, ...] = ()


def _encode(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if value is None or isinstance(value, bool | int | float):
        return repr(value).encode()
    return json.dumps(value, sort_keys=True, default=repr, separators=(",", ":")).encode()


def stable_hash(value: Any) -> int:
    """A hash of a grouping key that is the same in every process and run (CRC-32).

    Python's ``hash`` of ``str`` is salted per process, so it cannot route keys
    consistently between runs or workers. Tuples of values hash field by field.
    """
    if type(value) is tuple:
        h = 0
        for item in value:
            h = zlib.crc32(_encode(item), h) ^ 0x5BD1E995
        return h
    return zlib.crc32(_encode(value))


def key_bytes(values: Sequence[Any]) -> bytes:
    """The Kafka record key for grouping values (repartition topics): compact JSON."""
    return json.dumps(list(values), separators=(",", ":"), default=repr).encode()
