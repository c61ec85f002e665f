"""Sorted runs: spilling map output to disk and merging it back with bounded memory.

Entries are ``(key, [values...])`` lists sorted by key. A **run** is such a sorted sequence
for one partition; a key may occur in several consecutive entries (long value lists are cut
into pieces of at most :data:`CHUNK_VALUES`).

On-disk format (local runner): a spill file is the concatenation of one *segment* per
partition that has data; a segment is a sequence of pickle (protocol 5) frames, each a list
of entries holding at most about :data:`CHUNK_VALUES` values and keys. Nothing in the file
says where segments start: the :class:`RunRef` s the map task returns (path, offset, length,
partition) are the index, kept by the runner. Example: 2 partitions, keys ``a``/``c`` in
partition 0 and ``b`` in 1 -> ``[frame([("a",[3]),("c",[1,1])])][frame([("b",[2])])]`` with
refs ``(0, off=0, len=L0)`` and ``(1, off=L0, len=L1)``.

Merging (:func:`merge_runs`) is a k-way ``heapq.merge`` that holds one frame per run in
memory. More than :data:`FAN_IN` runs are first merged in groups into new runs on disk
(a multi-pass merge), so memory stays bounded by ``FAN_IN`` frames whatever the input size.
The inline runner keeps runs as Python lists instead (:class:`MemoryRunStore`).
"""

from __future__ import annotations

import heapq
import os
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

Entry = tuple[Any, list[Any]]
CHUNK_VALUES = 8192
FAN_IN = 16
_key = itemgetter(0)
_values = itemgetter(1)


@dataclass(frozen=True)
class RunRef:
    """One sorted run of one partition: a file segment, or (inline runner) a list."""

    partition: int
    entries: int
    path: str | None = None
    offset: int = 0
    length: int = 0
    data: list[Entry] | None = None

    @property
    def nbytes(self) -> int:
        return self.length


def order_key(key: Any) -> tuple[bool, Any]:
    """The sort key of a job key: ``None`` sorts first and equal ``None`` s never compare."""
    return (key is not None, key)


def _entry_order(entry: Entry) -> tuple[bool, Any]:
    return (entry[0] is not None, entry[0])


def sort_entries(entries: list[Entry]) -> None:
    """Sort ``entries`` by key in place (``None`` first, see :func:`order_key`).

    Unorderable keys (``str`` and ``int`` mixed) raise a ``TypeError`` that says so.
    """
    try:
        entries.sort(key=_key)
        return
    except TypeError:
        pass
    try:
        entries.sort(key=_entry_order)
    except TypeError as exc:
        kinds = sorted({type(e[0]).__name__ for e in entries})
        raise TypeError(
            f"keys of one step must be mutually orderable; got types {kinds}: {exc}"
        ) from exc


def chunk_entries(entries: Iterable[Entry], limit: int = CHUNK_VALUES) -> Iterator[list[Entry]]:
    """Group sorted entries into frames of about ``limit`` keys + values.

    A list is cut into slices of ``limit // 2`` entries, and a slice whose values fit is a
    frame as it is (one C-level length sum, no per-entry Python work: after a combiner
    nearly every entry holds one value); other slices go through the exact loop.
    """
    if isinstance(entries, list):
        step = max(1, limit // 2)
        for i in range(0, len(entries), step):
            piece = entries[i : i + step]
            if sum(map(len, map(_values, piece))) <= limit:
                yield piece
            else:
                yield from _chunk_exact(piece, limit)
        return
    yield from _chunk_exact(entries, limit)


def _chunk_exact(entries: Iterable[Entry], limit: int) -> Iterator[list[Entry]]:
    chunk: list[Entry] = []
    size = 0
    for key, values in entries:
        if len(values) > limit:
            if chunk:
                yield chunk
                chunk, size = [], 0
            for i in range(0, len(values), limit):
                yield [(key, values[i : i + limit])]
            continue
        chunk.append((key, values))
        size += len(values) + 1
        if size >= limit:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


class RunStore:
    """Where a task's runs go. Subclasses: :class:`FileRunStore`, :class:`MemoryRunStore`."""

    def write_spill(self, parts: dict[int, list[Entry]]) -> list[RunRef]:
        """Write one sorted run per partition (``parts`` values are sorted entries)."""
        raise NotImplementedError

    def write_run(self, partition: int, entries: Iterable[Entry]) -> RunRef:
        """Write one run from an iterator of sorted entries (used by merge passes)."""
        raise NotImplementedError

    def spilled_bytes(self) -> int:
        return 0


class FileRunStore(RunStore):
    """Runs in files ``<directory>/<prefix>-<n>.run`` (see the module docs for the format)."""

    def __init__(self, directory: str, prefix: str) -> None:
        self.directory = directory
        self.prefix = prefix
        self.count = 0
        self.bytes = 0

    def _next_path(self) -> str:
        self.count += 1
        return os.path.join(self.directory, f"{self.prefix}-{self.count}.run")

    def write_spill(self, parts: dict[int, list[Entry]]) -> list[RunRef]:
        path = self._next_path()
        refs = []
        with open(path, "wb") as out:
            for partition in sorted(parts):
                entries = parts[partition]
                start = out.tell()
                for chunk in chunk_entries(entries):
                    out.write(pickle.dumps(chunk, 5))
                refs.append(RunRef(partition, len(entries), path, start, out.tell() - start))
            self.bytes += out.tell()
        return refs

    def write_run(self, partition: int, entries: Iterable[Entry]) -> RunRef:
        path = self._next_path()
        count = 0
        with open(path, "wb") as out:
            for chunk in chunk_entries(entries):
                count += len(chunk)
                out.write(pickle.dumps(chunk, 5))
            length = out.tell()
        self.bytes += length
        return RunRef(partition, count, path, 0, length)

    def spilled_bytes(self) -> int:
        return self.bytes


class MemoryRunStore(RunStore):
    """Runs kept as Python lists: no files, no pickling (the inline runner)."""

    def write_spill(self, parts: dict[int, list[Entry]]) -> list[RunRef]:
        return [RunRef(p, len(e), data=e) for p, e in sorted(parts.items())]

    def write_run(self, partition: int, entries: Iterable[Entry]) -> RunRef:
        data = list(entries)
        return RunRef(partition, len(data), data=data)


def read_frames(ref: RunRef) -> Iterator[list[Entry]]:
    """The frames (lists of entries) of a run, one at a time."""
    if ref.data is not None:
        yield ref.data
        return
    assert ref.path is not None
    with open(ref.path, "rb") as stream:
        stream.seek(ref.offset)
        end = ref.offset + ref.length
        while stream.tell() < end:
            yield pickle.load(stream)


def read_entries(ref: RunRef) -> Iterator[Entry]:
    for frame in read_frames(ref):
        yield from frame


def merge_runs(refs: list[RunRef], store: RunStore) -> tuple[Iterator[Entry], int]:
    """All entries of ``refs`` in key order, and the number of extra merge passes made."""
    passes = 0
    while len(refs) > FAN_IN:
        passes += 1
        merged: list[RunRef] = []
        for i in range(0, len(refs), FAN_IN):
            group = refs[i : i + FAN_IN]
            if len(group) == 1:
                merged.append(group[0])
                continue
            stream = heapq.merge(*(read_entries(r) for r in group), key=_entry_order)
            merged.append(store.write_run(group[0].partition, stream))
        refs = merged
    if len(refs) == 1:
        return read_entries(refs[0]), passes
    return heapq.merge(*(read_entries(r) for r in refs), key=_entry_order), passes
