"""Topology validation: errors say what is wrong and where."""

from __future__ import annotations

import pytest

import riverhead.stream as stream
from riverhead.stream import Bolt, NotRunningError, Spout, Topology, TopologyError
from riverhead.stream.testing import CollectingBolt, ListSpout

pytestmark = pytest.mark.unit


class Words(Spout):
    outputs = ("word",)


def base() -> Topology:
    t = Topology("v")
    t.spout("words", Words())
    return t


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (lambda t: t.bolt("b", CollectingBolt()).shuffle_grouping("nope"), "unknown component"),
        (lambda t: t.bolt("b", CollectingBolt()).shuffle_grouping("words", stream="x"),
         "does not declare"),
        (lambda t: t.bolt("b", CollectingBolt()).fields_grouping("words", "count"),
         "not among its fields"),
        (lambda t: t.bolt("b", CollectingBolt()).direct_grouping("words"),
         "not a direct stream"),
    ],
)
def test_bad_subscriptions_are_rejected(wire: object, message: str) -> None:
    t = base()
    wire(t)  # type: ignore[operator]
    with pytest.raises(TopologyError, match=message):
        t.validate()


def test_names_parallelism_and_types_are_checked() -> None:
    t = base()
    with pytest.raises(TopologyError, match="already used"):
        t.spout("words", Words())
    with pytest.raises(TopologyError, match="reserved"):
        t.bolt("__x", CollectingBolt())
    with pytest.raises(TopologyError, match="parallelism"):
        t.bolt("b", CollectingBolt(), parallelism=0)
    with pytest.raises(TopologyError, match="not a Bolt"):
        t.bolt("b", Words())  # type: ignore[arg-type]
    with pytest.raises(TopologyError, match="topology name"):
        Topology("bad name")
    with pytest.raises(TopologyError, match="no spout"):
        Topology("empty").validate()


def test_direct_stream_needs_direct_grouping() -> None:
    spout = ListSpout([1])
    spout.declare_stream("d", ("v",), direct=True)
    t = Topology("d")
    t.spout("s", spout)
    t.bolt("b", CollectingBolt()).shuffle_grouping("s", stream="d")
    with pytest.raises(TopologyError, match="direct stream; use direct_grouping"):
        t.validate()


def test_collector_outside_a_runner_raises() -> None:
    with pytest.raises(NotRunningError):
        Words().emit(("x",))
    with pytest.raises(NotRunningError):
        Bolt().ack(None)  # type: ignore[arg-type]


def test_public_api_is_pinned() -> None:
    assert sorted(stream.__all__) == sorted([
        "DEFAULT_STREAM", "Bolt", "BoltDeclarer", "ComponentError", "ComponentStats", "Context",
        "Declarer", "FakeClock", "Failure", "GroupingKind", "KafkaBolt", "KafkaSpout",
        "LocalRunner", "NotRunningError", "RealClock", "RunConfig", "RunResult", "Spout",
        "StreamDef", "StreamError", "TaskError", "Topology", "TopologyError", "Tuple",
        "App", "count_window", "hopping", "session", "tumbling",  # part 2
    ])
    for name in stream.__all__:
        assert getattr(stream, name) is not None


def test_bolt_order_is_topological_and_tolerates_cycles() -> None:
    t = base()
    t.bolt("c", CollectingBolt()).shuffle_grouping("b")
    t.bolt("b", CollectingBolt(fields=("word",))).shuffle_grouping("words").shuffle_grouping(
        "b")
    assert t.bolt_order() == ["b", "c"]
