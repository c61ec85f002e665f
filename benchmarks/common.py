"""Shared helpers for the broker benchmarks: process launch, /proc probes, stats, tables.

Every benchmark runs the server under test in its own process, so the client's CPU use
(confluent-kafka/librdkafka threads, the Python loop feeding it) is not counted against
the broker, and the broker's CPU is read from ``/proc/<pid>/stat`` (utime + stime, all
threads) around each phase.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
for _p in (str(REPO), str(REPO / "src")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from tests.support.broker_process import BrokerProcess  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
MB = 1_000_000  # MB/s in the tables are 10**6 bytes of record *values* per second
GB = 1_000_000_000


# ---- server processes ---------------------------------------------------------------------


def engine_process(data_dir: Path, settings: dict[str, str] | None = None) -> BrokerProcess:
    """The Leader/Followers broker, started exactly as the integration tests start it."""
    return BrokerProcess(data_dir, settings=dict(settings or {}))


def asyncio_process(data_dir: Path, settings: dict[str, str] | None = None) -> BrokerProcess:
    return BrokerProcess(
        data_dir,
        settings=dict(settings or {}),
        command=[sys.executable, str(BENCH_DIR / "asyncio_server.py")],
    )


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def stop(server: BrokerProcess) -> None:
    with contextlib.suppress(Exception):
        server.stop()


# ---- /proc probes -------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid``, in seconds."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def status_field(pid: int, name: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def map_count(pid: int) -> int:
    with open(f"/proc/{pid}/maps") as f:
        return sum(1 for _ in f)


# ---- statistics and output ----------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text (also valid Markdown) table."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine_summary() -> str:
    import platform

    import confluent_kafka

    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = "?"
    return (
        f"riverhead {rev}; {os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, "
        f"Python {platform.python_version()}, confluent-kafka {confluent_kafka.version()[0]} "
        f"(librdkafka {confluent_kafka.libversion()[0]})"
    )


def wait_topic(bootstrap: str, topic: str, partitions: int, timeout: float = 30.0) -> None:
    """Wait until Metadata lists ``topic`` with ``partitions`` partitions."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, **quiet_librdkafka()})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        md = admin.list_topics(topic, timeout=5)
        t = md.topics.get(topic)
        if t is not None and t.error is None and len(t.partitions) == partitions:
            return
        time.sleep(0.1)
    raise TimeoutError(f"topic {topic} with {partitions} partitions not visible")


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, **quiet_librdkafka()})
    for fut in admin.create_topics([NewTopic(topic, partitions, 1)], request_timeout=60).values():
        fut.result()
    wait_topic(bootstrap, topic, partitions)


def quiet_librdkafka() -> dict[str, object]:
    """Client config that keeps librdkafka's reconnect chatter off the benchmark output."""
    return {"log_level": 0}


if __name__ == "__main__":
    print(__doc__)
