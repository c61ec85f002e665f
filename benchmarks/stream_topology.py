"""Stream engine benchmark: LocalRunner word count vs a plain Python loop, and Kafka to
Kafka end to end with 1 and 2 worker processes.

Part 1 (no broker): ``--sentences`` generated sentences (fixed seed, 1,000-word vocabulary,
4-12 words each) go through the issue's word-count topology (spout -> split x2 (shuffle)
-> count x2 (fields)) in :class:`riverhead.stream.LocalRunner` with acking off and on, and
through a hand-written loop doing the same counting (``counts[w] = counts.get(w, 0) + 1``)
in the same process. Rounds alternate the three cases; each figure is the best of
``--rounds`` (CPU time of this process, so other load on the machine distorts less).
Counts are checked equal. "tuples/s" is input sentences per second.

Part 2 (a broker child process, as the integration tests start one): ``--records``
sentences are read from a 4-partition topic by ``riverhead stream run`` with 1 and then 2
workers (split -> count by word through a repartition topic -> KafkaBolt), timed from the
first produced record to the last count record read back from the output topic. Workers
are started and have joined their groups before producing.

    python benchmarks/stream_topology.py                        # 2,000,000 sentences
    python benchmarks/stream_topology.py --sentences 200000 --records 20000   # quick
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    REPO,
    create_topic,
    machine_summary,
    quiet_librdkafka,
    table,
    temp_dir,
)
from tests.support.broker_process import BrokerProcess

from riverhead.stream import Bolt, Context, LocalRunner, Spout, Topology, Tuple

SENTENCES: list[str] = []


def generate(n: int, seed: int = 2026) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(1000)]
    choice, randint = rng.choice, rng.randint
    return [" ".join([choice(vocab) for _ in range(randint(4, 12))]) for _ in range(n)]


class Sentences(Spout):
    outputs = ("sentence",)

    def open(self, context: Context) -> None:
        self.lines = iter(SENTENCES)

    def next_tuple(self) -> None:
        line = next(self.lines, None)
        if line is not None:
            self.emit((line,), msg_id=line)


class Split(Bolt):
    outputs = ("word",)

    def process(self, tup: Tuple) -> None:
        for word in tup["sentence"].split():
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


def word_count() -> Topology:
    topology = Topology("word-count")
    topology.spout("sentences", Sentences(), parallelism=1)
    topology.bolt("split", Split(), parallelism=2).shuffle_grouping("sentences")
    topology.bolt("count", Count(), parallelism=2).fields_grouping("split", "word")
    return topology


def plain_loop() -> dict[str, int]:
    counts: dict[str, int] = {}
    for sentence in SENTENCES:
        for word in sentence.split():
            counts[word] = counts.get(word, 0) + 1
    return counts


def direct_calls() -> dict[str, int]:
    """The floor of any engine that hands bolts Riverhead's :class:`Tuple`: the same bolt
    code wired by hand with no engine at all. Split's emit calls Count.process on a fresh
    Tuple; acks and Count's emit are no-op functions with the collector's signatures."""
    from riverhead.stream.tuples import Origin

    sentence_origin = Origin("sentences", "default", 0, ("sentence",))
    word_origin = Origin("split", "default", 1, ("word",))
    split, count = Split(), Count()
    count.prepare(None)  # type: ignore[arg-type]
    process = count.process

    def split_emit(values: Any, anchors: Any = None, stream: str = "default") -> None:
        process(Tuple(values, word_origin))

    _wire_by_hand(split, count, split_emit)
    split_process = split.process
    for line in SENTENCES:
        split_process(Tuple((line,), sentence_origin))
    return count.counts


def dict_calls() -> dict[str, int]:
    """The floor of *any* engine in CPython: as :func:`direct_calls`, but each tuple is a
    plain dict literal (the cheapest object that answers ``tup["word"]``)."""
    split, count = Split(), Count()
    count.prepare(None)  # type: ignore[arg-type]
    process = count.process

    def split_emit(values: Any, anchors: Any = None, stream: str = "default") -> None:
        process({"word": values[0]})  # type: ignore[arg-type]

    _wire_by_hand(split, count, split_emit)
    split_process = split.process
    for line in SENTENCES:
        split_process({"sentence": line})  # type: ignore[arg-type]
    return count.counts


def _wire_by_hand(split: Split, count: Count, split_emit: Any) -> None:
    def emit(values: Any, anchors: Any = None, stream: str = "default") -> None:
        return None

    def ack(tup: Any) -> None:
        return None

    object.__setattr__(split, "emit", split_emit)
    object.__setattr__(count, "emit", emit)
    for bolt in (split, count):
        object.__setattr__(bolt, "ack", ack)


def topology_run(acking: bool) -> dict[str, int]:
    runner = LocalRunner(word_count(), collect=False, acking=acking)
    result = runner.run(until_idle=True)
    assert result.acked == len(SENTENCES) and result.failed == 0, result
    merged: Counter[str] = Counter()
    for task in runner.tasks:
        if task.component == "count":
            merged.update(task.instance.counts)  # type: ignore[attr-defined]
    return dict(merged)


def local_part(n: int, rounds: int) -> dict[str, Any]:
    SENTENCES[:] = generate(n)
    words = sum(len(s.split()) for s in SENTENCES)
    cases = {"plain loop": plain_loop,
             "bolt code, dict tuples, no engine (floor of any engine)": dict_calls,
             "bolt code, Tuple, no engine (floor with Tuple)": direct_calls,
             "topology, acking off": lambda: topology_run(False),
             "topology, acking on": lambda: topology_run(True)}
    best = dict.fromkeys(cases, float("inf"))
    reference = None
    for _ in range(rounds):
        for name, fn in cases.items():
            gc.collect()
            t0 = time.process_time()
            counts = fn()
            best[name] = min(best[name], time.process_time() - t0)
            reference = reference or counts
            assert counts == reference, f"{name}: counts differ from the plain loop's"
    plain = best["plain loop"]
    rows = []
    figures: dict[str, Any] = {"sentences": n, "words": words, "rounds": rounds}
    for name, secs in best.items():
        rate = n / secs
        rows.append([name, f"{secs:.2f}", f"{rate:,.0f}", f"{words / secs:,.0f}",
                     f"{plain / secs:.1%}"])
        figures[name] = {"seconds": secs, "sentences_per_s": rate, "ratio": plain / secs}
    print(table(["case", "CPU s (best)", "sentences/s", "words/s", "of plain loop"], rows))
    print("targets: >= 20% of the plain loop with acking off, >= 10% with acking on")
    return figures


WORKER_APP = '''
from riverhead.stream import KafkaBolt, KafkaSpout, Topology
from benchmarks.stream_topology import Count, Split as _Split


class Split(_Split):
    def process(self, tup):
        for word in tup["value"].split():
            self.emit((word,), anchors=[tup])
        self.ack(tup)


def build_topology():
    t = Topology("{name}", max_spout_pending=5000)
    t.spout("sentences", KafkaSpout("{src}", "{name}-g", value_format="string"))
    t.bolt("split", Split(), parallelism=2).shuffle_grouping("sentences")
    t.bolt("count", Count(), parallelism=2).fields_grouping("split", "word")
    t.bolt("out", KafkaBolt("{dst}", key_field="word")).shuffle_grouping("count")
    return t
'''


def group_size(bootstrap: str, group: str) -> int:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, **quiet_librdkafka()})
    try:
        desc = admin.describe_consumer_groups([group])[group].result(10)
    except Exception:
        return -1
    return len(desc.members) if desc.state.name == "STABLE" else -1


def kafka_case(bootstrap: str, workers: int, lines: list[str], tmp: Path) -> float:
    from confluent_kafka import Consumer, Producer, TopicPartition

    name = f"bench{workers}-{os.getpid()}"
    src, dst = f"{name}-in", f"{name}-out"
    create_topic(bootstrap, src, 4)
    create_topic(bootstrap, dst, 4)
    app = tmp / f"{name}.py"
    app.write_text(WORKER_APP.format(name=name, src=src, dst=dst))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERHEAD_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "riverhead", "-X", bootstrap, "stream", "run", str(app),
         "--workers", str(workers)], env=env, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (group_size(bootstrap, f"{name}-g") == workers
                   and group_size(bootstrap, f"{name}.count.split.default") == workers):
            if time.monotonic() > deadline:
                raise TimeoutError("workers did not join their groups")
            time.sleep(0.2)
        expected = sum(len(line.split()) for line in lines)
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{name}-reader",
                             **quiet_librdkafka()})
        consumer.assign([TopicPartition(dst, p, 0) for p in range(4)])
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                             **quiet_librdkafka()})
        t0 = time.monotonic()
        for i, line in enumerate(lines):
            producer.produce(src, value=line.encode(), key=str(i).encode())
            if i % 10_000 == 0:
                producer.poll(0)
        producer.flush(60)
        seen = 0
        while seen < expected:
            if time.monotonic() - t0 > 600:
                raise TimeoutError(f"read {seen} of {expected} count records")
            seen += sum(1 for m in consumer.consume(10_000, timeout=0.5) if m.error() is None)
        elapsed = time.monotonic() - t0
        consumer.close()
        return len(lines) / elapsed
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def kafka_part(records: int) -> dict[str, Any]:
    lines = generate(records, seed=7)
    figures: dict[str, Any] = {"records": records}
    rows = []
    with temp_dir("riverhead-stream-bench-") as data, tempfile.TemporaryDirectory() as tmp:
        server = BrokerProcess(data).start()
        try:
            for workers in (1, 2):
                rate = kafka_case(server.bootstrap, workers, lines, Path(tmp))
                figures[f"{workers} workers"] = rate
                rows.append([workers, f"{rate:,.0f}"])
        finally:
            server.stop()
    print(table(["workers", "records/s end to end"], rows))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=100_000,
                        help="sentences through Kafka per worker count (0: skip)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    print(machine_summary())
    print(f"\n## LocalRunner word count, {args.sentences:,} sentences\n")
    figures: dict[str, Any] = {"local": local_part(args.sentences, args.rounds)}
    if args.records:
        print(f"\n## Kafka to Kafka word count, {args.records:,} sentences\n")
        figures["kafka"] = kafka_part(args.records)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
