"""The Leader/Followers engine vs a single-threaded asyncio (uvloop) server, same handlers.

Both servers run as child processes over the same ``BrokerState``/``Dispatcher`` code
(see :mod:`asyncio_server`); only the network layer differs. Measured in one run, one
server after the other, on the same machine:

* produce throughput: N records of 1 KiB, confluent-kafka (linger.ms=5, 1 MB batches,
  acks=1), one topic of 4 partitions;
* consume throughput of those records (assign at offset 0);
* many small requests: 8 concurrent connections, each sending one request and awaiting
  the answer, K times: Metadata v1 (one topic), then Produce v7 acks=1 with one 100 B
  record. p50/p99 latency per request, requests/s, broker CPU-microseconds per request.
  The load generator is a raw-socket asyncio (uvloop) client with pre-encoded frames, so
  the client adds as little as possible.

The engine runs with num.io.threads = 1, 2, 4, 8 (8 is the default); ratios are
engine / asyncio (>1 = engine better for throughput; for latency <1 = engine better).

    python benchmarks/engine_vs_asyncio.py            # 500k records, 3000 requests/client,
                                                      # 5 rounds (median)
    python benchmarks/engine_vs_asyncio.py --quick    # 30k records, 300 requests/client
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import struct
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from broker_throughput import consume, produce

from riverhead.protocol.records import encode_batch

CLIENTS = 8


def _string(s: str) -> bytes:
    raw = s.encode()
    return struct.pack(">h", len(raw)) + raw


def _frame(api_key: int, version: int, body: bytes) -> bytes:
    payload = struct.pack(">hhi", api_key, version, 1) + _string("bench") + body
    return struct.pack(">i", len(payload)) + payload


def metadata_frame(topic: str) -> bytes:
    return _frame(3, 1, struct.pack(">i", 1) + _string(topic))


def produce_frame(topic: str, value_size: int) -> bytes:
    batch = encode_batch([(None, b"p" * value_size)])
    body = (
        struct.pack(">hhi", -1, 1, 30_000)  # transactional_id null, acks=1, timeout
        + struct.pack(">i", 1)
        + _string(topic)
        + struct.pack(">i", 1)
        + struct.pack(">ii", 0, len(batch))
        + batch
    )
    return _frame(0, 7, body)


def produce_error(body: bytes) -> int:
    """error_code of the first partition of a Produce v7 response body."""
    pos = 4 + 4  # correlation id, topics array length
    (name_len,) = struct.unpack_from(">h", body, pos)
    pos += 2 + name_len + 4 + 4  # name, partitions array length, partition index
    return int(struct.unpack_from(">h", body, pos)[0])


async def _client(
    port: int, frame: bytes, count: int, warmup: int, samples: list[float], check: bool
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    perf = time.perf_counter_ns
    try:
        for i in range(warmup + count):
            t0 = perf()
            writer.write(frame)
            (size,) = struct.unpack(">i", await reader.readexactly(4))
            body = await reader.readexactly(size)
            t1 = perf()
            if check and produce_error(body):
                raise RuntimeError(f"produce failed with error {produce_error(body)}")
            if i >= warmup:
                samples.append((t1 - t0) / 1e6)
    finally:
        writer.close()


async def _many(port: int, frame: bytes, count: int, check: bool) -> tuple[list[float], float]:
    samples: list[float] = []
    warmup = max(10, count // 20)
    start = time.perf_counter()
    await asyncio.gather(
        *(_client(port, frame, count, warmup, samples, check) for _ in range(CLIENTS))
    )
    return samples, time.perf_counter() - start


@dataclass
class SmallRequests:
    p50_ms: float
    p99_ms: float
    req_s: float
    cpu_us_per_req: float


@dataclass
class ServerResult:
    name: str
    produce_mb_s: float = 0.0
    consume_mb_s: float = 0.0
    produce_cpu_s_gb: float = 0.0
    consume_cpu_s_gb: float = 0.0
    small: dict[str, SmallRequests] = field(default_factory=dict)


def small_requests(server: common.BrokerProcess, kind: str, count: int) -> SmallRequests:
    frame = metadata_frame("lat") if kind == "metadata" else produce_frame("lat", 100)
    import uvloop

    c0 = common.cpu_seconds(server.pid)
    samples, elapsed = uvloop.run(_many(server.port, frame, count, kind == "produce"))
    cpu = common.cpu_seconds(server.pid) - c0
    samples.sort()
    total = CLIENTS * (count + max(10, count // 20))
    return SmallRequests(
        common.percentile(samples, 50),
        common.percentile(samples, 99),
        total / elapsed,
        cpu / total * 1e6,
    )


def bench_server(name: str, server: common.BrokerProcess, records: int, count: int) -> ServerResult:
    res = ServerResult(name)
    server.start()
    try:
        common.create_topic(server.bootstrap, "tput", 4)
        common.create_topic(server.bootstrap, "lat", 1)
        gb = records * 1024 / common.GB
        c0 = common.cpu_seconds(server.pid)
        p_s = produce(server.bootstrap, "tput", records, 1024, 4)
        c1 = common.cpu_seconds(server.pid)
        c_s = consume(server.bootstrap, "tput", records, 4)
        c2 = common.cpu_seconds(server.pid)
        res.produce_mb_s = records * 1024 / p_s / common.MB
        res.consume_mb_s = records * 1024 / c_s / common.MB
        res.produce_cpu_s_gb = (c1 - c0) / gb
        res.consume_cpu_s_gb = (c2 - c1) / gb
        for kind in ("metadata", "produce"):
            res.small[kind] = small_requests(server, kind, count)
    finally:
        common.stop(server)
    s = res.small
    print(
        f"  {name:<16} produce {res.produce_mb_s:6.1f} MB/s  consume {res.consume_mb_s:6.1f} MB/s"
        f"  metadata p50/p99 {s['metadata'].p50_ms:.2f}/{s['metadata'].p99_ms:.2f} ms"
        f" {s['metadata'].req_s:,.0f} req/s  produce-1 p50/p99 {s['produce'].p50_ms:.2f}/"
        f"{s['produce'].p99_ms:.2f} ms {s['produce'].req_s:,.0f} req/s",
        flush=True,
    )
    return res


def median_result(name: str, rs: list[ServerResult]) -> ServerResult:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    out = ServerResult(name)
    for attr in ("produce_mb_s", "consume_mb_s", "produce_cpu_s_gb", "consume_cpu_s_gb"):
        setattr(out, attr, med([getattr(r, attr) for r in rs]))
    for kind in rs[0].small:
        out.small[kind] = SmallRequests(
            *(
                med([getattr(r.small[kind], f) for r in rs])
                for f in ("p50_ms", "p99_ms", "req_s", "cpu_us_per_req")
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--records", type=int, help="1 KiB records (default 300,000)")
    parser.add_argument("--requests", type=int, help="requests per client (default 3000)")
    parser.add_argument("--threads", default="1,2,4,8", help="engine num.io.threads to try")
    parser.add_argument("--rounds", type=int, help="rounds over all servers (default 5)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    records = args.records or (30_000 if args.quick else 500_000)
    count = args.requests or (300 if args.quick else 3000)
    rounds = args.rounds or (1 if args.quick else 5)
    threads = [int(t) for t in args.threads.split(",")]
    print(f"engine_vs_asyncio: {common.machine_summary()}")
    print(
        f"  {records:,} x 1 KiB records; {CLIENTS} clients x {count} small requests each; "
        f"{rounds} round(s), server order rotated each round, median per metric"
    )
    names = ["asyncio (uvloop)"] + [f"engine io={n}" for n in threads]
    runs: dict[str, list[ServerResult]] = {name: [] for name in names}
    with common.temp_dir("rh-bench-cmp-") as tmp:
        for rnd in range(rounds):
            # Rotate the order every round: a server that always ran first would always
            # find the most free page cache (later ones pay reclaim in their sys time).
            order = names[rnd % len(names) :] + names[: rnd % len(names)]
            print(f" round {rnd + 1}: {', '.join(order)}")
            for name in order:
                data_dir = tmp / f"{name.replace(' ', '_')}-r{rnd}"
                if name.startswith("asyncio"):
                    server = common.asyncio_process(data_dir)
                else:
                    threads_n = name.split("=")[1]
                    server = common.engine_process(data_dir, {"num.io.threads": threads_n})
                runs[name].append(bench_server(name, server, records, count))
                shutil.rmtree(data_dir, ignore_errors=True)  # drop its page cache too
    results = [median_result(name, rs) for name, rs in runs.items()]
    base = results[0]

    rows = []
    for r in results:
        m, p = r.small["metadata"], r.small["produce"]
        rows.append(
            [
                r.name,
                f"{r.produce_mb_s:.1f}",
                f"{r.consume_mb_s:.1f}",
                f"{r.produce_cpu_s_gb:.2f}",
                f"{r.consume_cpu_s_gb:.2f}",
                f"{m.p50_ms:.3f}",
                f"{m.p99_ms:.3f}",
                f"{m.req_s:,.0f}",
                f"{m.cpu_us_per_req:.0f}",
                f"{p.p50_ms:.3f}",
                f"{p.p99_ms:.3f}",
                f"{p.req_s:,.0f}",
                f"{p.cpu_us_per_req:.0f}",
            ]
        )
    print()
    print(
        common.table(
            [
                "server",
                "produce MB/s",
                "consume MB/s",
                "prod CPU-s/GB",
                "cons CPU-s/GB",
                "meta p50 ms",
                "meta p99 ms",
                "meta req/s",
                "meta CPU-us/req",
                "prod1 p50 ms",
                "prod1 p99 ms",
                "prod1 req/s",
                "prod1 CPU-us/req",
            ],
            rows,
        )
    )
    ratio_rows = []
    for r in results[1:]:
        m, p = r.small["metadata"], r.small["produce"]
        bm, bp = base.small["metadata"], base.small["produce"]
        ratio_rows.append(
            [
                r.name,
                common.ratio(r.produce_mb_s, base.produce_mb_s),
                common.ratio(r.consume_mb_s, base.consume_mb_s),
                common.ratio(m.req_s, bm.req_s),
                common.ratio(m.p99_ms, bm.p99_ms),
                common.ratio(p.req_s, bp.req_s),
                common.ratio(p.p99_ms, bp.p99_ms),
                common.ratio(p.cpu_us_per_req, bp.cpu_us_per_req),
            ]
        )
    print(
        "\nRatios engine / asyncio, same run (throughput: >1 engine faster; p99 and CPU: "
        "<1 engine better):"
    )
    print(
        common.table(
            [
                "engine",
                "produce MB/s",
                "consume MB/s",
                "meta req/s",
                "meta p99",
                "prod1 req/s",
                "prod1 p99",
                "prod1 CPU/req",
            ],
            ratio_rows,
        )
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
