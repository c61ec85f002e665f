"""Partitioned state against the real broker: changes go to a compacted changelog topic,
a partition assigned to another task is restored from it, revoked state is dropped, and a
standby copy only catches up on the tail."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from riverhead.stream.components import Context
from riverhead.stream.stateful import PartitionedState, RecordingStore
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration


def make_state(b: str, app: str, worker: int, standby: bool = False
               ) -> tuple[PartitionedState, list[int]]:
    context = Context(app, "win", 0, 0, 1, {"brokers": b}, worker, 2,
                      {"__rp-in.win.kb.default": (1,), "win": (0,)})
    opened: list[int] = []

    def on_open(p: int, store: RecordingStore) -> None:
        opened.append(p)

    return PartitionedState(context, "memory", on_open, standby=standby), opened


def write(state: PartitionedState, p: int, changes: list[tuple[Any, Any]]) -> None:
    store = state.store(p)
    for key, value in changes:
        if value is None:
            store.delete(key)
        else:
            store.put(key, value)
    errors: list[str | None] = []
    state.commit(p, errors.append)
    assert state.writer is not None and state.writer.flush(30) == 0
    assert errors == [None]


def test_restore_on_assignment_and_standby_catch_up(broker: BrokerProcess) -> None:
    b = broker.bootstrap
    app = f"st-{uuid.uuid4().hex[:8]}"
    rp = f"{app}.win.kb.default.repartition"
    admin = AdminClient({"bootstrap.servers": b})
    admin.create_topics([NewTopic(rp, 3, -1)])[rp].result(15)
    a, a_opened = make_state(b, app, 0)
    assert a_opened == []
    standby, s_opened = make_state(b, app, 1, standby=True)
    assert a.partitions == 3 and a.topic == f"{app}.win.changelog"
    a._on_assignment("g", [(rp, 0), (rp, 1), ("other-topic", 2)], True)
    assert a.assigned == {0, 1} and a.owns(1) and not a.owns(2)
    write(a, 0, [(("w", "k1", 0, 10), {"a": 1}), (("w", "k2", 0, 10), {"a": 2}),
                 (("w", "k1", 0, 10), {"a": 3}), (("w", "k2", 0, 10), None)])
    write(a, 1, [(("w", "x", 0, 10), {"a": 7})])
    # the standby tails the changelog while `a` owns the partitions
    deadline = time.monotonic() + 30
    while standby.standby is not None and standby.standby.stats()["standby_entries"] < 2:
        assert time.monotonic() < deadline, "the standby copy never filled"
        standby.poll()
        time.sleep(0.2)
    write(a, 1, [(("w", "x", 0, 10), {"a": 8}), (("w", "y", 0, 10), {"a": 9})])

    # `a` loses both partitions; a fresh task restores 0 from the whole changelog
    a._on_assignment("g", [(rp, 0), (rp, 1)], False)
    assert a.stores == {} and not a.owns(0) and a_opened == [0, 1]
    c, c_opened = make_state(b, app, 1)
    c._on_assignment("g", [(rp, 0)], True)
    assert dict(c.store(0).items()) == {("w", "k1", 0, 10): {"a": 3}}
    assert c.restored_records == 4 and c_opened == [0]

    # the standby takes partition 1 over: only the 2 records written since it last polled
    standby._on_assignment("g", [(rp, 1)], True)
    assert dict(standby.store(1).items()) == {("w", "x", 0, 10): {"a": 8},
                                               ("w", "y", 0, 10): {"a": 9}}
    assert standby.from_standby == 1 and standby.restored_records == 2
    assert s_opened == [1]
    for state in (a, c, standby):
        state.close()
