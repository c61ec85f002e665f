"""``riverhead stream run``: start N worker processes of one topology and watch them.

Each worker is a child process (:mod:`riverhead.stream.worker`); they share the input
partitions through the consumer groups of their Kafka spouts, so starting more workers
(here, or by another ``riverhead stream run`` of the same app) spreads the load, and a
worker that dies has its partitions moved to the others by the group's rebalance (after
the session timeout, 6 s by default). The supervisor does not restart dead workers.

SIGTERM/SIGINT are forwarded to every worker (graceful stop: drain, commit, leave); the
supervisor exits when all workers have: 0 if each stopped cleanly, 1 otherwise.

Events reach the ``on_event`` callback (the CLI prints them); stats from all workers are
merged per component (:func:`riverhead.stream.metrics.merge`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from riverhead.stream.metrics import ComponentStats, merge

Event = dict[str, Any]


@dataclass
class Worker:
    index: int
    proc: subprocess.Popen[bytes]
    stats: list[ComponentStats] = field(default_factory=list)
    stopped: Event | None = None
    error: str | None = None


class Supervisor:
    """Runs ``count`` workers of ``app`` against ``brokers`` (thread-safe ``stop``)."""

    def __init__(
        self,
        app: str,
        count: int,
        brokers: str,
        stats_interval: float = 0.0,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.app = app
        self.count = count
        self.brokers = brokers
        self.stats_interval = stats_interval
        self.on_event = on_event or (lambda event: None)
        self.workers: list[Worker] = []
        self._readers: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the workers (their output is read by one thread each)."""
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        for i in range(self.count):
            cmd = [sys.executable, "-m", "riverhead.stream.worker", self.app, "--index", str(i),
                   "--count", str(self.count), "--brokers", self.brokers,
                   "--stats-interval", str(self.stats_interval)]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env,
                                    start_new_session=True)
            worker = Worker(i, proc)
            self.workers.append(worker)
            reader = threading.Thread(target=self._read, args=(worker,), daemon=True)
            reader.start()
            self._readers.append(reader)

    def _read(self, worker: Worker) -> None:
        assert worker.proc.stdout is not None
        for raw in worker.proc.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            with self._lock:
                if event.get("event") == "stats":
                    worker.stats = [ComponentStats.from_dict(c) for c in event["components"]]
                elif event.get("event") == "stopped":
                    worker.stopped = event
                elif event.get("event") == "error":
                    worker.error = event.get("message")
            self.on_event(event)
        code = worker.proc.wait()
        self.on_event({"event": "exited", "worker": worker.index, "pid": worker.proc.pid,
                       "code": code, "clean": code == 0 and worker.stopped is not None,
                       "error": worker.error})

    def stop(self) -> None:
        """Ask every live worker to stop gracefully (SIGTERM)."""
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.kill()

    def stats(self) -> dict[str, ComponentStats]:
        """Per-component stats merged over the workers' latest reports."""
        with self._lock:
            return merge(s for w in self.workers for s in w.stats)

    def wait(self) -> int:
        """Wait for every worker (each exit is an ``exited`` event); 0 if all stopped
        cleanly, else 1."""
        for w in self.workers:
            w.proc.wait()
        for reader in self._readers:
            reader.join()
        return 0 if all(w.proc.returncode == 0 and w.stopped for w in self.workers) else 1

    def run(self) -> int:
        """Start, forward SIGTERM/SIGINT, wait. Call from the main thread."""
        signals = 0

        def forward(signum: int, frame: FrameType | None) -> None:
            nonlocal signals
            signals += 1
            if signals == 1:
                self.stop()
            else:
                for w in self.workers:
                    if w.proc.poll() is None:
                        w.proc.send_signal(signal.SIGINT if signals == 2 else signal.SIGKILL)

        old_term = signal.signal(signal.SIGTERM, forward)
        old_int = signal.signal(signal.SIGINT, forward)
        try:
            self.start()
            return self.wait()
        finally:
            signal.signal(signal.SIGTERM, old_term)
            signal.signal(signal.SIGINT, old_int)
