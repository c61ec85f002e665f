"""Groupings, named streams, direct emits, parallelism and the task context."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from riverhead.stream import Bolt, Context, LocalRunner, Spout, Topology, Tuple
from riverhead.stream.groupings import stable_hash
from riverhead.stream.testing import CollectingBolt, ListSpout, run_topology

pytestmark = pytest.mark.unit


class TaskTagger(Bolt):
    """Emits (task_index, value) for every input; records its context."""

    outputs = ("task", "value")

    def prepare(self, context: Context) -> None:
        self.ctx = context

    def process(self, tup: Tuple) -> None:
        self.emit((self.ctx.task_index, tup[0]), anchors=[tup])
        self.ack(tup)


def tagged(
    grouping: str, n_items: int = 40, parallelism: int = 4, **kw: Any
) -> list[tuple[int, Any]]:
    topology = Topology("g")
    topology.spout("src", ListSpout([f"k{i % 7}" for i in range(n_items)], fields=("key",)))
    decl = topology.bolt("tag", TaskTagger(), parallelism=parallelism)
    if grouping == "fields":
        decl.fields_grouping("src", "key")
    else:
        getattr(decl, f"{grouping}_grouping")("src")
    result = run_topology(topology, **kw)
    assert result.acked == n_items and result.failed == 0
    return result.emitted["tag"]


def test_shuffle_spreads_evenly() -> None:
    counts = Counter(task for task, _ in tagged("shuffle"))
    assert sorted(counts.values()) == [10, 10, 10, 10]


def test_local_or_shuffle_spreads_evenly_in_process() -> None:
    counts = Counter(task for task, _ in tagged("local_or_shuffle"))
    assert sorted(counts.values()) == [10, 10, 10, 10]


def test_fields_routes_equal_keys_to_one_task_stably() -> None:
    out = tagged("fields")
    tasks_by_key: dict[str, set[int]] = {}
    for task, key in out:
        tasks_by_key.setdefault(key, set()).add(task)
    assert all(len(t) == 1 for t in tasks_by_key.values())
    # Stable across runs and processes: the task is the CRC-32 of the key mod 4.
    assert all(t == {stable_hash(k) % 4} for k, t in tasks_by_key.items())
    assert tagged("fields", seed=7) == tagged("fields", seed=7)


def test_all_sends_every_tuple_to_every_task() -> None:
    out = tagged("all", n_items=10)
    assert Counter(task for task, _ in out) == {0: 10, 1: 10, 2: 10, 3: 10}


def test_global_sends_everything_to_the_lowest_task() -> None:
    assert {task for task, _ in tagged("global")} == {0}


class PairTagger(Bolt):
    outputs = ("task", "a", "b")

    def process(self, tup: Tuple) -> None:
        self.emit((self.context.task_index, tup["a"], tup["b"]), anchors=tup)
        self.ack(tup)


def test_fields_grouping_on_two_fields() -> None:
    topology = Topology("two")
    items = [(a, b) for a in "xyz" for b in range(4)] * 3
    topology.spout("src", ListSpout(items, fields=("a", "b")))
    topology.bolt("tag", PairTagger(), parallelism=3).fields_grouping("src", "a", "b")
    result = run_topology(topology)
    tasks: dict[tuple[str, int], set[int]] = {}
    for task, a, b in result.emitted["tag"]:
        tasks.setdefault((a, b), set()).add(task)
    assert len(result.emitted["tag"]) == 36
    assert all(len(t) == 1 for t in tasks.values()) and len(tasks) == 12
    assert len({next(iter(t)) for t in tasks.values()}) > 1  # keys spread over tasks


class Router(Bolt):
    """Sends even numbers to "even" and odd ones to the default stream; numbers divisible
    by 3 directly to the last task of "direct-sink"."""

    outputs = ("n",)

    def __init__(self) -> None:
        self.declare_stream("even", ("n", "half"))
        self.declare_stream("direct", ("n",), direct=True)

    def prepare(self, context: Context) -> None:
        self.targets = context.tasks_of("direct-sink")

    def process(self, tup: Tuple) -> None:
        n = tup["value"]
        if n % 2 == 0:
            self.emit((n, n // 2), anchors=[tup], stream="even")
        else:
            self.emit((n,), anchors=[tup])
        if n % 3 == 0:
            self.emit_direct(self.targets[-1], (n,), anchors=[tup], stream="direct")
        self.ack(tup)


def test_named_and_direct_streams() -> None:
    evens, odds, direct = CollectingBolt(), CollectingBolt(), CollectingBolt()
    topology = Topology("streams")
    topology.spout("src", ListSpout(range(12)))
    topology.bolt("router", Router(), parallelism=2).shuffle_grouping("src")
    topology.bolt("evens", evens).shuffle_grouping("router", stream="even")
    topology.bolt("odds", odds).shuffle_grouping("router")
    topology.bolt("direct-sink", direct, parallelism=3).direct_grouping("router", stream="direct")
    result = run_topology(topology)
    assert sorted(evens.values) == [(n, n // 2) for n in range(0, 12, 2)]
    assert sorted(odds.values) == [(n,) for n in range(1, 12, 2)]
    assert sorted(direct.values) == [(0,), (3,), (6,), (9,)]
    assert {t.source for t in direct.tuples} == {"router"}
    assert {t.stream for t in evens.tuples} == {"even"}
    assert {t.stream for t in direct.tuples} == {"direct"}
    assert result.values("router", "even") == [(n, n // 2) for n in range(0, 12, 2)]
    assert (result.acked, result.failed) == (12, 0)


def test_direct_emit_reaches_only_the_chosen_task() -> None:
    topology = Topology("direct")
    topology.spout("src", ListSpout(range(12)))
    topology.bolt("router", Router(), parallelism=2).shuffle_grouping("src")
    topology.bolt("evens", CollectingBolt()).shuffle_grouping("router", stream="even")
    topology.bolt("odds", CollectingBolt()).shuffle_grouping("router")
    topology.bolt("direct-sink", CollectingBolt(), parallelism=3).direct_grouping(
        "router", stream="direct"
    )
    runner = LocalRunner(topology, deterministic=True)
    runner.run()
    executed = [t.metrics.executed for t in runner.tasks if t.component == "direct-sink"]
    assert executed == [0, 0, 4]


def test_context_has_component_task_index_and_count() -> None:
    seen: list[tuple[str, int, int, int]] = []

    class Probe(Spout):
        outputs = ("x",)

        def open(self, context: Context) -> None:
            seen.append((context.component_id, context.task_index, context.task_count,
                         context.task_id))

    class Sink(Bolt):
        def prepare(self, context: Context) -> None:
            seen.append((context.component_id, context.task_index, context.task_count,
                         context.task_id))

    topology = Topology("ctx")
    topology.spout("p", Probe(), parallelism=2)
    topology.bolt("s", Sink(), parallelism=3).shuffle_grouping("p")
    LocalRunner(topology).run()
    assert sorted(seen) == [("p", 0, 2, 0), ("p", 1, 2, 1), ("s", 0, 3, 2), ("s", 1, 3, 3),
                            ("s", 2, 3, 4)]


def test_each_task_gets_its_own_instance() -> None:
    proto = TaskTagger()
    topology = Topology("copies")
    topology.spout("src", ListSpout(range(8)))
    topology.bolt("tag", proto, parallelism=4).shuffle_grouping("src")
    runner = LocalRunner(topology)
    runner.run()
    instances = {id(t.instance) for t in runner.tasks if t.component == "tag"}
    assert len(instances) == 4 and id(proto) not in instances
    assert not hasattr(proto, "ctx")


def test_tuple_access() -> None:
    topology = Topology("access")
    sink = CollectingBolt()
    topology.spout("src", ListSpout([("a", 1)], fields=("name", "n")))
    topology.bolt("sink", sink).shuffle_grouping("src")
    run_topology(topology)
    (tup,) = sink.tuples
    assert (tup["name"], tup["n"], tup[0], tup[-1]) == ("a", 1, "a", 1)
    assert tup.get("missing", 5) == 5 and tup.as_dict() == {"name": "a", "n": 1}
    assert tup.fields == ("name", "n") and len(tup) == 2 and list(tup) == ["a", 1]
    with pytest.raises(KeyError, match="has fields"):
        tup["nope"]
