"""Riverhead's engines run unchanged on Apache Kafka, with results identical to the same
runs on Riverhead: the stream engine's Kafka-to-Kafka word count (LocalRunner, the
integration suite's topology) and a MapReduce job over a topic (revenue per product, the
local multi-process runner reading offset-range splits).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from riverhead.stream import LocalRunner
from tests.integration.test_stream_kafka import (
    committed,
    create_topics,
    end_offsets,
    final_counts,
    json_values,
    produce_lines,
    read_all,
    sentences,
    word_count,
)
from tests.interop.diff import Target, assert_same, observe
from tests.unit.batch.jobs import RevenuePerProduct

pytestmark = pytest.mark.interop
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ecommerce"


def test_stream_word_count(targets: tuple[Target, Target], topic_name: str) -> None:
    lines = sentences(1500, seed=7)
    expected = Counter(w for line in lines for w in line.split())
    total = sum(expected.values())

    def scenario(t: Target) -> dict[str, Any]:
        src, dst, group = f"{topic_name}-in", f"{topic_name}-out", f"{topic_name}-g"
        create_topics(t.bootstrap, {src: 3, dst: 2})
        produce_lines(t.bootstrap, src, lines)
        runner = LocalRunner(
            word_count(src, dst, group, t.bootstrap), collect=["count"], brokers=t.bootstrap
        )
        result = runner.run(
            until_idle=False, timeout=90, until=lambda: runner.metrics()["out"].acked >= total
        )
        records = json_values(read_all(t.bootstrap, dst, total))
        return {
            "run": (result.reason, result.acked, result.failed, result.pending),
            "output records": len(records),
            "final counts": final_counts(records),
            # offsets committed exactly to the end once every tuple tree completed
            "committed == end": committed(t.bootstrap, group, src) == end_offsets(t.bootstrap, src),
        }

    seen = assert_same(observe(targets, scenario))
    assert seen["final counts"] == dict(expected) and seen["committed == end"], seen["run"]


def test_batch_job_over_a_topic(
    targets: tuple[Target, Target], topic_name: str, tmp_path: Path
) -> None:
    sys.path.insert(0, str(EXAMPLES))
    from events import generate_events

    events = generate_events(500, seed=11)

    def scenario(t: Target) -> dict[str, Any]:
        create_topics(t.bootstrap, {topic_name: 3})
        # keyed: librdkafka's default partitioner hashes the key, so every record lands on the
        # same partition on both brokers and the offset-range splits are the same too
        produce_lines(t.bootstrap, topic_name, [json.dumps(e) for e in events])
        out = tmp_path / t.name
        job = RevenuePerProduct(
            [
                f"topic://{topic_name}?from=earliest&to=latest&split=60",
                "-o",
                str(out),
                "--brokers",
                t.bootstrap,
                "--reducers",
                "2",
            ]
        )
        result = job.run_job()
        lines = sorted(line for p in out.glob("part-*") for line in p.read_text().splitlines())
        return {
            "output": lines,
            "map input records": result.counters["riverhead"]["map input records"],
            "splits": result.report["phases"][0]["splits"],
        }

    seen = assert_same(observe(targets, scenario))
    revenue: dict[str, float] = {}
    for e in events:
        if e["type"] == "purchase":
            for item in e["items"]:
                pid = item["product_id"]
                revenue[pid] = revenue.get(pid, 0.0) + item["price"] * item["quantity"]
    assert seen["output"] == sorted(f"{p}\t{r:.2f}" for p, r in revenue.items())
    assert seen["map input records"] == 500
