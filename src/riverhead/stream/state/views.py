"""Typed state views over a :class:`~riverhead.stream.state.stores.Store`, with TTL.

Per key (a JSON-able hashable value), in one namespace of the store:

* :class:`ValueState` — one value per key;
* :class:`ListState` — a list per key (``append``, ``get``);
* :class:`MapState` — a map per key (``put``, ``get``, ``items``).

Each entry is stored as ``{"v": value, "x": expiry_ms or null}`` under the store key
``(namespace, key)``. With ``ttl`` (seconds), an entry written at time ``t`` expires at
``t + ttl``; expired entries read as absent and are deleted by :meth:`_View.expire` (call
it periodically, e.g. from a bolt's ``tick``) or lazily on read. Time comes from
``now_ms`` (processing time by default; pass event time to expire by event time). A
:class:`ListState`/`MapState` entry's expiry is refreshed on every write.

Not thread-safe (a task's state).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from riverhead.stream.state.stores import Store


def _wall_ms() -> int:
    return int(time.time() * 1000)


class _View:
    def __init__(self, store: Store, namespace: str, ttl: float | None = None,
                 now_ms: Callable[[], int] = _wall_ms) -> None:
        self.store = store
        self.namespace = namespace
        self.ttl_ms = None if ttl is None else int(ttl * 1000)
        self.now_ms = now_ms

    def _read(self, key: Any) -> Any:
        entry = self.store.get((self.namespace, key))
        if entry is None:
            return None
        if entry["x"] is not None and entry["x"] <= self.now_ms():
            self.store.delete((self.namespace, key))
            return None
        return entry["v"]

    def _write(self, key: Any, value: Any) -> None:
        expiry = None if self.ttl_ms is None else self.now_ms() + self.ttl_ms
        self.store.put((self.namespace, key), {"v": value, "x": expiry})

    def clear(self, key: Any) -> None:
        self.store.delete((self.namespace, key))

    def keys(self) -> Iterator[Any]:
        now = self.now_ms()
        for (ns, key), entry in self.store.items():
            if ns == self.namespace and (entry["x"] is None or entry["x"] > now):
                yield key

    def expire(self) -> int:
        """Delete expired entries of this namespace; returns how many."""
        now = self.now_ms()
        gone = [k for k, e in self.store.items()
                if k[0] == self.namespace and e["x"] is not None and e["x"] <= now]
        for k in gone:
            self.store.delete(k)
        return len(gone)


class ValueState(_View):
    def get(self, key: Any, default: Any = None) -> Any:
        value = self._read(key)
        return default if value is None else value

    def set(self, key: Any, value: Any) -> None:
        self._write(key, value)


class ListState(_View):
    def get(self, key: Any) -> list[Any]:
        return list(self._read(key) or [])

    def append(self, key: Any, item: Any) -> None:
        items = self._read(key) or []
        items.append(item)
        self._write(key, items)

    def set(self, key: Any, items: list[Any]) -> None:
        self._write(key, list(items))


class MapState(_View):
    def get(self, key: Any, field: str, default: Any = None) -> Any:
        return (self._read(key) or {}).get(field, default)

    def put(self, key: Any, field: str, value: Any) -> None:
        fields = self._read(key) or {}
        fields[field] = value
        self._write(key, fields)

    def items(self, key: Any) -> list[tuple[str, Any]]:
        return list((self._read(key) or {}).items())
