"""Property tests of the acker: random tuple trees, with anchored emits, acks, fails and
timeouts in random order, complete exactly when they should.

The trees are built through the real collectors (the specialised ``emit`` and the inlined
``ack`` of :mod:`riverhead.stream.executor`), not a re-implementation: a topology of one
spout and one bolt subscribed to itself is wired by a LocalRunner, and the test plays the
scheduler, picking which live tuple to act on next. A model tracks, per tree, the tuples
created and acked; after every step the trees the acker finished must be exactly those
the model says are finished, with the right outcome, each reported once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riverhead.stream import Bolt, LocalRunner, Spout, Topology, Tuple
from riverhead.stream.acker import MSG_ID, Acker
from riverhead.stream.components import Failure

pytestmark = pytest.mark.unit


class Source(Spout):
    outputs = ("node",)


class Node(Bolt):
    outputs = ("node",)


@dataclass
class Tree:
    created: set[int] = field(default_factory=set)  # model ids of tuples in the tree
    acked: set[int] = field(default_factory=set)
    outcome: str | None = None  # "acked" / "failed" / "timeout" once finished


def build(fanout: int, seed: int) -> tuple[LocalRunner, Any, list[Any], Acker]:
    topology = Topology("prop", message_timeout=5.0)
    topology.spout("src", Source())
    decl = topology.bolt("node", Node(), parallelism=fanout)
    decl.all_grouping("src").shuffle_grouping("node")
    runner = LocalRunner(topology, collect=False, seed=seed)
    spout = next(t for t in runner.tasks if t.is_spout)
    nodes = [t for t in runner.tasks if t.component == "node"]
    assert runner.acker is not None
    return runner, spout, nodes, runner.acker


@settings(max_examples=150, deadline=None)
@given(
    fanout=st.integers(1, 3),
    roots=st.integers(1, 4),
    steps=st.integers(0, 60),
    seed=st.integers(0, 2**32 - 1),
    multi_anchor=st.booleans(),
    timeouts=st.booleans(),
)
def test_trees_complete_exactly_when_all_their_tuples_are_acked(
    fanout: int, roots: int, steps: int, seed: int, multi_anchor: bool, timeouts: bool
) -> None:
    rng = random.Random(seed)
    _runner, spout, nodes, acker = build(fanout, seed)
    trees: dict[int, Tree] = {}
    live: dict[int, tuple[Tuple, frozenset[int]]] = {}  # model id -> (tuple, its trees)
    next_id = 0

    def collect(trees_of: frozenset[int]) -> None:
        nonlocal next_id
        for task in nodes:
            for tup in task.inbox:
                live[next_id] = (tup, trees_of)
                for r in trees_of:
                    trees[r].created.add(next_id)
                next_id += 1
            task.inbox.clear()

    for r in range(roots):
        trees[r] = Tree()
        spout.instance.emit((f"root{r}",), msg_id=r)
        collect(frozenset({r}))
    finished: dict[int, str] = {}

    def check() -> None:
        for rec in acker.acked:
            assert rec[MSG_ID] not in finished
            finished[rec[MSG_ID]] = "acked"
        acker.acked.clear()
        for rec, failure in acker.failed:
            assert rec[MSG_ID] not in finished
            finished[rec[MSG_ID]] = failure.reason
        acker.failed.clear()
        for r, tree in trees.items():
            if tree.outcome is None and tree.created <= tree.acked:
                tree.outcome = "acked"
            assert finished.get(r) == tree.outcome, (r, tree, finished)

    check()
    node = nodes[0].instance
    for _ in range(steps):
        if not live:
            break
        mid = rng.choice(sorted(live))
        tup, trees_of = live[mid]
        op = rng.random()
        if op < 0.45:  # emit children anchored to it (and maybe to a second live tuple)
            anchors = [tup]
            roots_of = set(trees_of)
            if multi_anchor and len(live) > 1 and rng.random() < 0.5:
                other = rng.choice([k for k in live if k != mid])
                anchors.append(live[other][0])
                roots_of |= live[other][1]
            for _ in range(rng.randint(1, 3)):
                node.emit((f"n{next_id}",), anchors=anchors)
            collect(frozenset(roots_of))
        elif op < 0.9:
            node.ack(tup)
            del live[mid]
            for r in trees_of:
                trees[r].acked.add(mid)
        elif op < 0.97 or not timeouts:
            node.fail(tup)
            del live[mid]
            for r in trees_of:
                if trees[r].outcome is None:
                    trees[r].outcome = "failed"
        else:
            acker.expire(float("inf"))
            for tree in trees.values():
                if tree.outcome is None and not tree.created <= tree.acked:
                    tree.outcome = "timeout"
        check()
    # Ack everything still alive: every tree must now be finished.
    for mid in sorted(live):
        tup, trees_of = live[mid]
        node.ack(tup)
        for r in trees_of:
            trees[r].acked.add(mid)
        check()
    assert set(finished) == set(trees)
    assert len(acker) == 0 and acker.in_flight == [0]


@settings(max_examples=200, deadline=None)
@given(
    edges=st.lists(st.integers(1, 2**64 - 1), min_size=1, max_size=20, unique=True),
    seed=st.integers(0, 2**32 - 1),
)
def test_xor_reaches_zero_only_after_the_last_ack_in_any_order(edges: list[int], seed: int) -> None:
    """The acker alone: init with the XOR of the edges, ack them one by one shuffled."""
    acker = Acker(timeout=30.0)
    init = 0
    for e in edges:
        init ^= e
    acker.init(root=1, val=init, slot=0, msg_id="m", now=0.0)
    order = list(edges)
    random.Random(seed).shuffle(order)
    for e in order:
        assert acker.acked == []  # not before the last ack
        acker.ack(1, e)
    assert [rec[MSG_ID] for rec in acker.acked] == ["m"] and len(acker) == 0


def test_acker_fail_timeout_reset_and_late_messages() -> None:
    acker = Acker(timeout=10.0, slots=2)
    acker.init(1, 0b1010, 0, "a", now=0.0)
    acker.init(2, 0b0110, 1, "b", now=1.0)
    acker.init(3, 0b0001, 1, "c", now=2.0)
    assert acker.in_flight == [1, 2] and acker.next_deadline() == 10.0
    acker.fail(1, Failure("failed", "x"))
    acker.ack(1, 0b1010)  # late ack after the failure: ignored
    assert [(r[MSG_ID], f.reason) for r, f in acker.failed] == [("a", "failed")]
    acker.reset(2, now=5.0)  # b now expires at 15
    assert acker.expire(12.0) == 1  # only c
    assert [(r[MSG_ID], f.reason) for r, f in acker.failed][1:] == [("c", "timeout")]
    assert acker.expire(16.0) == 1 and len(acker) == 0 and acker.in_flight == [0, 0]
    acker.init(4, 0, 0, "empty", now=0.0)  # a tuple that went nowhere completes at once
    assert acker.acked[-1][MSG_ID] == "empty"
