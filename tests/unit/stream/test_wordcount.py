"""The issue's word-count example, run verbatim, and its exact counts."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

pytestmark = pytest.mark.unit

# The contract from the issue, byte for byte (it must run as written).
EXAMPLE = '''
from riverhead.stream import Topology, Spout, Bolt, LocalRunner

class Sentences(Spout):
    outputs = ("sentence",)
    def open(self, context):
        self.lines = iter(["the cow jumped over the moon", "an apple a day"] * 1000)
    def next_tuple(self):
        line = next(self.lines, None)
        if line is not None:
            self.emit((line,), msg_id=line)

class Split(Bolt):
    outputs = ("word",)
    def process(self, tup):
        for word in tup["sentence"].split():
            self.emit((word,), anchors=[tup])
        self.ack(tup)

class Count(Bolt):
    outputs = ("word", "count")
    def prepare(self, context):
        self.counts = {}
    def process(self, tup):
        word = tup["word"]
        self.counts[word] = self.counts.get(word, 0) + 1
        self.emit((word, self.counts[word]), anchors=[tup])
        self.ack(tup)

topology = Topology("word-count")
topology.spout("sentences", Sentences(), parallelism=1)
topology.bolt("split", Split(), parallelism=2).shuffle_grouping("sentences")
topology.bolt("count", Count(), parallelism=2).fields_grouping("split", "word")

result = LocalRunner(topology).run(until_idle=True)   # returns emitted tuples per component, \
acked/failed counts
'''

LINES = ["the cow jumped over the moon", "an apple a day"] * 1000


def run_example() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "wordcount_example"}
    exec(compile(EXAMPLE, "<issue-5-example>", "exec"), namespace)
    return namespace


def test_example_runs_verbatim_with_exact_counts() -> None:
    result = run_example()["result"]
    expected = Counter(word for line in LINES for word in line.split())
    finals: dict[str, int] = {}
    for word, count in result.emitted["count"]:
        finals[word] = max(finals.get(word, 0), count)
    assert finals == dict(expected)
    # Every word emitted once per occurrence, with counts 1..n per word.
    per_word = Counter(word for word, _ in result.emitted["count"])
    assert per_word == expected
    assert sorted(result.emitted["split"]) == sorted((w,) for w in expected.elements())
    assert len(result.emitted["sentences"]) == 2000
    assert (result.acked, result.failed, result.pending) == (2000, 0, 0)
    assert result.reason == "idle"
    assert result.errors == []


def test_example_metrics_add_up() -> None:
    result = run_example()["result"]
    m = result.metrics
    assert m["sentences"].emitted == m["sentences"].acked == 2000
    assert m["split"].executed == m["split"].acked == 2000
    assert m["split"].emitted == m["count"].executed == m["count"].acked == 10_000
    assert m["count"].tasks == 2 and m["split"].tasks == 2
    assert m["count"].process_latency_ms is not None and m["count"].process_latency_ms > 0
    assert m["sentences"].complete_latency_ms is not None
    assert m["count"].queue == 0 and m["count"].max_queue > 0


def test_fields_grouping_sends_each_word_to_one_count_task() -> None:
    ns = run_example()
    topology = ns["topology"]
    from riverhead.stream import LocalRunner

    runner = LocalRunner(topology)
    runner.run()
    tasks = [t for t in runner.tasks if t.component == "count"]
    words = [set(t.instance.counts) for t in tasks]  # type: ignore[attr-defined]
    assert words[0].isdisjoint(words[1])
    assert words[0] | words[1] == {w for line in LINES for w in line.split()}
