"""Guaranteed processing in LocalRunner: failures, replays, timeouts, backpressure."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from riverhead.stream import (
    Bolt,
    ComponentError,
    Context,
    FakeClock,
    LocalRunner,
    Spout,
    Topology,
    Tuple,
)
from riverhead.stream.testing import CollectingBolt, ListSpout, run_topology

pytestmark = pytest.mark.unit


class Flaky(Bolt):
    """Raises (or fails, or drops) on the first attempt of every value in ``bad``."""

    outputs = ("value",)

    def __init__(self, bad: set[int], mode: str = "raise") -> None:
        self.bad = bad
        self.mode = mode
        self.seen: dict[int, int] = {}  # shared on purpose: see __deepcopy__

    def __deepcopy__(self, memo: dict[int, Any]) -> Flaky:
        clone = Flaky(self.bad, self.mode)
        clone.seen = self.seen
        return clone

    def process(self, tup: Tuple) -> None:
        v = tup["value"]
        self.seen[v] = self.seen.get(v, 0) + 1
        self.emit((v,), anchors=[tup])  # the child is emitted before the failure
        if v in self.bad and self.seen[v] == 1:
            if self.mode == "raise":
                raise ValueError(f"bad value {v}")
            if self.mode == "fail":
                self.fail(tup)
                return
            return  # "drop": never ack; the tree times out
        self.ack(tup)


def pipeline(bolt: Bolt, n: int = 30, **config: Any) -> tuple[ListSpout, CollectingBolt, Any]:
    spout = ListSpout(range(n))
    sink = CollectingBolt()
    topology = Topology("flaky")
    topology.spout("src", spout)
    topology.bolt("flaky", bolt, parallelism=2).shuffle_grouping("src")
    topology.bolt("sink", sink, parallelism=2).fields_grouping("flaky", "value")
    return spout, sink, run_topology(topology, **config)


def test_bolt_exception_fails_tree_reports_error_and_replay_completes_output() -> None:
    bad = {3, 7, 11}
    spout, sink, result = pipeline(Flaky(bad))
    assert sorted(spout.acked) == list(range(30))
    assert sorted(i for i, _ in spout.failed) == sorted(bad)
    assert {f.reason for _, f in spout.failed} == {"error"}
    assert all("ValueError: bad value" in (f.error or "") for _, f in spout.failed)
    assert {v for (v,) in sink.values} == set(range(30))  # output complete
    assert len(sink.values) == 30 + len(bad)  # children of failed attempts: at least once
    assert (result.acked, result.failed, result.pending) == (30, 3, 0)
    assert len(result.errors) == 3 and all(isinstance(e.error, ValueError) for e in result.errors)
    assert "bad value" in result.errors[0].traceback
    assert result.metrics["flaky"].errors == 3 and result.metrics["flaky"].failed == 3


def test_explicit_fail_replays() -> None:
    spout, _sink, result = pipeline(Flaky({0, 29}, mode="fail"))
    assert sorted(spout.acked) == list(range(30))
    assert [(i, f.reason, f.component) for i, f in sorted(spout.failed)] == [
        (0, "failed", "flaky"), (29, "failed", "flaky")]
    assert result.errors == []


def test_timeout_fails_and_replays_after_message_timeout() -> None:
    clock = FakeClock()
    spout, _sink, result = pipeline(Flaky({5}, mode="drop"), message_timeout=10.0, clock=clock)
    assert sorted(spout.acked) == list(range(30))
    assert [(i, f.reason) for i, f in spout.failed] == [(5, "timeout")]
    assert 10.0 <= clock.now() < 11.0
    assert result.failed == 1 and result.pending == 0


def test_no_completion_before_the_last_ack() -> None:
    """A bolt holding tuples keeps their trees open; the spout hears nothing until acked."""
    held: list[Tuple] = []

    class Holder(Bolt):
        def __deepcopy__(self, memo: dict[int, Any]) -> Holder:
            return self

        def process(self, tup: Tuple) -> None:
            held.append(tup)
            if len(held) == 5:
                for t in reversed(held):
                    assert spout.acked == []
                    self.ack(t)

    spout = ListSpout(range(5))
    topology = Topology("hold")
    topology.spout("src", spout)
    topology.bolt("hold", Holder()).shuffle_grouping("src")
    result = run_topology(topology)
    assert sorted(spout.acked) == [0, 1, 2, 3, 4] and result.failed == 0


def test_unanchored_emits_are_fire_and_forget() -> None:
    class Unanchored(Bolt):
        outputs = ("value",)

        def process(self, tup: Tuple) -> None:
            self.emit(tup.values)  # no anchors: downstream failures do not replay
            self.ack(tup)

    class AlwaysFail(Bolt):
        def process(self, tup: Tuple) -> None:
            self.fail(tup)

    spout = ListSpout(range(10))
    topology = Topology("unanchored")
    topology.spout("src", spout)
    topology.bolt("u", Unanchored()).shuffle_grouping("src")
    topology.bolt("f", AlwaysFail()).shuffle_grouping("u")
    result = run_topology(topology)
    assert sorted(spout.acked) == list(range(10)) and spout.failed == []
    assert result.metrics["f"].failed == 10


def test_multi_anchoring_fails_every_tree_of_the_child() -> None:
    class Pairs(Bolt):
        outputs = ("a", "b")

        def prepare(self, context: Context) -> None:
            self.last: Tuple | None = None

        def process(self, tup: Tuple) -> None:
            if self.last is None:
                self.last = tup
                return
            self.emit((self.last[0], tup[0]), anchors=[self.last, tup])
            self.ack(self.last)
            self.ack(tup)
            self.last = None

    class FailPair(Bolt):
        def process(self, tup: Tuple) -> None:
            if tup["a"] == 2 and tup.ids is not None:
                self.fail(tup)
                return
            self.ack(tup)

    spout = ListSpout(range(6), max_replays=0)
    topology = Topology("pairs")
    topology.spout("src", spout)
    topology.bolt("pairs", Pairs()).global_grouping("src")
    topology.bolt("check", FailPair()).shuffle_grouping("pairs")
    result = run_topology(topology)
    assert sorted(i for i, _ in spout.failed) == [2, 3]  # both parents of the failed child
    assert sorted(spout.acked) == [0, 1, 4, 5]
    assert result.pending == 0


def test_max_spout_pending_bounds_trees_in_flight() -> None:
    observed: list[int] = []

    class Watched(ListSpout):
        def next_tuple(self) -> None:
            observed.append(len(self.record.acked))
            super().next_tuple()

        def __deepcopy__(self, memo: dict[int, Any]) -> Any:
            return self

    held: list[Tuple] = []

    class Batcher(Bolt):
        def process(self, tup: Tuple) -> None:
            held.append(tup)
            if len(held) == 7:
                for t in held:
                    self.ack(t)
                held.clear()

    spout = Watched(range(70))
    topology = Topology("pending")
    topology.spout("src", spout)
    topology.bolt("b", Batcher()).shuffle_grouping("src")
    runner = LocalRunner(topology, max_spout_pending=7, spout_batch=1000)
    result = runner.run()
    assert sorted(spout.acked) == list(range(70))
    # next_tuple is never called with 7 trees in flight: emitted - acked <= 7 always.
    emitted_before = range(len(observed))
    assert all(e - a <= 7 for e, a in zip(emitted_before, observed, strict=True)
               if e < 70)
    assert result.metrics["src"].pending == 0


def test_acking_off_acks_spout_tuples_immediately_and_still_reports_errors() -> None:
    bad = {4}
    spout, sink, result = pipeline(Flaky(bad), acking=False)
    assert sorted(spout.acked) == list(range(30)) and spout.failed == []
    assert len(result.errors) == 1
    assert {v for (v,) in sink.values} == set(range(30))


def test_emit_on_undeclared_stream_is_a_reported_error() -> None:
    class Wrong(Bolt):
        outputs = ("x",)

        def process(self, tup: Tuple) -> None:
            self.emit((1,), anchors=[tup], stream="nope")

    spout = ListSpout([1], max_replays=0)
    topology = Topology("wrong")
    topology.spout("src", spout)
    topology.bolt("w", Wrong()).shuffle_grouping("src")
    result = run_topology(topology)
    assert "undeclared stream 'nope'" in str(result.errors[0].error)
    assert [i for i, _ in spout.failed] == [0]


def test_wrong_number_of_values_is_a_reported_error() -> None:
    class Wide(Bolt):
        outputs = ("x",)

        def process(self, tup: Tuple) -> None:
            self.emit((1, 2), anchors=[tup])

    topology = Topology("wide")
    topology.spout("src", ListSpout([1], max_replays=0))
    topology.bolt("w", Wide()).shuffle_grouping("src")
    result = run_topology(topology)
    assert "emitted 2 values" in str(result.errors[0].error)


def test_spout_exception_stops_the_run() -> None:
    class Broken(Spout):
        outputs = ("x",)

        def next_tuple(self) -> None:
            raise RuntimeError("source gone")

    topology = Topology("broken")
    topology.spout("s", Broken())
    with pytest.raises(ComponentError, match="source gone") as info:
        LocalRunner(topology).run()
    assert info.value.phase == "next_tuple" and info.value.component == "s"


def test_stop_drains_in_flight_trees() -> None:
    class Endless(Spout):
        outputs = ("n",)

        def open(self, context: Context) -> None:
            self.n = 0

        def next_tuple(self) -> None:
            self.n += 1
            self.emit((self.n,), msg_id=self.n)

    topology = Topology("endless")
    topology.spout("s", Endless())
    topology.bolt("sink", CollectingBolt()).shuffle_grouping("s")
    runner = LocalRunner(topology, collect=False, max_spout_pending=50)
    timer = threading.Timer(0.2, runner.stop)
    timer.start()
    result = runner.run(until_idle=False, timeout=30)
    timer.join()
    assert result.reason == "stopped"
    assert result.pending == 0 and result.acked > 0 and result.failed == 0
    assert result.metrics["s"].emitted == result.acked


def test_reset_timeout_keeps_a_slow_tree_alive() -> None:
    clock = FakeClock()
    held: list[Tuple] = []

    class Slow(Bolt):
        tick_interval = 4.0

        def process(self, tup: Tuple) -> None:
            held.append(tup)

        def tick(self) -> None:
            for t in held:
                self.reset_timeout(t)
            if clock.now() >= 25:
                for t in held:
                    self.ack(t)
                held.clear()

    spout = ListSpout([1])
    topology = Topology("slow")
    topology.spout("src", spout)
    topology.bolt("slow", Slow()).shuffle_grouping("src")
    result = run_topology(topology, clock=clock, message_timeout=10.0)
    assert spout.acked == [0] and spout.failed == [] and result.failed == 0
    assert clock.now() >= 25


def test_deterministic_runs_repeat_exactly() -> None:
    def once() -> list[Any]:
        topology = Topology("det")
        topology.spout("src", ListSpout(range(50)))
        topology.bolt("a", CollectingBolt(fields=("value",)), parallelism=3).shuffle_grouping(
            "src")
        topology.bolt("b", CollectingBolt(fields=("value",)), parallelism=2).shuffle_grouping("a")
        runner = LocalRunner(topology, deterministic=True)
        result = runner.run()
        return [(t.task_id, t.metrics.executed) for t in runner.tasks] + result.values("b")

    assert once() == once()
