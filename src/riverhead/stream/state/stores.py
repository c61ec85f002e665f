"""Key-value state stores: in memory (a dict) and embedded (SQLite, standard library).

Keys are JSON values that are hashable in Python: strings, numbers, ``None`` and tuples of
these (tuples are JSON arrays on disk and come back as tuples). Values are JSON values.
:func:`encode_key`/:func:`decode_key` give the text form used by SQLite and by changelog
records (``json.dumps`` of the key, compact, keys sorted).

Both stores implement :class:`Store`. :class:`MemoryStore` keeps Python objects as they
are (no encoding: a value put is the object later returned, so callers must not mutate a
value after ``put`` unless they ``put`` it again). :class:`SqliteStore` encodes on every
``put``; it is a cache rebuilt from the changelog, so it runs with
``synchronous=OFF`` and commits every ``commit_every`` writes and on :meth:`flush` (a
machine crash may lose its tail, which the changelog restores).

Not thread-safe: a store belongs to one task.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def encode_key(key: Any) -> str:
    return json.dumps(key, separators=(",", ":"), sort_keys=True)


def decode_key(text: str | bytes) -> Any:
    return _freeze(json.loads(text))


def encode_value(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class Store(Protocol):
    """A task's key-value map."""

    def get(self, key: Any) -> Any: ...

    def put(self, key: Any, value: Any) -> None: ...

    def delete(self, key: Any) -> None: ...

    def items(self) -> Iterator[tuple[Any, Any]]: ...

    def __len__(self) -> int: ...

    def clear(self) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """A dict. ``get`` of a missing key returns None."""

    kind = "memory"

    def __init__(self) -> None:
        self._data: dict[Any, Any] = {}
        self.get: Callable[[Any], Any] = self._data.get  # the dict's own: one C call

    def put(self, key: Any, value: Any) -> None:
        self._data[key] = value

    def delete(self, key: Any) -> None:
        self._data.pop(key, None)

    def items(self) -> Iterator[tuple[Any, Any]]:
        return iter(list(self._data.items()))

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._data.clear()


class SqliteStore:
    """One table ``kv(k TEXT PRIMARY KEY, v TEXT)`` in ``path`` (``":memory:"`` works).

    Values are decoded on every ``get``: a returned object is a fresh copy.
    """

    kind = "sqlite"

    def __init__(self, path: str | Path = ":memory:", table: str = "kv",
                 commit_every: int = 1000) -> None:
        if not table.replace("_", "").isalnum():
            raise ValueError(f"table name {table!r}: letters, digits and '_' only")
        self.path = str(path)
        self.table = table
        self.commit_every = commit_every
        self._db = sqlite3.connect(self.path, isolation_level="DEFERRED",
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} (k TEXT PRIMARY KEY, v TEXT)")
        self._get = f"SELECT v FROM {table} WHERE k = ?"
        self._put = f"INSERT OR REPLACE INTO {table} (k, v) VALUES (?, ?)"
        self._del = f"DELETE FROM {table} WHERE k = ?"
        self._writes = 0

    def get(self, key: Any) -> Any:
        row = self._db.execute(self._get, (encode_key(key),)).fetchone()
        return None if row is None else json.loads(row[0])

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes >= self.commit_every:
            self.flush()

    def put(self, key: Any, value: Any) -> None:
        self._db.execute(self._put, (encode_key(key), encode_value(value)))
        self._wrote()

    def delete(self, key: Any) -> None:
        self._db.execute(self._del, (encode_key(key),))
        self._wrote()

    def items(self) -> Iterator[tuple[Any, Any]]:
        rows = self._db.execute(f"SELECT k, v FROM {self.table}").fetchall()
        return ((decode_key(k), json.loads(v)) for k, v in rows)

    def __len__(self) -> int:
        return int(self._db.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0])

    def clear(self) -> None:
        self._db.execute(f"DELETE FROM {self.table}")
        self.flush()

    def flush(self) -> None:
        self._db.commit()
        self._writes = 0

    def close(self) -> None:
        self.flush()
        self._db.close()


def open_store(kind: str, path: str | Path | None = None, table: str = "kv") -> Store:
    """``"memory"`` or ``"sqlite"`` (``path`` None: an in-memory SQLite database)."""
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqliteStore(path or ":memory:", table)
    raise ValueError(f"unknown store kind {kind!r}; use 'memory' or 'sqlite'")
