"""The pieces of the Kafka path that need no broker: contiguous-ack offsets, formats,
loading an app file, metrics merging and the CLI's event lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riverhead.cli.stream import describe_event
from riverhead.stream import ComponentStats, StreamError, Topology
from riverhead.stream.formats import decode, encode
from riverhead.stream.loader import load_topology
from riverhead.stream.metrics import merge, stats_rows
from riverhead.stream.offsets import OffsetTracker

pytestmark = pytest.mark.unit


def test_commit_position_is_the_lowest_offset_not_done() -> None:
    t = OffsetTracker()
    t.assign("p0")
    assert t.committable("p0") is None
    for off in (5, 6, 7, 8):
        t.emitted("p0", off)
    t.done("p0", 6)
    t.done("p0", 8)
    assert t.committable("p0") == 5
    t.done("p0", 5)
    assert t.committable("p0") == 7
    t.done("p0", 7)
    assert t.committable("p0") == 9 and t.in_flight() == 0
    t.revoke("p0")
    t.done("p0", 9)  # ignored after revocation
    assert t.committable("p0") is None and not t.tracks("p0")


@given(st.lists(st.booleans(), min_size=1, max_size=60), st.randoms())
def test_never_commits_past_an_unfinished_offset(done_flags: list[bool], rnd: object) -> None:
    t = OffsetTracker()
    offsets = list(range(100, 100 + len(done_flags)))
    for off in offsets:
        t.emitted("p", off)
    finished = [o for o, d in zip(offsets, done_flags, strict=True) if d]
    rnd.shuffle(finished)  # type: ignore[attr-defined]
    for off in finished:
        t.done("p", off)
    pos = t.committable("p")
    unfinished = [o for o, d in zip(offsets, done_flags, strict=True) if not d]
    if unfinished:
        assert pos == min(unfinished)
    else:
        assert pos == offsets[-1] + 1


def test_formats_round_trip() -> None:
    assert decode("json", encode("json", {"a": [1, "é"]})) == {"a": [1, "é"]}
    assert decode("string", encode("string", "héllo")) == "héllo"
    assert decode("bytes", encode("bytes", b"\x00\xff")) == b"\x00\xff"
    assert decode("json", None) is None and encode("string", None) is None
    with pytest.raises(ValueError):
        decode("json", b"{not json")
    with pytest.raises(TypeError):
        encode("bytes", 5)


APP = """
from riverhead.stream import Topology
from riverhead.stream.testing import CollectingBolt, ListSpout
calls = []
def build_topology():
    t = Topology("from-build")
    t.spout("s", ListSpout([1]))
    t.bolt("b", CollectingBolt()).shuffle_grouping("s")
    return t
other = Topology("other")
if __name__ == "__main__":
    raise SystemExit("must not run under the loader")
"""


def test_loader_prefers_build_topology_and_skips_main(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    assert load_topology(str(app)).name == "from-build"
    assert load_topology(f"{app}:other").name == "other"
    with pytest.raises(StreamError, match="no attribute 'missing'"):
        load_topology(f"{app}:missing")
    with pytest.raises(StreamError, match="no such file"):
        load_topology(str(tmp_path / "nope.py"))
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(StreamError, match="neither build_topology"):
        load_topology(str(tmp_path / "empty.py"))
    (tmp_path / "bad.py").write_text("topology = 5\n")
    with pytest.raises(StreamError, match="not a Topology"):
        load_topology(str(tmp_path / "bad.py"))
    assert isinstance(load_topology(str(app)), Topology)


def test_stats_from_workers_merge_per_component() -> None:
    a = ComponentStats("count", "bolt", 2, emitted=10, executed=10, acked=10,
                       process_latency_ms=1.0, queue=3, max_queue=5, extra={"x": 1})
    b = ComponentStats("count", "bolt", 2, emitted=30, executed=30, acked=30,
                       process_latency_ms=3.0, queue=1, max_queue=9, extra={"x": 2})
    merged = merge([a, b])["count"]
    assert (merged.tasks, merged.emitted, merged.queue, merged.max_queue) == (4, 40, 4, 9)
    assert merged.process_latency_ms == pytest.approx(2.5)  # weighted by executed
    assert merged.extra == {"x": 3}
    assert stats_rows([merged])[0][:4] == ["count", "bolt", 4, 40]


def test_cli_event_lines() -> None:
    assert describe_event({"event": "started", "worker": 1, "pid": 42,
                           "repartition_topics": []}) == "worker 1 started (pid 42)"
    line = describe_event({"event": "exited", "worker": 0, "pid": 7, "code": -9,
                           "clean": False})
    assert line is not None and "exited with code -9" in line
    assert describe_event({"event": "exited", "worker": 0, "code": 0, "clean": True}) is None
    assert describe_event({"event": "stats", "worker": 0, "components": []}) is None


def test_cli_reports_a_bad_app_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from riverhead.cli.main import run

    (tmp_path / "bad.py").write_text("x = 1\n")
    assert run(["stream", "run", str(tmp_path / "bad.py"), "--workers", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: INVALID_TOPOLOGY: ")
    assert "(hint: APP must define build_topology()" in err[0]
