"""Micro-batches: many records in one step tuple (Storm Trident's answer to per-tuple cost).

A DSL step tuple (:data:`~riverhead.stream.operators.FIELDS`) whose ``ts`` field is
:data:`BATCH` carries records as columns in its ``value`` field::

    key    the routing key: every record of the batch goes to the same task/partition
    value  [keys, values, timestamps, offsets]   four lists of one length (offsets: None
           when the records have no source offsets, e.g. window results)
    ts     "batch"
    wm     the emitting task's watermark *before* the batch's records
    wch    the emitting task's watermark channel
    src    the source partition "topic:p" of every record (None after a window)
    off    None

Invariants: a batch holds records of one source partition, in offset order; its ``wm``
never counts its own records, so a watermark moves *between* batches, not inside one
(Flink's periodic watermarks, with one batch as the period). A batch round-trips through
JSON (a repartition topic) unchanged except that tuple keys come back as lists, as
single records' do.

A Kafka spout batch (``KafkaSpout(..., batch=N)``, N > 1) has the spout's fields with lists
in ``key``, ``value``, ``headers``, ``offset`` and ``timestamp`` (one partition).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import compress
from typing import Any

BATCH = "batch"
Columns = list[Any]
"""``[keys, values, timestamps, offsets or None]``."""


def is_batch(values: Sequence[Any]) -> bool:
    """Whether a step tuple's values are a micro-batch."""
    return bool(values[2] == BATCH)


def select(cols: Columns, mask: Sequence[Any]) -> Columns:
    """The rows of ``cols`` where ``mask`` is true."""
    keys, values, tss, offs = cols
    return [list(compress(keys, mask)), list(compress(values, mask)),
            list(compress(tss, mask)), None if offs is None else list(compress(offs, mask))]


def split(cols: Columns, places: list[int]) -> dict[int, Columns]:
    """Rows of ``cols`` per place (``places[i]`` is row ``i``'s), order kept."""
    first = places[0]
    if places.count(first) == len(places):
        return {first: cols}
    out: dict[int, Columns] = {}
    keys, values, tss, offs = cols
    for i, p in enumerate(places):
        part = out.get(p)
        if part is None:
            part = out[p] = [[], [], [], None if offs is None else []]
        part[0].append(keys[i])
        part[1].append(values[i])
        part[2].append(tss[i])
        if offs is not None:
            part[3].append(offs[i])
    return out


class PlaceMemo:
    """``place(key)`` memoized (a key's task or repartition partition); the memo is
    cleared when it holds ``limit`` keys. Not thread-safe."""

    def __init__(self, place: Callable[[Any], int], limit: int = 100_000) -> None:
        self.place = place
        self.limit = limit
        self.memo: dict[Any, int] = {}

    def places(self, keys: Sequence[Any]) -> list[int]:
        memo = self.memo
        try:
            return [memo[k] for k in keys]
        except (KeyError, TypeError):
            pass
        if len(memo) >= self.limit:
            memo.clear()
        place = self.place
        out = []
        for k in keys:
            try:
                p = memo.get(k)
            except TypeError:  # unhashable (a list key after JSON): no memo
                out.append(place(tuple(k) if isinstance(k, list) else k))
                continue
            if p is None:
                p = memo[k] = place(k)
            out.append(p)
        return out
