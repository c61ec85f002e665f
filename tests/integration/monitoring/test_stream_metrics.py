"""`riverhead stream run --metrics-listener`: a running topology's per-component counters
scraped from /metrics match the work done."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.test_stream_kafka import create_topics, produce_lines, read_all
from tests.integration.test_stream_workers import WORD_COUNT_APP, Run
from tests.support.broker_process import BrokerProcess, free_port
from tests.support.metrics import Samples, scrape, value

pytestmark = pytest.mark.integration


def test_stream_app_serves_component_counters(broker: BrokerProcess, tmp_path: Path) -> None:
    src, dst = "sm-sentences", "sm-counts"
    create_topics(broker.bootstrap, {src: 2, dst: 2})
    app = tmp_path / "app.py"
    app.write_text(WORD_COUNT_APP.format(name="metered", src=src, dst=dst, group="sm-group"))
    url = f"http://127.0.0.1:{free_port()}"
    run = Run(broker.bootstrap, app, 1, "--metrics-listener", url, "--stats-interval", "0.3")
    try:
        lines = [f"w{i % 7} w{i % 3} common" for i in range(60)]  # 3 words per line
        produce_lines(broker.bootstrap, src, lines)
        read_all(broker.bootstrap, dst, 180)
        deadline = time.monotonic() + 30
        samples: Samples = {}
        while time.monotonic() < deadline:
            samples = scrape(url)
            done = samples.get(
                (
                    "riverhead_stream_acked_total",
                    frozenset({"component": "sentences", "kind": "spout"}.items()),
                )
            )
            if done == 60:
                break
            time.sleep(0.3)
        labels = {"component": "split", "kind": "bolt"}
        assert (
            value(samples, "riverhead_stream_acked_total", component="sentences", kind="spout")
            == 60
        )
        assert value(samples, "riverhead_stream_executed_total", **labels) == 60
        assert value(samples, "riverhead_stream_emitted_total", **labels) == 180
        assert (
            value(samples, "riverhead_stream_executed_total", component="count", kind="bolt") == 180
        )
        assert value(samples, "riverhead_stream_tasks", **labels) == 2
        assert value(samples, "riverhead_stream_failed_total", **labels) == 0
        assert value(samples, "riverhead_stream_workers") == 1
        assert value(samples, "riverhead_stream_process_latency_seconds", **labels) > 0
    finally:
        assert run.stop() == 0
