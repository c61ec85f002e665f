from __future__ import annotations

import threading

import pytest

from riverhead.broker.metrics import LATENCY_BUCKETS, BrokerMetrics, request_label
from riverhead.broker.metrics_server import MetricsError, parse_listener

pytestmark = pytest.mark.unit


def test_counts_from_many_threads_sum_exactly() -> None:
    metrics = BrokerMetrics()

    def work() -> None:
        for _ in range(1000):
            metrics.produced("t", 3, 100)
            metrics.fetched("t", 10)
            metrics.request(0, 2_000_000)  # 2 ms

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert metrics.totals_in() == {"t": [24_000, 800_000, 8000]}
    assert metrics.totals_out() == {"t": 80_000}
    entry = metrics.totals_requests()[0]
    assert entry[0] == 8000 and entry[1] == 8000 * 2_000_000
    buckets = entry[2:]
    assert len(buckets) == len(LATENCY_BUCKETS) + 1
    assert buckets[LATENCY_BUCKETS.index(0.0025)] == 8000  # 2 ms falls in (1 ms, 2.5 ms]
    assert sum(buckets) == 8000


def test_latency_on_a_bucket_bound_counts_in_that_bucket() -> None:
    metrics = BrokerMetrics()
    metrics.request(1, 1_000_000)  # exactly 1 ms: le="0.001"
    metrics.request(1, 20_000_000_000)  # 20 s: +Inf
    buckets = metrics.totals_requests()[1][2:]
    assert buckets[LATENCY_BUCKETS.index(0.001)] == 1
    assert buckets[-1] == 1


def test_request_labels_are_kafka_names() -> None:
    assert request_label(0) == "Produce"
    assert request_label(18) == "ApiVersions"
    assert request_label(9) == "OffsetFetch"


def test_parse_listener() -> None:
    assert parse_listener("http://127.0.0.1:9644") == ("127.0.0.1", 9644)
    assert parse_listener("0.0.0.0:0") == ("0.0.0.0", 0)
    assert parse_listener("") is None
    for bad in ("https://h:1", "http://h", "ftp://h:2"):
        with pytest.raises(MetricsError, match="http://host:port"):
            parse_listener(bad)
