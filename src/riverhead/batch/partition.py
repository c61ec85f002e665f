"""Partitioners: which reduce task gets a key.

The default :func:`hash_partition` hashes a *stable* byte encoding of the key with CRC32,
never Python's ``hash()``: ``str``/``bytes`` hashes are salted per process
(``PYTHONHASHSEED``), so map tasks in different processes would send one key to different
reducers (the bug Dask bag had for years). Equal keys of one type always land together;
keys that are equal across types (``1``, ``1.0``, ``True``) may not, so keep key types
consistent.

A custom partitioner is any picklable callable ``(key, num_partitions) -> int`` in
``range(num_partitions)``, set as the job's ``PARTITIONER`` or ``MRStep(partitioner=...)``.
"""

from __future__ import annotations

import zlib
from typing import Any

Partitioner = Any  # Callable[[Any, int], int]; kept loose so bound methods fit


def key_bytes(key: Any) -> bytes:
    """A byte encoding of ``key`` that is the same in every process and run.

    ``str`` -> UTF-8; ``bytes`` as is; ``None``/``bool``/``int``/``float`` -> ``repr``;
    tuples and lists -> their items' encodings, length-prefixed; anything else ->
    ``repr`` (stable for types whose ``repr`` shows their value).
    """
    if type(key) is str:
        return key.encode("utf-8", "surrogatepass")
    if isinstance(key, bytes):
        return key
    if isinstance(key, tuple | list):
        parts = [key_bytes(item) for item in key]
        return b"".join(len(p).to_bytes(4, "little") + p for p in parts)
    return repr(key).encode("utf-8", "surrogatepass")


def hash_partition(key: Any, num_partitions: int) -> int:
    """``crc32(key_bytes(key)) % num_partitions``: stable across processes and runs."""
    if num_partitions == 1:
        return 0
    if type(key) is str:
        return zlib.crc32(key.encode("utf-8", "surrogatepass")) % num_partitions
    return zlib.crc32(key_bytes(key)) % num_partitions
