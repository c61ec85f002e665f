"""Partitioned, changelogged state of a stateful step (window, join).

A stateful step fed through a repartition topic (``riverhead stream run``) keeps one
store per partition of that topic. A key's partition is the one its repartition record
went to (:func:`~riverhead.stream.state.changelog.partition_for` of the key bytes), so a
partition's state moves with the partition:

* **assigned** (the consumer group gives this worker the partition; a
  :data:`~riverhead.stream.kafka.ASSIGNMENT_LISTENERS` callback on this thread): the
  partition becomes owned; its store is rebuilt from changelog partition ``p`` *before*
  the first record of ``p`` is processed (lazily, on that record);
* **revoked/lost**: the store is dropped; records of ``p`` still queued here are acked
  without processing (the new owner replays them from the last committed offset).

Every change a record causes goes to the changelog (same partition ``p``) and the record
is acked only when the broker has them, so its offset is committed only after its state
change is durable. Without a repartition topic (a LocalRunner test) there is one
partition, 0, always owned, and no changelog unless ``changelog_brokers`` is given.

With ``standby``, the task also keeps warm in-memory copies of the partitions it does not
own (:mod:`riverhead.stream.state.standby`), so taking one over reads only the tail.

Stores: ``"memory"`` or ``"sqlite"`` (one database file per partition under
``state_dir``, default a temporary directory of the process; it is a cache: on
assignment it is cleared and refilled from the changelog). Not thread-safe.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from riverhead.stream import kafka
from riverhead.stream.components import Context
from riverhead.stream.groupings import key_bytes
from riverhead.stream.state.changelog import (
    ChangelogWriter,
    changelog_topic,
    ensure_topic,
    partition_for,
    restore,
    topic_partitions,
)
from riverhead.stream.state.standby import StandbyReplicas
from riverhead.stream.state.stores import MemoryStore, SqliteStore, Store

log = logging.getLogger("riverhead.stream.state")
Change = tuple[Any, Any]


class RecordingStore:
    """A store that also records each change (``(key, value or None)``) in ``changes``
    (unless ``record`` is False: a store without a changelog)."""

    def __init__(self, inner: Store, record: bool = True) -> None:
        self.inner = inner
        self.changes: list[Change] = []
        self.get: Callable[[Any], Any] = inner.get
        self.put: Callable[[Any, Any], None] = self._put if record else inner.put
        self.delete: Callable[[Any], None] = self._delete if record else inner.delete

    def _put(self, key: Any, value: Any) -> None:
        self.inner.put(key, value)
        self.changes.append((key, value))

    def _delete(self, key: Any) -> None:
        self.inner.delete(key)
        self.changes.append((key, None))

    def items(self) -> Iterator[tuple[Any, Any]]:
        return self.inner.items()

    def __len__(self) -> int:
        return len(self.inner)

    def clear(self) -> None:
        self.inner.clear()

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        self.inner.close()

    def take(self) -> list[Change]:
        out, self.changes = self.changes, []
        return out


class PartitionedState:
    """The per-partition stores of one stateful task (see the module docstring).

    ``on_open(p, store)`` is called after partition ``p``'s store is restored (the step
    rebuilds its in-memory indexes from it)."""

    def __init__(self, context: Context, kind: str,
                 on_open: Callable[[int, RecordingStore], None],
                 changelog_brokers: str | None = None, state_dir: str | None = None,
                 standby: bool = False,
                 on_partition: Callable[[int, bool], None] | None = None) -> None:
        self.context = context
        self.on_partition = on_partition
        self.kind = kind
        self.on_open = on_open
        self.stores: dict[int, RecordingStore] = {}
        me = context.component_id
        rp_in = [c for c in context.component_tasks if c.startswith(f"__rp-in.{me}.")]
        self.topics = {f"{context.topology}.{c[len('__rp-in.'):]}.repartition" for c in rp_in}
        brokers = context.config.get("brokers")
        self.distributed = bool(self.topics) and bool(brokers)
        self.brokers = str(brokers) if self.distributed else changelog_brokers
        self.partitions = 1
        self.assigned: set[int] | None = None  # None: every partition (not distributed)
        self.writer: ChangelogWriter | None = None
        self.restored_records = 0
        self.from_standby = 0
        self.skipped = 0
        self._dir = Path(state_dir) if state_dir else None
        self._own_dir = False
        if self.distributed:
            counts = {topic_partitions(self.brokers or "", t) for t in self.topics}
            self.partitions = max(counts)
            self.assigned = set()
            kafka.ASSIGNMENT_LISTENERS.append(self._on_assignment)
        if self.brokers:
            self.topic = changelog_topic(context.topology, me)
            ensure_topic(self.brokers, self.topic, self.partitions)
            self.writer = ChangelogWriter(self.brokers, self.topic)
        self.standby: StandbyReplicas | None = None
        if standby and self.distributed and self.brokers:
            self.standby = StandbyReplicas(self.brokers, self.topic, self.partitions)

    # ---- partitions ------------------------------------------------------------------

    def partition(self, key: Any) -> int:
        if self.partitions == 1:
            return 0
        return partition_for(key_bytes([key]), self.partitions)

    def owns(self, p: int) -> bool:
        return self.assigned is None or p in self.assigned

    def _on_assignment(self, group: str, parts: list[tuple[str, int]], assigned: bool) -> None:
        mine = [p for topic, p in parts if topic in self.topics]
        if not mine or self.assigned is None:
            return
        if not assigned and self.writer is not None:
            # Our pending changelog writes must be in the log before the new owner
            # restores: the group's (eager) rebalance waits for this callback.
            self.writer.flush()
        for p in mine:
            if self.on_partition is not None:
                self.on_partition(p, assigned)
            if assigned:
                self.assigned.add(p)
            else:
                self.assigned.discard(p)
                store = self.stores.pop(p, None)
                if store is not None:
                    store.close()
                if self.standby is not None:
                    self.standby.reset(p)
        log.info("%s: partitions %s %s", self.context.component_id, mine,
                 "assigned" if assigned else "revoked")

    def store(self, p: int) -> RecordingStore:
        """Partition ``p``'s store, restored from the changelog on first use."""
        store = self.stores.get(p)
        if store is None and self.standby is not None and self.writer is not None:
            self.writer.flush()
            warm, n = self.standby.take(p)
            store = RecordingStore(warm)
            self.restored_records += n
            self.from_standby += 1
            log.info("%s: restored partition %d from its standby copy (%d entries, %d "
                     "records to catch up)", self.context.component_id, p, len(warm), n)
        elif store is None:
            store = RecordingStore(self._new_store(p), record=self.writer is not None)
            store.clear()
            if self.writer is not None and self.brokers:
                self.writer.flush()  # our own earlier writes must be in the log first
                n = restore(self.brokers, self.topic, p, store.inner)
                self.restored_records += n
                log.info("%s: restored partition %d from %s (%d records)",
                         self.context.component_id, p, self.topic, n)
        if p not in self.stores:
            self.stores[p] = store
            self.on_open(p, store)
            store.take()
        return store

    def _new_store(self, p: int) -> Store:
        if self.kind == "memory":
            return MemoryStore()
        if self.kind != "sqlite":
            raise ValueError(f"unknown store {self.kind!r}; use 'memory' or 'sqlite'")
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="riverhead-state-"))
            self._own_dir = True
        self._dir.mkdir(parents=True, exist_ok=True)
        name = f"{self.context.component_id}-{self.context.task_index}-{p}.sqlite"
        return SqliteStore(self._dir / name)

    # ---- changes ---------------------------------------------------------------------

    def commit(self, p: int, done: Callable[[str | None], None]) -> None:
        """Send partition ``p``'s recorded changes; ``done(error)`` once durable."""
        store = self.stores.get(p)
        self.send(p, store.take() if store is not None else [], done)

    def send(self, p: int, changes: list[Change], done: Callable[[str | None], None]) -> None:
        """Send ``changes`` to changelog partition ``p``; ``done(error)`` once durable."""
        if self.writer is None or not changes:
            done(None)
            return
        self.writer.write(p, changes, done)

    def poll(self) -> None:
        if self.writer is not None:
            self.writer.poll()
        if self.standby is not None:
            self.standby.poll(set(self.stores) | (self.assigned or set()))

    def close(self) -> None:
        if self.distributed and self._on_assignment in kafka.ASSIGNMENT_LISTENERS:
            kafka.ASSIGNMENT_LISTENERS.remove(self._on_assignment)
        if self.writer is not None:
            self.writer.flush()
            self.writer = None  # releases the producer now, not at garbage collection
        if self.standby is not None:
            self.standby.close()
            self.standby = None
        for store in self.stores.values():
            store.close()
        self.stores.clear()
        if self._own_dir and self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
