"""Where the broker's time goes: per-request dispatch cost, storage costs, py-spy samples.

Three sections (pick with ``--sections``, default all):

``dispatch``  in-process ``BrokerState`` + ``Dispatcher`` (no sockets, no engine): CPU
              microseconds per request for a one-record acks=1 Produce v7 and a Metadata
              v1 of one topic, then cProfile's top functions by own time. Subtracting
              this from the end-to-end broker CPU per request of ``engine_vs_asyncio.py``
              gives what the network layer costs.
``storage``   in-process: create ``--partitions`` partitions (``BrokerState.create_topic``,
              100 per topic), clean shutdown, load again (what a restart does before it
              listens); wall time per partition and cProfile's top functions.
``pyspy``     py-spy (``.venv/bin/pip install py-spy``; investigation only, not a
              project dependency) on a broker child process under each workload
              (produce 100 B / 1 KiB, consume, 8 clients of single-record produces, 8
              clients of Metadata), folded into top functions by self/inclusive samples.
              py-spy's idle detection does not recognise lock waits here, so threads
              parked on ``with self._leader`` (engine.py) or ``Partition.lock`` count as
              samples: read these as "where threads are", not CPU. ``--gil`` samples the
              GIL's last holder instead.

    python benchmarks/profile_broker.py [--quick] [--sections dispatch,storage]
                                        [--partitions 2000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import pstats
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from broker_throughput import consume, produce
from engine_vs_asyncio import _many, metadata_frame, produce_frame


def fold(raw: Path, top: int) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """(samples, top functions by self samples, top by inclusive samples)."""
    self_c: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_name(f) for f in stack.split(";")]
        frames = [f for f in frames if f]
        if not frames:
            continue
        self_c[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    return total, self_c.most_common(top), incl.most_common(top)


def _name(frame: str) -> str:
    # py-spy raw frames: "function (path/to/file.py:line)"; drop the line, shorten the path.
    func, _, loc = frame.partition(" (")
    path = loc.rstrip(")").rsplit(":", 1)[0]
    for marker in ("/src/", "/site-packages/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    if func.startswith("process ") or func.startswith("thread "):
        return ""
    return f"{path}:{func}"


def drive(name: str, server: common.BrokerProcess, stop: threading.Event) -> int:
    import uvloop

    rounds = 0
    while not stop.is_set():
        if name == "produce100":
            produce(server.bootstrap, "p100", 300_000, 100, 4)
        elif name == "produce1k":
            produce(server.bootstrap, "p1k", 100_000, 1024, 4)
        elif name == "consume":
            consume(server.bootstrap, "p1k", 100_000, 4)
        elif name == "small-produce":
            uvloop.run(_many(server.port, produce_frame("lat", 100), 500, True))
        elif name == "metadata":
            uvloop.run(_many(server.port, metadata_frame("lat"), 500, False))
        rounds += 1
    return rounds


def _top(prof: cProfile.Profile, n: int) -> str:
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(n)
    lines = out.getvalue().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    keep = []
    for ln in lines[start:]:
        if ln.strip():
            keep.append(
                ln.replace(str(common.REPO / "src") + "/", "").replace(
                    str(common.REPO / ".venv/lib/python3.11/site-packages") + "/", ""
                )
            )
    return "\n".join(keep)


def _callers(prof: cProfile.Profile, name: str) -> str:
    """Who calls ``os.<name>`` (e.g. fsync), with call counts."""
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    parts = []
    for (_, _, func), (_, _, _, _, callers) in stats.items():
        if func == f"<built-in method posix.{name}>":
            for (file, _line, caller), (calls, *_rest) in callers.items():
                parts.append((calls, f"{Path(file).name}:{caller}"))
    parts.sort(reverse=True)
    return f"  {name} called by: " + ", ".join(f"{c} x {f}" for c, f in parts[:6])


class _FakeConn:
    addr = "profile"


def dispatch_costs(top: int, n: int = 20_000) -> None:
    from engine_vs_asyncio import metadata_frame, produce_frame

    from riverhead.broker.config import BrokerConfig
    from riverhead.broker.dispatch import Dispatcher
    from riverhead.broker.state import BrokerState

    with common.temp_dir("rh-bench-disp-") as tmp:
        state = BrokerState(BrokerConfig.load(overrides={"log.dirs": str(tmp)}, environ={}))
        dispatcher = Dispatcher(state)
        state.create_topic("lat", 1, {})
        conn = _FakeConn()
        for kind, frame in (
            ("produce-1 (acks=1, 100 B)", produce_frame("lat", 100)),
            ("metadata v1 (1 topic)", metadata_frame("lat")),
        ):
            body = memoryview(bytearray(frame[4:]))
            for _ in range(500):
                dispatcher(conn, body)  # type: ignore[arg-type]
            t0 = time.perf_counter()
            for _ in range(n):
                dispatcher(conn, body)  # type: ignore[arg-type]
            us = (time.perf_counter() - t0) / n * 1e6
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(n):
                dispatcher(conn, body)  # type: ignore[arg-type]
            prof.disable()
            print(
                f"\n== dispatch {kind}: {us:.1f} us per request (dispatcher only, no "
                f"sockets); cProfile top {top} by own time over {n:,} requests:"
            )
            print(_top(prof, top))
        state.shutdown()


def storage_costs(partitions: int, top: int) -> None:
    from riverhead.broker.config import BrokerConfig
    from riverhead.broker.state import BrokerState

    per_topic = 100
    with common.temp_dir("rh-bench-store-") as tmp:
        config = BrokerConfig.load(overrides={"log.dirs": str(tmp)}, environ={})
        state = BrokerState(config)
        reloaded: list[BrokerState] = []
        phases = [
            (
                "create",
                lambda: [
                    state.create_topic(f"s{i:04d}", per_topic, {})
                    for i in range(max(1, partitions // per_topic))
                ],
            ),
            ("clean shutdown", state.shutdown),
            ("load after clean shutdown (restart)", lambda: reloaded.append(BrokerState(config))),
        ]
        for label, fn in phases:
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            fn()
            prof.disable()
            wall = time.perf_counter() - t0
            print(
                f"\n== storage {label}: {wall:.2f} s for {partitions:,} partitions "
                f"({wall / partitions * 1e3:.2f} ms each, under cProfile); top {top} by own "
                "time:"
            )
            print(_top(prof, top))
            print(_callers(prof, "fsync"))
        for st in reloaded:
            st.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="300 partitions, 2 s py-spy samples, 2,000 requests"
    )
    parser.add_argument("--sections", default="dispatch,storage,pyspy")
    parser.add_argument("--partitions", type=int, default=2000, help="for 'storage'")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--only", help="comma-separated workloads")
    parser.add_argument(
        "--gil",
        action="store_true",
        help="sample only the GIL holder (py-spy --gil) instead of every non-idle thread",
    )
    parser.add_argument("--keep", type=Path, help="directory to keep the raw py-spy output in")
    args = parser.parse_args()
    if args.quick:
        args.partitions, args.seconds = min(args.partitions, 300), min(args.seconds, 2)
    sections = args.sections.split(",")
    print(f"profile_broker: {common.machine_summary()}")
    if "dispatch" in sections:
        dispatch_costs(args.top, 2_000 if args.quick else 20_000)
    if "storage" in sections:
        storage_costs(args.partitions, args.top)
    if "pyspy" in sections:
        run_pyspy(args)
    return 0


def run_pyspy(args: argparse.Namespace) -> None:
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        print("py-spy not found (.venv/bin/pip install py-spy): skipping the pyspy section")
        return
    names = (args.only or "produce100,produce1k,consume,small-produce,metadata").split(",")
    with common.temp_dir("rh-bench-prof-") as tmp:
        server = common.engine_process(tmp / "broker").start()
        try:
            for topic, parts in (("p100", 4), ("p1k", 4), ("lat", 1)):
                common.create_topic(server.bootstrap, topic, parts)
            produce(server.bootstrap, "p1k", 100_000, 1024, 4)  # data for "consume"
            for name in names:
                raw = tmp / f"{name}.txt"
                spy = subprocess.Popen(
                    [
                        pyspy,
                        "record",
                        "--pid",
                        str(server.pid),
                        *(["--gil"] if args.gil else []),
                        "--format",
                        "raw",
                        "--rate",
                        str(args.rate),
                        "--duration",
                        str(args.seconds),
                        "--nonblocking",
                        "-o",
                        str(raw),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                time.sleep(0.5)
                stop = threading.Event()
                c0 = common.cpu_seconds(server.pid)
                t0 = time.perf_counter()
                worker = threading.Thread(target=drive, args=(name, server, stop), daemon=True)
                worker.start()
                _, err = spy.communicate(timeout=args.seconds + 60)
                stop.set()
                worker.join(timeout=120)
                cpu = common.cpu_seconds(server.pid) - c0
                wall = time.perf_counter() - t0
                if not raw.exists():
                    print(f"{name}: py-spy wrote nothing: {err.decode(errors='replace')[-500:]}")
                    continue
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    shutil.copy(raw, args.keep / raw.name)
                total, by_self, by_incl = fold(raw, args.top)
                what = "GIL holder" if args.gil else "non-idle threads"
                print(
                    f"\n== {name}: {total} samples ({what}) over ~{args.seconds} s; broker CPU "
                    f"{cpu:.1f} s in {wall:.1f} s wall ({cpu / wall:.0%} of one core)"
                )
                print(
                    common.table(
                        ["self %", "function (self)"],
                        [[f"{n / total:.1%}", f] for f, n in by_self],
                    )
                )
                print(
                    common.table(
                        ["incl %", "function (inclusive)"],
                        [[f"{n / total:.1%}", f] for f, n in by_incl],
                    )
                )
        finally:
            common.stop(server)


if __name__ == "__main__":
    sys.exit(main())
