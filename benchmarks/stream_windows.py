"""Windowed aggregation benchmark: the DSL in one process vs a plain Python loop.

``--events`` events (default 2,000,000) of 10,000 users and 1,000 products (Zipf-like
skew), event time advancing 1 ms per event, 10 % purchases, generated on the fly from the
event index (the same generator feeds every case; its own cost is measured too):

(a) count per product in 60 s tumbling windows;
(b) purchases per user in 10 s windows sliding every 1 s (hopping).

Each case runs through the DSL (``App(...).source(items=...)...``, LocalRunner, one
thread, acking off, in-memory store, no changelog, micro-batches of ``--batch`` records;
``--batch 1`` goes record at a time) and through a hand-written loop doing the same
counting with dicts in this process. The engine's time ends when its result rows are
collected; turning them into the loop's dict to check them equal is not timed. Figures are the
best CPU time of ``--rounds``; "of loop" is the loop's CPU time over the engine's (the
issue's target: (a) >= 40 %, (b) >= 30 %). Peak RSS of the process at the end.

End to end (``--records`` > 0): case (a) as an app run by 1, then 2 worker processes
(``python -m riverhead.stream.worker``, as ``riverhead stream run`` starts them) against
a broker child process: ``--records`` events are written to a 4-partition topic once
the workers joined their groups, then one far-future event per partition (the end of
input); timed from the first write until the output topic, read as a table, holds every
window with its exact count. Wall-clock events/s.

    python benchmarks/stream_windows.py                      # 2,000,000 events
    python benchmarks/stream_windows.py --events 200000 --records 20000   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: F401  (puts src/ on sys.path)

from riverhead.stream.aggregations import count
from riverhead.stream.dsl import App
from riverhead.stream.windows import hopping, tumbling

USERS, PRODUCTS = 10_000, 1_000


def make_events(n: int) -> Callable[[], Iterator[tuple[int, int, bool, int]]]:
    rng = random.Random(5)
    products = [min(int(rng.paretovariate(1.2)) - 1, PRODUCTS - 1) for _ in range(4096)]
    users = [rng.randrange(USERS) for _ in range(8192)]
    buys = [rng.random() < 0.1 for _ in range(1024)]

    def events() -> Iterator[tuple[int, int, bool, int]]:
        for i in range(n):  # (user, product, purchase, ts)
            yield users[i & 8191], products[(i * 7) & 4095], buys[(i * 13) & 1023], i
    return events


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def loop_a(events: Callable[[], Iterator[Any]]) -> dict[tuple[int, int], int]:
    counts: dict[tuple[int, int], int] = {}
    for _u, p, _b, ts in events():
        k = (p, ts - ts % 60_000)
        counts[k] = counts.get(k, 0) + 1
    return counts


def loop_b(events: Callable[[], Iterator[Any]]) -> dict[tuple[int, int], int]:
    counts: dict[tuple[int, int], int] = {}
    for u, _p, b, ts in events():
        if b:
            last = ts - ts % 1_000
            for start in range(last - 9_000, last + 1, 1_000):
                k = (u, start)
                counts[k] = counts.get(k, 0) + 1
    return counts


def engine(events: Callable[[], Iterator[Any]], case: str, batch: int) -> list[dict[str, Any]]:
    app = App(f"bench-{case}", batch_size=batch)
    src = app.source("events", items=events, timestamp=lambda e: e[3])
    if case == "a":
        w = src.key_by("product", lambda e: e[1]).window("minute", tumbling(seconds=60))
    else:
        w = (src.filter("purchases", lambda e: e[2]).key_by("user", lambda e: e[0])
             .window("10s", hopping(seconds=10, every=1)))
    rows = w.aggregate("count", count()).collect("out")
    app.run(deterministic=False, acking=False)
    return rows


def as_table(rows: list[dict[str, Any]]) -> dict[tuple[int, int], int]:
    """The engine's result rows in the loop's form (the check, not timed)."""
    return {(r["key"], r["window_start"]): r["result"] for r in rows}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2000,
                        help="records per micro-batch in the DSL (1: record at a time)")
    parser.add_argument("--records", type=int, default=100_000,
                        help="events through Kafka per worker count (0: skip)")
    args = parser.parse_args()
    events = make_events(args.events)
    gen = min(_timed(lambda: sum(1 for _ in events()))[0] for _ in range(args.rounds))
    print(f"{args.events:,} events, {USERS:,} users, {PRODUCTS:,} products, best of "
          f"{args.rounds} (CPU s); generating the events alone: {gen:.2f} s")
    print(f"{'case':<54}{'CPU s':>8}{'events/s':>13}{'of loop':>9}")
    for case, loop, what in (("a", loop_a, "count per product, 60 s tumbling"),
                             ("b", loop_b, "purchases per user, 10 s every 1 s")):
        lt, expected = min((_timed(loop, events) for _ in range(args.rounds)),
                           key=lambda r: r[0])
        et, got = min((_timed(engine, events, case, args.batch) for _ in range(args.rounds)),
                      key=lambda r: r[0])
        assert as_table(got) == expected, f"case {case}: engine and loop disagree"
        dsl = f", DSL, batch {args.batch}"
        print(f"({case}) {what + ', plain loop':<50}{lt:>8.2f}{args.events / lt:>13,.0f}"
              f"{1:>9.0%}")
        print(f"({case}) {what + dsl:<50}{et:>8.2f}{args.events / et:>13,.0f}"
              f"{lt / et:>9.1%}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")
    if args.records:
        kafka_part(args.records)
    return 0


APP = '''
from riverhead.stream.aggregations import count
from riverhead.stream.dsl import App
from riverhead.stream.windows import tumbling


def build_topology():
    app = App("{name}", max_spout_pending=5000)
    (app.source("{src}", name="events", timestamp=lambda e: e[3], max_out_of_orderness=5)
        .key_by("product", lambda e: e[1])
        .window("minute", tumbling(seconds=60), allowed_lateness=3600)
        .aggregate("count", count())
        .to("{dst}", key=lambda r: str(r["key"]) + "@" + str(r["window_start"])))
    return app.topology()
'''


def kafka_part(records: int) -> None:
    from common import temp_dir
    from tests.support.broker_process import BrokerProcess

    from riverhead.stream.supervisor import Supervisor

    events = list(make_events(records)())
    expected: dict[str, int] = {}
    for _u, p, _b, ts in events:
        key = f"{p}@{ts - ts % 60_000}"
        expected[key] = expected.get(key, 0) + 1
    beat = [0, 0, False, records + 10_000_000]  # its own window stays open
    print(f"\nend to end, case (a), {records:,} events through a 4-partition topic")
    print(f"{'workers':<10}{'wall s':>8}{'events/s':>12}")
    with temp_dir("bench-windows-broker-") as data, tempfile.TemporaryDirectory() as tmp:
        broker = BrokerProcess(data).start()
        try:
            for workers in (1, 2):
                elapsed = kafka_case(broker.bootstrap, workers, events, beat, expected,
                                     Path(tmp), Supervisor)
                print(f"{workers:<10}{elapsed:>8.1f}{records / elapsed:>12,.0f}")
        finally:
            broker.stop()


def kafka_case(b: str, workers: int, events: list[Any], beat: list[Any],
               expected: dict[str, int], tmp: Path, supervisor: Any) -> float:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    name = f"winbench{workers}-{os.getpid()}"
    src, dst = f"{name}-in", f"{name}-out"
    admin = AdminClient({"bootstrap.servers": b})
    for fut in admin.create_topics([NewTopic(src, 4, -1), NewTopic(dst, 1, -1)]).values():
        fut.result(15)
    app = tmp / f"{name}.py"
    app.write_text(APP.format(name=name, src=src, dst=dst))
    sup = supervisor(str(app), workers, b)
    sup.start()
    try:
        deadline = time.monotonic() + 90
        while not all(_members(admin, g) == workers
                      for g in (f"{name}.events", f"{name}.count.product.default")):
            if time.monotonic() > deadline:
                raise TimeoutError("workers did not join their groups")
            time.sleep(0.3)
        consumer = Consumer({"bootstrap.servers": b, "group.id": f"{name}-reader",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([dst])
        producer = Producer({"bootstrap.servers": b, "linger.ms": 5})
        t0 = time.monotonic()
        timeout = 60 + len(events) / 200
        for i, e in enumerate(events):
            producer.produce(src, value=json.dumps(e).encode(), key=str(e[0]).encode())
            if i % 10_000 == 0:
                producer.poll(0)
        for p in range(4):
            producer.produce(src, value=json.dumps(beat).encode(), partition=p)
        producer.flush(60)
        table: dict[str, int] = {}
        while table != expected:
            if time.monotonic() - t0 > timeout:
                wrong = [(k, table.get(k), n) for k, n in expected.items()
                         if table.get(k) != n][:5]
                raise TimeoutError(f"{len(table)} of {len(expected)} windows after "
                                   f"{timeout} s; e.g. (key, got, expected): {wrong}")
            for m in consumer.consume(10_000, timeout=0.5):
                if m.error() is None:
                    table[m.key().decode()] = json.loads(m.value())["result"]
        elapsed = time.monotonic() - t0
        consumer.close()
        return elapsed
    finally:
        sup.stop()
        sup.wait()


def _members(admin: Any, group: str) -> int:
    try:
        desc = admin.describe_consumer_groups([group])[group].result(10)
    except Exception:
        return -1
    return len(desc.members) if desc.state.name == "STABLE" else -1


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    t = cpu()
    out = fn(*args)
    return cpu() - t, out


if __name__ == "__main__":
    sys.exit(main())
