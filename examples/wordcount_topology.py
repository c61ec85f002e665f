"""Word count as a Riverhead stream topology, runnable two ways.

In one process, from a list (the issue's example)::

    .venv/bin/python examples/wordcount_topology.py

From Kafka to Kafka in worker processes (reads topic ``sentences`` as strings, writes
``{"word": ..., "count": ...}`` JSON records keyed by word to ``word-counts``)::

    riverhead topic create sentences word-counts -p 4
    riverhead stream run examples/wordcount_topology.py --workers 2 --stats

``riverhead stream run`` calls :func:`build_topology` in every worker.
"""

from __future__ import annotations

from collections import Counter

from riverhead.stream import (
    Bolt,
    Context,
    KafkaBolt,
    KafkaSpout,
    LocalRunner,
    Spout,
    Topology,
    Tuple,
)

LINES = ["the cow jumped over the moon", "an apple a day"] * 1000


class Sentences(Spout):
    outputs = ("sentence",)

    def open(self, context: Context) -> None:
        self.lines = iter(LINES)

    def next_tuple(self) -> None:
        line = next(self.lines, None)
        if line is not None:
            self.emit((line,), msg_id=line)


class Split(Bolt):
    """Splits the first field (``sentence`` or a Kafka record's ``value``) into words."""

    outputs = ("word",)

    def process(self, tup: Tuple) -> None:
        text = tup["sentence"] if "sentence" in tup.fields else tup["value"]
        for word in text.split():
            self.emit((word,), anchors=[tup])
        self.ack(tup)


class Count(Bolt):
    outputs = ("word", "count")

    def prepare(self, context: Context) -> None:
        self.counts: dict[str, int] = {}

    def process(self, tup: Tuple) -> None:
        word = tup["word"]
        self.counts[word] = self.counts.get(word, 0) + 1
        self.emit((word, self.counts[word]), anchors=[tup])
        self.ack(tup)


def local_topology() -> Topology:
    topology = Topology("word-count")
    topology.spout("sentences", Sentences(), parallelism=1)
    topology.bolt("split", Split(), parallelism=2).shuffle_grouping("sentences")
    topology.bolt("count", Count(), parallelism=2).fields_grouping("split", "word")
    return topology


def build_topology() -> Topology:
    """The Kafka-to-Kafka variant, for ``riverhead stream run``."""
    topology = Topology("word-count-kafka", max_spout_pending=2000)
    topology.spout("sentences", KafkaSpout("sentences", "word-count", value_format="string"))
    topology.bolt("split", Split(), parallelism=2).shuffle_grouping("sentences")
    topology.bolt("count", Count(), parallelism=2).fields_grouping("split", "word")
    topology.bolt("out", KafkaBolt("word-counts", key_field="word")).shuffle_grouping("count")
    return topology


if __name__ == "__main__":
    result = LocalRunner(local_topology()).run(until_idle=True)
    finals: dict[str, int] = {}
    for word, count in result.emitted["count"]:
        finals[word] = max(finals.get(word, 0), count)
    assert finals == Counter(w for line in LINES for w in line.split())
    print(f"acked {result.acked}, failed {result.failed}; counts: {finals}")
    for stats in result.metrics.values():
        print(stats)
