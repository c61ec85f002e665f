"""Standby replicas: warm copies of the changelog partitions a task does not own.

With ``standby=True`` a stateful step also tails its whole changelog topic (a consumer
without a group, assigned every partition) and applies the records of partitions it does
*not* own to in-memory copies, from its ``tick``. When a partition is then assigned to it
(a rebalance after another worker died), :meth:`StandbyReplicas.take` only reads the
records written since its copy's position, instead of the whole partition: the failover
costs the tail, not the history. A partition this task owned and lost is re-read from the
beginning when it is assigned again (its copy was not kept up to date while owned).

Costs: every worker reads every changelog record once more and keeps every partition's
state in memory. Not thread-safe (the task's thread).
"""

from __future__ import annotations

import logging
from typing import Any

from riverhead.stream.state.changelog import apply, restore
from riverhead.stream.state.stores import MemoryStore

log = logging.getLogger("riverhead.stream.state")


class StandbyReplicas:
    def __init__(self, brokers: str, topic: str, partitions: int) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        self.brokers = brokers
        self.topic = topic
        self.copies: dict[int, MemoryStore] = {p: MemoryStore() for p in range(partitions)}
        self.positions: dict[int, int] = dict.fromkeys(range(partitions), 0)
        self._consumer = Consumer({
            "bootstrap.servers": brokers, "group.id": f"{topic}.standby",
            "enable.auto.commit": False, "enable.partition.eof": False,
        })
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                               for p in range(partitions)])
        self.applied = 0

    def poll(self, owned: set[int], max_records: int = 5000) -> int:
        """Apply available records of partitions not in ``owned``; returns how many."""
        n = 0
        for msg in self._consumer.consume(num_messages=max_records, timeout=0):
            if msg.error() is not None:
                continue
            p = msg.partition()
            offset = msg.offset()
            if p is None or offset is None or p in owned or p not in self.copies:
                continue
            if offset < self.positions[p]:
                continue  # re-read after a reset, already applied
            apply(self.copies[p], msg)
            self.positions[p] = offset + 1
            n += 1
        self.applied += n
        return n

    def take(self, p: int) -> tuple[MemoryStore, int]:
        """Partition ``p``'s copy, caught up to the end of its changelog partition; returns
        ``(store, records read to catch up)``. The copy leaves the standby set."""
        store = self.copies.pop(p, None) or MemoryStore()
        start = self.positions.pop(p, 0)
        n = restore(self.brokers, self.topic, p, store, start=start)
        return store, n

    def reset(self, p: int) -> None:
        """``p`` was owned and is lost: its copy was not kept up to date meanwhile, so
        there is none until a restore from the beginning (a later :meth:`take`)."""
        self.copies.pop(p, None)
        self.positions.pop(p, None)

    def close(self) -> None:
        self._consumer.close()

    def stats(self) -> dict[str, Any]:
        return {"standby_records": self.applied,
                "standby_entries": sum(len(s) for s in self.copies.values())}
