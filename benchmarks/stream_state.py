"""State store benchmark: the in-memory store vs the embedded SQLite store, and the
changelog write path against a real broker.

Part 1 (no broker), in this process, best CPU time of ``--rounds``:

* raw store operations: ``--ops`` puts of small JSON values over 10,000 keys, then as
  many gets, on :class:`MemoryStore` and :class:`SqliteStore` (a file in a temp dir;
  ``synchronous=OFF``, commit every 1,000 writes, as stateful steps use it);
* the window operator (count per key, 60 s tumbling windows, 10,000 keys, event time
  +1 ms per record) over each store: what a window step pays per record for its state.

Part 2 (``--changelog-records`` > 0; a broker child process): the same window operator
with every change also written to a compacted changelog topic (the
:class:`ChangelogWriter`, idempotent producer, acked per record batch as a window step
does), then a full restore of that partition into a fresh store.

    python benchmarks/stream_state.py                 # 200,000 ops, 50,000 changelog records
    python benchmarks/stream_state.py --ops 20000 --changelog-records 5000   # quick
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import temp_dir
from tests.support.broker_process import BrokerProcess

from riverhead.stream.aggregations import count
from riverhead.stream.state.changelog import ChangelogWriter, ensure_topic, restore
from riverhead.stream.state.stores import MemoryStore, SqliteStore, Store
from riverhead.stream.stateful import RecordingStore
from riverhead.stream.time import NO_WATERMARK
from riverhead.stream.windowing import WindowOperator
from riverhead.stream.windows import tumbling

KEYS = 10_000


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def best(rounds: int, fn: Callable[[], None]) -> float:
    times = []
    for _ in range(rounds):
        t = cpu()
        fn()
        times.append(cpu() - t)
    return min(times)


def raw_ops(make: Callable[[], Store], ops: int) -> tuple[float, float]:
    rng = random.Random(1)
    keys = [("k", rng.randrange(KEYS)) for _ in range(ops)]
    store = make()
    t = cpu()
    for i, k in enumerate(keys):
        store.put(k, {"a": i, "s": {"t:0": i}})
    store.flush()
    put = cpu() - t
    t = cpu()
    for k in keys:
        store.get(k)
    get = cpu() - t
    store.close()
    return put, get


def window_run(store: Store, records: int) -> WindowOperator:
    rng = random.Random(2)
    op = WindowOperator(tumbling(seconds=60), count(), 0, store)
    for i in range(records):
        op.add(rng.randrange(KEYS), i, None, NO_WATERMARK, "t:0", i)
        if i % 1000 == 0:
            op.advance(i - 1000)
    op.advance(records)
    return op


def _discard(_: object) -> None:
    pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--changelog-records", type=int, default=50_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-state-"))
    n = [0]

    def sqlite() -> Store:
        n[0] += 1
        return SqliteStore(tmp / f"s{n[0]}.sqlite")

    print(f"state stores, {args.ops:,} operations over {KEYS:,} keys, best of {args.rounds}")
    print(f"{'case':<34}{'CPU s':>8}{'ops/s':>14}{'vs memory':>11}")
    base: dict[str, float] = {}
    for name, make in (("memory", MemoryStore), ("sqlite", sqlite)):
        results = [raw_ops(make, args.ops) for _ in range(args.rounds)]
        puts = min(r[0] for r in results)
        gets = min(r[1] for r in results)
        op_t = best(args.rounds, lambda make=make: _discard(window_run(make(), args.ops)))
        for case, secs in ((f"{name}: put", puts), (f"{name}: get", gets),
                           (f"{name}: window operator record", op_t)):
            key = case.split(": ")[1]
            base.setdefault(key, secs)
            print(f"{case:<34}{secs:>8.2f}{args.ops / secs:>14,.0f}"
                  f"{base[key] / secs:>10.1%}")
    if args.changelog_records > 0:
        with temp_dir("bench-state-broker-") as data:
            broker = BrokerProcess(data).start()
            try:
                changelog(broker.bootstrap, args.changelog_records)
            finally:
                broker.stop()
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


def changelog(bootstrap: str, records: int) -> None:
    topic = "bench.window.changelog"
    ensure_topic(bootstrap, topic, 1)
    writer = ChangelogWriter(bootstrap, topic)
    store = RecordingStore(MemoryStore())
    op = WindowOperator(tumbling(seconds=60), count(), 0, store)
    rng = random.Random(3)
    done = [0]

    def acked(error: str | None) -> None:
        assert error is None, error
        done[0] += 1

    t0 = time.monotonic()
    c0 = cpu()
    for i in range(records):
        op.add(rng.randrange(KEYS), i, None, NO_WATERMARK, "t:0", i)
        writer.write(0, store.take(), acked)
    left = writer.flush(60)
    wall, spent = time.monotonic() - t0, cpu() - c0
    assert left == 0 and done[0] == records
    print(f"\nchangelog: {records:,} window updates, each acked once its changelog "
          f"records were durable: {wall:.2f} s wall, {spent:.2f} s CPU, "
          f"{records / wall:,.0f} records/s ({writer.written:,} changelog records)")
    fresh = MemoryStore()
    t0 = time.monotonic()
    read = restore(bootstrap, topic, 0, fresh)
    wall = time.monotonic() - t0
    assert dict(fresh.items()) == dict(store.inner.items())  # type: ignore[attr-defined]
    print(f"restore: {read:,} changelog records into a fresh store in {wall:.2f} s "
          f"({read / wall:,.0f} records/s); restored state equals the original")


if __name__ == "__main__":
    sys.exit(main())
