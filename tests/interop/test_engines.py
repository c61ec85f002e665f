"""Riverhead's engines run unchanged on Apache Kafka, with results identical to the same
runs on Riverhead: the stream engine's Kafka-to-Kafka word count (LocalRunner, the
integration suite's topology) and a MapReduce job over a topic (revenue per product, the
local multi-process runner reading offset-range splits).
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from riverhead.stream import LocalRunner
from tests.integration.test_ecommerce_recovery import read_table
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
from tests.support.clients import wait_until
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


def test_windowed_ecommerce_app(targets: tuple[Target, Target]) -> None:
    """examples/ecommerce/shop_app.py (tumbling, hopping and session windows, changelogged
    state) in one process, Kafka to Kafka: every output topic, read as a table (last value
    per key), holds the oracle computed from the events, on both brokers.

    The events are written unpaced over 4 partitions, so a shopper's session can be
    emitted early and later merged into a longer one under a new key (user:start): which
    such rows appear depends on timing, so the funnel is checked for the oracle's rows
    only; the other outputs, keyed by window
    start, must have no row besides the oracle's."""
    sys.path.insert(0, str(EXAMPLES))
    from expected import expected_outputs
    from generator import generate
    from generator import produce as produce_events
    from shop_app import build_app

    events = list(generate(seed=5, rate=40, duration=150))
    expected = expected_outputs(events)
    outputs = ("revenue-per-minute", "top-products", "funnel", "fraud-alerts")

    def holds_oracle(got: dict[str, Any]) -> bool:
        return all(
            {k: got[topic].get(k) for k in expected[topic]} == expected[topic] for topic in outputs
        )

    def scenario(t: Target) -> dict[str, Any]:
        # unpaced, then one heartbeat per partition (far in event time: every window closes)
        produce_events(t.bootstrap, "shop-events", iter(events), 4, None)
        app = build_app(name="shop-interop", brokers=t.bootstrap)
        runner = LocalRunner(app.topology(), collect=False)
        stop = threading.Event()
        thread = threading.Thread(
            target=runner.run,
            kwargs={"until_idle": False, "timeout": 150, "until": stop.is_set},
            daemon=True,
        )
        thread.start()
        got: dict[str, Any] = {}
        try:

            def complete() -> bool:
                for topic in outputs:
                    got[topic] = read_table(t.bootstrap, topic)
                return holds_oracle(got)

            wait_until(complete, f"{t.name}: outputs holding the oracle", 120, interval=1.0)
        finally:
            stop.set()
            thread.join(60)
        return {
            "rows besides the oracle's": {
                topic: sorted(set(got[topic]) - set(expected[topic]))
                for topic in outputs
                if topic != "funnel"
            },
        }

    seen = assert_same(observe(targets, scenario))
    assert all(not keys for keys in seen["rows besides the oracle's"].values()), seen
