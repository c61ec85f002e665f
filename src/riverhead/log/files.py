"""File descriptors and cached index bytes of the logs: what a partition keeps open.

The fd model (see ``docs/log-format.md``, "Open files and memory"):

* the **active** segment of every partition holds one fd, its ``.log`` opened for append;
* **rolled** segments hold none while idle. A read opens the ``.log`` read-only through
  :data:`SEGMENT_FILES`, a process-wide LRU of at most ``capacity`` fds (default
  :data:`DEFAULT_OPEN_SEGMENT_FILES`); the least recently read one is dropped when it is
  full;
* **index files** never hold an fd: the active segment's entries live in memory and are
  written with a short-lived fd on roll and close; a rolled segment's index is read into
  ``bytes`` on its first lookup and kept in :data:`INDEX_BYTES`, an LRU bounded by total
  bytes (default :data:`DEFAULT_INDEX_CACHE_BYTES`).

So a broker with *P* partitions holds at most ``P + SEGMENT_FILES.capacity`` segment fds,
plus one per :class:`~riverhead.log.partition.FileSlice` still being sent after its fd
left the cache.

Lifetime: an fd belongs to a :class:`FileHandle`, which closes it when the last reference
goes away (CPython frees at the last reference). Dropping a handle from a cache therefore
never closes an fd under a reader: a lock-free reader holds the handle object (not just
the int) for as long as it uses the fd, and a ``FileSlice`` handed to the network holds
it until sent. The same holds for cached index bytes: eviction drops the cache's
reference, a reader keeps its own.

Thread-safety: :class:`BoundedCache` is safe for any number of threads (one lock around
the LRU bookkeeping; loading happens outside the lock, so two threads may load the same
key at once and one result is dropped). A key whose owner is ``closed`` is never
inserted, so a closed segment cannot leave an fd behind in the cache.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

DEFAULT_OPEN_SEGMENT_FILES = 1000
DEFAULT_INDEX_CACHE_BYTES = 64 << 20


class FileHandle:
    """Owns an OS file descriptor; closes it when garbage (CPython: at the last reference)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __del__(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


CLOSED = FileHandle(-1)


class Owner(Protocol):
    """A cache key: a segment or an index; ``closed`` ones are never cached."""

    @property
    def closed(self) -> bool: ...


K = TypeVar("K", bound=Owner)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """An LRU from owner objects (by identity) to values, bounded by total weight.

    ``weight(value)`` is 1 per fd for :data:`SEGMENT_FILES` and the byte length for
    :data:`INDEX_BYTES`. A value heavier than the whole capacity is returned uncached.
    """

    def __init__(self, capacity: int, weight: Callable[[V], int]) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[K, V] = OrderedDict()
        self._weight = weight
        self._total = 0
        self.capacity = capacity
        self.loads = 0  # values loaded (cache misses), for tests and tools
        self.evictions = 0

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The cached value of ``key``, else ``load()`` (outside the lock), cached unless
        ``key.closed``. Exceptions from ``load`` propagate and cache nothing."""
        items = self._items
        with self._lock:
            value = items.get(key)
            if value is not None:
                items.move_to_end(key)
                return value
        value = load()
        weight = self._weight(value)
        dropped: list[V] = []  # released after the lock: closing an fd is a syscall
        with self._lock:
            self.loads += 1
            current = items.get(key)
            if current is not None:  # another thread loaded it meanwhile: share theirs
                items.move_to_end(key)
                return current
            if key.closed or weight > self.capacity:
                return value
            items[key] = value
            self._total += weight
            while self._total > self.capacity:
                _, old = items.popitem(last=False)
                self._total -= self._weight(old)
                self.evictions += 1
                dropped.append(old)
        del dropped
        return value

    def put(self, key: K, value: V) -> None:
        """Insert or replace ``key``'s value (e.g. an index just written on roll)."""
        weight = self._weight(value)
        dropped: list[V] = []
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._total -= self._weight(old)
                dropped.append(old)
            if key.closed or weight > self.capacity:
                return
            self._items[key] = value
            self._total += weight
            while self._total > self.capacity:
                _, evicted = self._items.popitem(last=False)
                self._total -= self._weight(evicted)
                self.evictions += 1
                dropped.append(evicted)
        del dropped

    def discard(self, key: K) -> None:
        """Forget ``key`` (its value is released once no reader holds it)."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._total -= self._weight(old)
        del old

    def resize(self, capacity: int) -> None:
        """Change the bound, evicting least recently used values if needed."""
        dropped: list[V] = []
        with self._lock:
            self.capacity = capacity
            while self._items and self._total > capacity:
                _, old = self._items.popitem(last=False)
                self._total -= self._weight(old)
                self.evictions += 1
                dropped.append(old)
        del dropped

    def clear(self) -> None:
        """Forget everything (tests; values are released once no reader holds them)."""
        with self._lock:
            items, self._items, self._total = self._items, OrderedDict(), 0
        del items

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def total_weight(self) -> int:
        return self._total


def _one(_: FileHandle) -> int:
    return 1


def _length(value: bytes) -> int:
    return len(value)


SEGMENT_FILES: BoundedCache[Owner, FileHandle] = BoundedCache(DEFAULT_OPEN_SEGMENT_FILES, _one)
"""Read-only fds of rolled segments' ``.log`` files, process-wide."""

INDEX_BYTES: BoundedCache[Owner, bytes] = BoundedCache(DEFAULT_INDEX_CACHE_BYTES, _length)
"""Entries of rolled segments' index files, process-wide."""


def configure(
    *, open_segment_files: int | None = None, index_cache_bytes: int | None = None
) -> None:
    """Set the process-wide bounds (e.g. from broker settings). Thread-safe."""
    if open_segment_files is not None:
        if open_segment_files < 1:
            raise ValueError(f"open_segment_files must be >= 1, got {open_segment_files}")
        SEGMENT_FILES.resize(open_segment_files)
    if index_cache_bytes is not None:
        if index_cache_bytes < 0:
            raise ValueError(f"index_cache_bytes must be >= 0, got {index_cache_bytes}")
        INDEX_BYTES.resize(index_cache_bytes)


def read_file(path: str | os.PathLike[str]) -> bytes | None:
    """The whole file, or None if it does not exist (one open, fstat, read, close)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size) if size else b""
        while len(data) < size:  # os.read may return less (signals, huge files)
            more = os.read(fd, size - len(data))
            if not more:
                break
            data += more
        return data
    finally:
        os.close(fd)
