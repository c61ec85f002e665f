"""Cost of the broker's metrics: the same load against a broker with metrics on and one
with them off (``metrics.listener=``), in the same run, alternating rounds.

Per round and broker: produce N records of SIZE bytes to a fresh 4-partition topic
(confluent-kafka, acks=1, linger 5 ms), consume them back, and time single awaited
produces (p50/p99). Reported: medians over the rounds of produce and consume records/s,
the broker's CPU seconds per GB moved (utime+stime from /proc) and the latencies, and
the ratio on/off (1.00 = no cost; the target is within 5 %) next to the ratio of a second
metrics-off broker to the first (the noise floor of this machine). With metrics on, the run
also scrapes /metrics once per round and checks the records-in counter equals what was
produced, so the counting is known to be live while measured.

    python benchmarks/metrics_overhead.py            # 3 rounds of 300,000 records
    python benchmarks/metrics_overhead.py --quick    # 2 rounds of 100,000 records
    python benchmarks/metrics_overhead.py --micro-only   # the in-process part only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import broker_throughput as bt
import common
from tests.support.broker_process import free_port

PARTITIONS = 4


def records_in(url: str, topic: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(f'riverhead_topic_records_in_total{{topic="{topic}"}}'):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def one_round(server: object, name: str, n: int, size: int, url: str | None) -> dict[str, float]:
    bootstrap = server.bootstrap  # type: ignore[attr-defined]
    pid = server.pid  # type: ignore[attr-defined]
    common.create_topic(bootstrap, name, PARTITIONS)
    cpu0 = common.cpu_seconds(pid)
    produce_s = bt.produce(bootstrap, name, n, size, PARTITIONS)
    consume_s = bt.consume(bootstrap, name, n, PARTITIONS)
    cpu2 = common.cpu_seconds(pid)
    lat = sorted(bt.latency(bootstrap, name + "-lat", 1500))
    if url is not None:
        counted = records_in(url, name)
        if counted != n:
            raise RuntimeError(f"metrics counted {counted} records in, {n} were produced")
    gb = n * size / common.GB
    return {
        "produce_rec_s": n / produce_s,
        "consume_rec_s": n / consume_s,
        "cpu_s_per_gb": (cpu2 - cpu0) / (2 * gb),
        "p50_us": common.percentile(lat, 50) * 1000,  # latency() gives milliseconds
        "p99_us": common.percentile(lat, 99) * 1000,
    }


def micro(rounds: int = 10, calls: int = 50_000) -> list[tuple[str, str, str, str]]:
    """In-process, free of network noise: the dispatcher's time per request with a
    trivial handler (so nearly all of it is framing and instrumentation) and with the real
    ApiVersions handler, metrics off and on, alternating; and the per-call cost of the
    per-batch and per-event counters."""
    import struct
    import tempfile

    from riverhead.broker import dispatch
    from riverhead.broker.config import BrokerConfig
    from riverhead.broker.metrics import BrokerMetrics
    from riverhead.broker.state import BrokerState

    class Conn:
        addr = "bench"
        session = None

    state = BrokerState(
        BrokerConfig.load(overrides={"log.dirs": tempfile.mkdtemp(prefix="rh-micro-")}, environ={})
    )
    dispatcher = dispatch.Dispatcher(state)
    frame = memoryview(struct.pack(">hhih", 18, 0, 1, 5) + b"bench")
    metrics = BrokerMetrics()

    def per_call(fn: object, n: int) -> float:
        start = time.perf_counter_ns()
        for _ in range(n):
            fn()  # type: ignore[operator]
        return (time.perf_counter_ns() - start) / n

    def dispatch_ns() -> tuple[float, float]:
        on, off = [], []
        call = lambda: dispatcher(Conn(), frame)  # noqa: E731
        for _ in range(rounds):
            state.metrics = None
            off.append(per_call(call, calls))
            state.metrics = metrics
            on.append(per_call(call, calls))
        return statistics.median(on), statistics.median(off)

    rows = []
    on, off = dispatch_ns()
    rows.append(("ApiVersions request, ns", f"{on:,.0f}", f"{off:,.0f}", f"{on - off:+,.0f}"))
    real = dispatch.HANDLERS[18]
    dispatch.HANDLERS[18] = lambda _state, _request: b""
    try:
        on, off = dispatch_ns()
    finally:
        dispatch.HANDLERS[18] = real
    rows.append(("trivial request, ns", f"{on:,.0f}", f"{off:,.0f}", f"{on - off:+,.0f}"))
    batch = per_call(lambda: metrics.produced("topic", 10, 1000), calls)
    event = per_call(lambda: metrics.busy(1000), calls)
    rows.append(("per produced batch, ns", f"{batch:,.0f}", "0", f"{batch:+,.0f}"))
    rows.append(("per engine event, ns", f"{event:,.0f}", "0", f"{event:+,.0f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--records", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--micro-only", action="store_true", help="only the in-process part")
    args = parser.parse_args()
    print(common.machine_summary())
    print("\nInstrumentation cost in process (medians; ON - OFF is what metrics add):")
    print(common.table(["PATH", "METRICS ON", "METRICS OFF", "ON - OFF"], micro()))
    if args.micro_only:
        return
    n = args.records or (100_000 if args.quick else 300_000)
    rounds = args.rounds or (2 if args.quick else 3)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    results: dict[str, list[dict[str, float]]] = {"on": [], "off": [], "control": []}
    with (
        common.temp_dir("rh-metrics-on-") as on_dir,
        common.temp_dir("rh-metrics-off-") as off_dir,
        common.temp_dir("rh-metrics-ctl-") as ctl_dir,
    ):
        on = common.engine_process(on_dir, {"metrics.listener": url}).start()
        off = common.engine_process(off_dir, {"metrics.listener": ""}).start()
        # A second broker with metrics off: how much two identical brokers differ here
        # (the noise floor the on/off ratio must be read against).
        control = common.engine_process(ctl_dir, {"metrics.listener": ""}).start()
        try:
            for r in range(rounds):
                order = [("on", on), ("off", off), ("control", control)]
                if r % 2:
                    order.reverse()
                for label, server in order:
                    results[label].append(
                        one_round(server, f"m{r}", n, args.size, url if label == "on" else None)
                    )
                    print(f"round {r + 1} metrics {label}: {results[label][-1]}", flush=True)
        finally:
            common.stop(on)
            common.stop(off)
            common.stop(control)
    rows = []
    for key in ("produce_rec_s", "consume_rec_s", "cpu_s_per_gb", "p50_us", "p99_us"):
        a, b, c = (statistics.median(x[key] for x in results[k]) for k in ("on", "off", "control"))
        rows.append((key, f"{a:,.2f}", f"{b:,.2f}", f"{c:,.2f}", f"{a / b:.3f}", f"{c / b:.3f}"))
    print(f"\n{n:,} records of {args.size} B, {PARTITIONS} partitions, median of {rounds} rounds")
    headers = ["FIGURE", "METRICS ON", "METRICS OFF", "CONTROL (OFF)", "ON/OFF", "CONTROL/OFF"]
    print(common.table(headers, rows))


if __name__ == "__main__":
    main()
