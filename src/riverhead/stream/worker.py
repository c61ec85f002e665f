"""One worker process of ``riverhead stream run``: the whole topology in a LocalRunner.

Started by :mod:`riverhead.stream.supervisor` as
``python -m riverhead.stream.worker APP --index I --count N --brokers B``. The worker
loads the topology (:mod:`riverhead.stream.loader`), rewrites fields/global groupings to
go through repartition topics (:mod:`riverhead.stream.repartition`), creates those topics,
and runs until SIGTERM or SIGINT, which stop its spouts, drain in-flight trees (up to
``drain_timeout``), commit offsets and leave the consumer groups. A second signal stops
at once (no drain).

It reports on stdout, one JSON object per line (the supervisor reads them):
``{"event": "started", "worker": I, "pid": P, "repartition_topics": [...]}``,
``{"event": "stats", "worker": I, "components": [ComponentStats...]}`` every
``--stats-interval`` seconds (0: only at the end), and
``{"event": "stopped", "worker": I, "reason": ..., "acked": ..., "failed": ..., "pending": ...}``.
Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from riverhead.stream.errors import StreamError
from riverhead.stream.loader import load_topology
from riverhead.stream.repartition import create_topics, plan
from riverhead.stream.runner import LocalRunner


def _say(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, default=str) + "\n")
    sys.stdout.flush()


def _stats(runner: LocalRunner, index: int) -> dict[str, Any]:
    return {
        "event": "stats",
        "worker": index,
        "components": [s.as_dict() for s in runner.metrics().values()],
    }


def run_worker(app: str, index: int, count: int, brokers: str, stats_interval: float) -> int:
    """Run one worker until signalled; returns the process exit code."""
    topology = load_topology(app)
    physical, parts = plan(topology, brokers)
    create_topics(topology, parts, brokers)
    runner = LocalRunner(
        physical, collect=False, worker_index=index, worker_count=count, brokers=brokers
    )
    signals = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal signals
        signals += 1
        runner.stop(drain=signals == 1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    _say({"event": "started", "worker": index, "pid": os.getpid(),
          "repartition_topics": [p.topic for p in parts]})
    done = threading.Event()

    def report() -> None:
        while not done.wait(stats_interval):
            _say(_stats(runner, index))

    reporter = None
    if stats_interval > 0:
        reporter = threading.Thread(target=report, name="stats", daemon=True)
        reporter.start()
    try:
        result = runner.run(until_idle=False)
    finally:
        done.set()
    _say(_stats(runner, index))
    _say({"event": "stopped", "worker": index, "reason": result.reason, "acked": result.acked,
          "failed": result.failed, "pending": result.pending})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="riverhead.stream.worker")
    parser.add_argument("app")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--brokers", default=os.environ.get("RIVERHEAD_BROKERS",
                                                            "127.0.0.1:9092"))
    parser.add_argument("--stats-interval", type=float, default=0.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("RIVERHEAD_STREAM_LOG", "WARNING"),
        format=f"worker {args.index}: %(levelname)s %(name)s: %(message)s",
    )
    try:
        return run_worker(args.app, args.index, args.count, args.brokers, args.stats_interval)
    except StreamError as exc:
        _say({"event": "error", "worker": args.index, "message": str(exc)})
        return 2


if __name__ == "__main__":
    sys.exit(main())
