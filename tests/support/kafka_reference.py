"""Apache Kafka as a reference broker for the differential (interop) tests and benchmarks.

:class:`KafkaProcess` has the interface of :class:`~tests.support.broker_process.BrokerProcess`
(``bootstrap``, ``pid``, ``start``/``stop``/``kill``, ``log_tail``, ``settings``) and runs
``interop/start.sh``: a pinned Apache Kafka 4.x (``interop/pom.xml``), one KRaft node that
is both broker and controller, on two free loopback ports, its data and log under
``data_dir``. The script execs the JVM, so the child's PID is the broker's and it is
stopped by that PID (SIGTERM: Kafka's controlled shutdown, then SIGKILL after a grace
period). The jars come through Maven (``interop/fetch.sh``) into ``interop/.cache/jars``
on first use; :func:`ensure_jars` raises :class:`KafkaUnavailable` with the script's
one-line error (no Maven, no Java, repository unreachable) instead of skipping.

Not thread-safe: one test process owns a ``KafkaProcess``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.broker_process import ChildProcess, free_port

INTEROP = Path(__file__).resolve().parents[2] / "interop"
FETCH = INTEROP / "fetch.sh"
START = INTEROP / "start.sh"
READY_LINE = b"Kafka Server started"


class KafkaUnavailable(RuntimeError):
    """Apache Kafka could not be fetched or started (the message says why and what to do)."""


def ensure_jars(timeout: float = 600.0) -> None:
    """Fetch the pinned Kafka jars through Maven unless they are cached already."""
    try:
        done = subprocess.run([str(FETCH)], capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise KafkaUnavailable(
            f"{FETCH} did not finish in {timeout:.0f}s (Maven fetching Apache Kafka's jars); "
            "hint: check that the Maven repository is reachable"
        ) from None
    if done.returncode != 0:
        raise KafkaUnavailable(
            done.stderr.decode(errors="replace").strip() or f"{FETCH} exited {done.returncode}"
        )


@dataclass
class KafkaProcess(ChildProcess):
    """One Apache Kafka KRaft node; ``bootstrap`` is ``127.0.0.1:<port>``.

    ``settings`` are extra ``server.properties`` entries (override the script's).
    """

    data_dir: Path
    port: int = 0
    controller_port: int = 0
    settings: dict[str, str] = field(default_factory=dict)
    heap: str = "-Xmx512m -Xms256m"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "kafka.log"

    @property
    def log_dir(self) -> Path:
        """Kafka's ``log.dirs``: ``<topic>-<partition>/`` directories of segments."""
        return self.data_dir / "logs"

    def start(self, timeout: float = 90.0) -> KafkaProcess:
        ensure_jars()
        if not self.port:
            self.port = free_port()
        if not self.controller_port:
            self.controller_port = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        settings = {"group.initial.rebalance.delay.ms": "0", **self.settings}
        args = [str(START), str(self.data_dir), str(self.port), str(self.controller_port)]
        args += [f"{k}={v}" for k, v in settings.items()]
        env = {**os.environ, "KAFKA_HEAP_OPTS": self.heap}
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        """Until Kafka logs that it started and its listener accepts connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise KafkaUnavailable(
                    f"Apache Kafka exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            with self.log_path.open("rb") as log:
                log.seek(self._log_start)
                started = READY_LINE in log.read()
            if started:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        self.kill()
        raise KafkaUnavailable(f"Apache Kafka not ready after {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (Kafka's controlled shutdown), SIGKILL after ``timeout``."""
        return super().stop(timeout)


def main() -> int:
    """``python -m tests.support.kafka_reference DIR``: run Kafka in the foreground."""
    import sys

    data = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/riverhead-kafka-reference")
    proc = KafkaProcess(data).start()
    print(
        f"Apache Kafka on {proc.bootstrap} (pid {proc.pid}, log {proc.log_path}); Ctrl-C stops",
        flush=True,
    )
    try:
        proc.proc.wait()  # type: ignore[union-attr]
    except KeyboardInterrupt:
        proc.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
