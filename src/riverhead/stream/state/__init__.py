"""State stores of stateful steps: in memory or SQLite, typed views with TTL, and
changelog topics (see docs/stream-windows.md)."""

from riverhead.stream.state.stores import MemoryStore, SqliteStore, Store, open_store
from riverhead.stream.state.views import ListState, MapState, ValueState

__all__ = ["ListState", "MapState", "MemoryStore", "SqliteStore", "Store", "ValueState",
           "open_store"]
