"""Replica assignment and leader election rules (pure functions, Kafka's ZooKeeper-era
controller algorithms).

* :func:`assign_replicas` — rack-unaware round robin: partition p's replicas are the
  brokers ``(start + p + j) % n`` for j < RF, so preferred leaders spread evenly.
* :func:`elect_leader` — offline-partition election: the first replica in assignment order
  that is alive and in the ISR; if none and unclean election is on, the first live replica.
* :func:`controlled_shutdown_leader` — the first ISR replica, in assignment order, that is
  alive and not shutting down.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from riverhead.cluster.model import NO_LEADER


class AssignmentError(ValueError):
    """Not enough live brokers for the requested replication factor."""


def assign_replicas(
    brokers: Sequence[int], partitions: int, replication_factor: int, start: int = 0
) -> dict[int, tuple[int, ...]]:
    ids = sorted(brokers)
    n = len(ids)
    if replication_factor < 1:
        raise AssignmentError("replication factor must be >= 1")
    if replication_factor > n:
        raise AssignmentError(
            f"replication factor {replication_factor} is larger than the {n} live brokers"
        )
    return {
        p: tuple(ids[(start + p + j) % n] for j in range(replication_factor))
        for p in range(partitions)
    }


def elect_leader(
    replicas: Sequence[int], isr: Collection[int], live: Collection[int], *, unclean: bool = False
) -> int:
    for r in replicas:
        if r in live and r in isr:
            return r
    if unclean:
        for r in replicas:
            if r in live:
                return r
    return NO_LEADER


def controlled_shutdown_leader(
    replicas: Sequence[int], isr: Collection[int], live: Collection[int], shutting: Collection[int]
) -> int:
    for r in replicas:
        if r in isr and r in live and r not in shutting:
            return r
    return NO_LEADER
