"""10,000 partitions on one broker: memory, file descriptors, mappings, restart time.

Creates 100 topics x 100 partitions with confluent-kafka's AdminClient (10 topics per
CreateTopics request), produces ``--records`` records (100 B) to every partition, then
reports the broker's RSS (``VmRSS``), virtual size, open file descriptors
(``/proc/<pid>/fd``), memory mappings (``/proc/<pid>/maps``) and the disk used by the log
dir. Then stops the broker with SIGTERM (clean shutdown), restarts it, and times until
Metadata lists all partitions again.

Targets: RSS <= 1 GiB, restart <= 5 s. If creation fails (EMFILE, mmap limits, ...) the
script prints the failure, the limits involved and the counts reached, then measures the
shutdown and restart with the partitions that do exist, and still exits 0.

    python benchmarks/partitions_scale.py            # 100 topics x 100 partitions
    python benchmarks/partitions_scale.py --quick    # 10 topics x 100 partitions
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

RSS_TARGET = 1 << 30
RESTART_TARGET_S = 5.0
LIMIT_PATTERNS = (
    "Too many open files",
    "EMFILE",
    "Cannot allocate memory",
    "ENOMEM",
    "mmap",
    "No space left",
    "OSError",
    "Traceback",
)


def disk_usage(root: Path) -> tuple[int, int, int]:
    """(allocated bytes, apparent bytes, files) under ``root``."""
    allocated = apparent = files = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            try:
                st = os.stat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            allocated += st.st_blocks * 512
            apparent += st.st_size
            files += 1
    return allocated, apparent, files


def fd_kinds(pid: int) -> dict[str, int]:
    """Open fds of ``pid`` by what they point at (file suffix, socket, pipe, ...)."""
    kinds: collections.Counter[str] = collections.Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("/"):
            kinds[Path(target).suffix or Path(target).name] += 1
        else:
            kinds[target.split(":", 1)[0]] += 1
    return dict(kinds.most_common())


def probe(pid: int) -> dict[str, object]:
    return {
        "rss_mib": common.rss_bytes(pid) / 2**20,
        "vmsize_gib": int(common.status_field(pid, "VmSize").split()[0]) / 2**20,
        "fds": common.fd_count(pid),
        "maps": common.map_count(pid),
        "threads": int(common.status_field(pid, "Threads")),
        "fd_kinds": fd_kinds(pid),
    }


def count_partitions(admin: AdminClient, prefix: str) -> tuple[int, int]:
    md = admin.list_topics(timeout=60)
    topics = [t for name, t in md.topics.items() if name.startswith(prefix)]
    return len(topics), sum(len(t.partitions) for t in topics if t.error is None)


def limits_report(pid: int | None) -> list[str]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lines = [
        f"RLIMIT_NOFILE of the benchmark (inherited by the broker): soft {soft}, hard {hard}",
        f"vm.max_map_count: {Path('/proc/sys/vm/max_map_count').read_text().strip()}",
        f"fs.file-max: {Path('/proc/sys/fs/file-max').read_text().strip()}",
    ]
    if pid is not None and Path(f"/proc/{pid}").exists():
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith(("Max open files", "Max address space", "Max locked memory")):
                lines.append(f"broker {line.strip()}")
    return lines


def distinct_problems(log: Path, offset: int = 0, limit: int = 12) -> list[str]:
    """Distinct ERROR/WARNING messages (and exception lines) in the broker log."""
    seen: dict[str, int] = {}
    with log.open("rb") as f:
        f.seek(offset)
        for raw in f.read().decode(errors="replace").splitlines():
            if " ERROR " in raw or " WARNING " in raw:
                msg = raw.split(" ", 3)[-1]
            elif raw.startswith(("OSError", "RuntimeError", "ValueError")):
                msg = raw
            else:
                continue
            key = msg[:200]
            seen[key] = seen.get(key, 0) + 1
    return [f"{n:>6} x {k}" for k, n in list(seen.items())[:limit]]


def create_all(
    admin: AdminClient, topics: int, partitions: int, per_request: int, pid: int
) -> tuple[float, list[str]]:
    errors: list[str] = []
    start = time.perf_counter()
    for first in range(0, topics, per_request):
        batch = [
            NewTopic(f"scale-{i:04d}", partitions, 1)
            for i in range(first, min(topics, first + per_request))
        ]
        futures = admin.create_topics(batch, request_timeout=600, operation_timeout=600)
        for name, fut in futures.items():
            try:
                fut.result()
            except Exception as exc:  # report every failure, keep going
                errors.append(f"{name}: {exc}")
        done = min(topics, first + per_request) * partitions
        if not Path(f"/proc/{pid}").exists():
            errors.append(f"broker process exited after ~{done} partitions")
            break
        print(
            f"  {done:>6} partitions created, {time.perf_counter() - start:6.1f} s, "
            f"RSS {common.rss_bytes(pid) / 2**20:.0f} MiB, fds {common.fd_count(pid)}, "
            f"maps {common.map_count(pid)}",
            flush=True,
        )
        if errors:
            break
    return time.perf_counter() - start, errors


def produce_all(bootstrap: str, topics: int, partitions: int, records: int) -> tuple[float, int]:
    """``records`` 100-byte records to every partition; returns (seconds, failures)."""
    failed = 0

    def on_delivery(err: object, _msg: object) -> None:
        nonlocal failed
        if err is not None:
            failed += 1

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "acks": 1,
            "queue.buffering.max.messages": 2_000_000,
            "on_delivery": on_delivery,
            **common.quiet_librdkafka(),
        }
    )
    start = time.perf_counter()
    value = b"x" * 100
    for _ in range(records):
        for t in range(topics):
            for p in range(partitions):
                producer.produce(f"scale-{t:04d}", value, partition=p)
            producer.poll(0)
    left = producer.flush(300)
    return time.perf_counter() - start, failed + left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 topics x 100 partitions")
    parser.add_argument("--topics", type=int)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--per-request", type=int, default=10, help="topics per CreateTopics")
    parser.add_argument(
        "--records", type=int, default=1, help="records produced to each partition (0: none)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    topics = args.topics or (10 if args.quick else 100)
    expected = topics * args.partitions
    print(f"partitions_scale: {common.machine_summary()}")
    print(f"  {topics} topics x {args.partitions} partitions = {expected:,} partitions")
    for line in limits_report(None):
        print(f"  {line}")
    out: dict[str, object] = {"partitions": expected}
    with common.temp_dir("rh-bench-scale-") as data_dir:
        server = common.engine_process(data_dir)
        server.start()
        pid = server.pid
        admin = AdminClient({"bootstrap.servers": server.bootstrap, **common.quiet_librdkafka()})
        try:
            out["idle"] = probe(pid)
            elapsed, errors = create_all(admin, topics, args.partitions, args.per_request, pid)
            out["create_s"] = elapsed
            if args.records > 0 and not errors:
                produce_s, failed = produce_all(
                    server.bootstrap, topics, args.partitions, args.records
                )
                out["produce_s"], out["produce_failed"] = produce_s, failed
                print(
                    f"  produced {args.records} record(s) to every partition: {produce_s:.1f} s, "
                    f"{failed} failed"
                )
            if errors:
                print("\nFAILED while creating partitions:")
                for e in errors[:3]:
                    print(f"  {e}")
                if len(errors) > 3:
                    print(f"  ... {len(errors) - 3} more")
                for line in limits_report(pid):
                    print(f"  {line}")
                if Path(f"/proc/{pid}").exists():
                    out["at_failure"] = probe(pid)
                    print(f"  broker now: {out['at_failure']}")
                print("  distinct broker log errors/warnings:")
                for line in distinct_problems(server.log_path):
                    print(f"    {line}")
                out["errors"] = errors[:20]
                print("  continuing with the partitions that exist: shutdown and restart")
            t0 = time.perf_counter()
            try:
                n_topics, n_parts = count_partitions(admin, "scale-")
            except Exception as exc:
                print(f"  Metadata after creation failed: {exc}")
                n_topics, n_parts = -1, -1
            out["metadata_all_s"] = time.perf_counter() - t0
            out["listed_after_create"] = n_parts
            out["after_create"] = probe(pid)
            allocated, apparent, files = disk_usage(data_dir / "logs")
            out["disk"] = {
                "allocated_mib": allocated / 2**20,
                "apparent_gib": apparent / 2**30,
                "files": files,
            }
            print(
                f"  Metadata lists {n_topics} topics / {n_parts:,} partitions "
                f"(one full Metadata request: {out['metadata_all_s']:.2f} s)"
            )
            t0 = time.perf_counter()
            code = server.stop(timeout=600)
            out["shutdown_s"] = time.perf_counter() - t0
            out["shutdown_exit"] = code
            log_mark = server.log_path.stat().st_size
            t0 = time.perf_counter()
            try:
                server.start(timeout=600)
            except (RuntimeError, TimeoutError) as exc:
                print(f"  RESTART FAILED: {str(exc)[:2000]}")
                out["restart_error"] = str(exc)[-2000:]
                return _finish(args, out)
            out["restart_listen_s"] = time.perf_counter() - t0
            pid = server.pid
            restart_admin = AdminClient(
                {"bootstrap.servers": server.bootstrap, **common.quiet_librdkafka()}
            )
            want = n_parts if n_parts > 0 else expected
            seen = 0
            while seen < want and time.perf_counter() - t0 < 300:
                try:
                    seen = count_partitions(restart_admin, "scale-")[1]
                except Exception:
                    time.sleep(0.05)
            out["restart_s"] = time.perf_counter() - t0
            out["restart_partitions"] = seen
            out["restart_log_problems"] = distinct_problems(server.log_path, log_mark)
            out["after_restart"] = probe(pid)
            recovered = [ln for ln in server.log_tail(50).splitlines() if "loaded" in ln]
            out["restart_log"] = recovered[-1:] if recovered else []
        finally:
            common.stop(server)
    return _finish(args, out)


def _finish(args: argparse.Namespace, out: dict[str, object]) -> int:
    def fmt(p: object, key: str) -> str:
        return "-" if not isinstance(p, dict) else str(round(p[key], 1))

    rows = [
        [
            stage,
            fmt(out.get(k), "rss_mib"),
            fmt(out.get(k), "vmsize_gib"),
            fmt(out.get(k), "fds"),
            fmt(out.get(k), "maps"),
            fmt(out.get(k), "threads"),
        ]
        for stage, k in (
            ("idle broker", "idle"),
            ("after creation", "after_create"),
            ("after restart", "after_restart"),
        )
    ]
    print()
    print(common.table(["stage", "RSS MiB", "VmSize GiB", "open fds", "mappings", "threads"], rows))
    for stage in ("after_create", "after_restart"):
        if isinstance(out.get(stage), dict):
            print(f"open fds by kind, {stage.replace('_', ' ')}: {out[stage]['fd_kinds']}")  # type: ignore[index]
    if "restart_s" in out:
        disk = out["disk"]
        assert isinstance(disk, dict)
        rss = max(out["after_create"]["rss_mib"], out["after_restart"]["rss_mib"])  # type: ignore[index]
        n = out["listed_after_create"]
        print(
            f"\ncreate {out['partitions']:,} partitions ({n:,} exist): {out['create_s']:.1f} s; "
            f"clean shutdown (SIGTERM): {out['shutdown_s']:.1f} s, exit {out['shutdown_exit']}"
        )
        print(
            f"disk: {disk['files']:,} files, {disk['allocated_mib']:.0f} MiB allocated, "
            f"{disk['apparent_gib'] * 1024:.1f} MiB apparent"
        )
        print(
            common.table(
                ["metric", "target", "measured", "verdict"],
                [
                    [
                        "partitions created and listed",
                        f"{out['partitions']:,}",
                        f"{n:,}",
                        "meets" if n == out["partitions"] else "FAILS (see above)",
                    ],
                    [
                        f"broker RSS with {n:,} partitions (max of create/restart)",
                        "<= 1024 MiB",
                        f"{rss:.0f} MiB",
                        "meets" if rss * 2**20 <= RSS_TARGET else "MISSES",
                    ],
                    [
                        f"restart until Metadata lists all {n:,} partitions",
                        f"<= {RESTART_TARGET_S:.0f} s",
                        f"{out['restart_s']:.1f} s "
                        f"(listening after {out['restart_listen_s']:.1f} s)",
                        "meets"
                        if out["restart_s"] <= RESTART_TARGET_S
                        # type: ignore[operator]
                        else f"MISSES ({out['restart_s'] / RESTART_TARGET_S:.1f}x)",
                    ],  # type: ignore[operator]
                ],
            )
        )
        if out["restart_partitions"] != out["partitions"]:
            print(
                f"NOTE: Metadata listed {out['listed_after_create']} partitions before the "
                f"restart and {out['restart_partitions']} after it (of {out['partitions']} "
                "requested)"
            )
        for line in out.get("restart_log_problems", []):  # type: ignore[attr-defined]
            print(f"  restart log: {line}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
