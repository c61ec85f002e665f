"""All partition logs of a broker, spread over its ``log.dirs``.

Layout of each log dir::

    <log dir>/
        .riverhead_clean_shutdown     present only between a clean shutdown and the next
                                      start; its presence skips full recovery
        orders-0/                     one PartitionLog per "<topic>-<partition>"
        my.topic-with-dashes-3/       topic names may hold '-' and '.': split on the LAST '-'
        orders-1.3f2a...c9-delete/    a deleted partition not yet removed (removed at start)

Thread-safety: every public method may be called from any thread; the partition map is
guarded by a lock. The background thread started by :meth:`start` runs retention, log
compaction (:mod:`riverhead.log.cleaner`, at the retention interval) and time-based
flushes; :meth:`shutdown` stops it before closing the logs (closes run on a
few threads: they are fsyncs, which release the GIL).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from riverhead.log import cleaner, files
from riverhead.log.config import LogConfig
from riverhead.log.partition import PartitionLog, fsync_dir, wall_clock_ms

logger = logging.getLogger("riverhead.log")

CLEAN_SHUTDOWN_FILE = ".riverhead_clean_shutdown"
SHUTDOWN_THREADS = 8  # closes overlapped at shutdown (fsync-bound)


def parse_partition_dir(name: str) -> tuple[str, int] | None:
    """``"a.b-c-12"`` -> ``("a.b-c", 12)``; None if the name is not a partition dir."""
    topic, sep, part = name.rpartition("-")
    if not sep or not topic or not part.isdigit():
        return None
    return topic, int(part)


class LogManager:
    """Loads, creates, deletes and maintains the partition logs of one broker.

    ``log_dirs`` are created if missing. Every partition directory found is loaded with
    ``default_config`` (the broker applies per-topic configs afterwards through
    :meth:`set_topic_config`); with recovery unless that dir has the clean-shutdown marker,
    which is then removed so a later crash is recovered. ``now_ms`` is the clock.

    Open files: one per partition (its active segment), plus at most
    ``open_segment_files`` read fds of rolled segments for the whole process; rolled
    segments' index entries are cached up to ``index_cache_bytes``. Both bounds are
    process-wide (:func:`riverhead.log.files.configure`); None keeps the current ones
    (defaults 1000 files, 64 MiB).
    """

    def __init__(
        self,
        log_dirs: list[Path],
        default_config: LogConfig,
        *,
        now_ms: Callable[[], int] | None = None,
        open_segment_files: int | None = None,
        index_cache_bytes: int | None = None,
    ) -> None:
        if not log_dirs:
            raise ValueError("at least one log dir is needed")
        files.configure(open_segment_files=open_segment_files, index_cache_bytes=index_cache_bytes)
        self.log_dirs = [Path(d) for d in log_dirs]
        self.default_config = default_config
        self._now = now_ms or wall_clock_ms
        self._lock = threading.Lock()
        self._logs: dict[tuple[str, int], PartitionLog] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for log_dir in self.log_dirs:
            log_dir.mkdir(parents=True, exist_ok=True)
            self._load_dir(log_dir)

    def _load_dir(self, log_dir: Path) -> None:
        marker = log_dir / CLEAN_SHUTDOWN_FILE
        clean = marker.exists()
        with os.scandir(log_dir) as it:  # d_type: no stat per entry
            names = sorted(entry.name for entry in it if entry.is_dir())
        for name in names:
            path = log_dir / name
            if name.endswith("-delete"):
                logger.info("removing deleted partition dir %s", path)
                shutil.rmtree(path, ignore_errors=True)
                continue
            parsed = parse_partition_dir(path.name)
            if parsed is None:
                logger.warning("ignoring %s: not a <topic>-<partition> directory", path)
                continue
            if parsed in self._logs:
                raise RuntimeError(
                    f"partition {parsed[0]}-{parsed[1]} found in both "
                    f"{self._logs[parsed].directory.parent} and {log_dir}"
                )
            self._logs[parsed] = PartitionLog(
                path, self.default_config, recover=not clean, now_ms=self._now
            )
        if clean:
            marker.unlink()
            fsync_dir(log_dir)

    # -- partitions -----------------------------------------------------------------------

    def get(self, topic: str, partition: int) -> PartitionLog | None:
        return self._logs.get((topic, partition))

    def create(self, topic: str, partition: int, config: LogConfig) -> PartitionLog:
        """Return the partition's log, creating it in the least-loaded log dir if missing."""
        with self._lock:
            existing = self._logs.get((topic, partition))
            if existing is not None:
                return existing
            log_dir = self.log_dirs[0]
            if len(self.log_dirs) > 1:
                counts = dict.fromkeys(self.log_dirs, 0)
                for log in self._logs.values():
                    parent = log.directory.parent
                    if parent in counts:
                        counts[parent] += 1
                log_dir = min(self.log_dirs, key=lambda d: counts[d])
            directory = log_dir / f"{topic}-{partition}"
            try:
                log = PartitionLog(directory, config, now_ms=self._now)
            except OSError:
                shutil.rmtree(directory, ignore_errors=True)  # e.g. out of file descriptors
                raise
            self._logs[(topic, partition)] = log
            return log

    def set_topic_config(self, topic: str, config: LogConfig) -> None:
        """Apply ``config`` to every existing partition of ``topic`` (takes effect at the
        next append, roll or retention run)."""
        with self._lock:
            for (name, _), log in self._logs.items():
                if name == topic:
                    log.config = config

    def delete_topic(self, topic: str) -> None:
        """Close and remove every partition of ``topic``: the dir is first renamed to
        ``<name>.<uuid>-delete`` (so a crash midway finishes at the next start)."""
        with self._lock:
            doomed = [key for key in self._logs if key[0] == topic]
            logs = [self._logs.pop(key) for key in doomed]
        for log in logs:
            log.delete()

    def delete_partition(self, topic: str, partition: int) -> None:
        """Close and remove one partition (undoing a partly failed creation)."""
        with self._lock:
            log = self._logs.pop((topic, partition), None)
        if log is not None:
            log.delete()

    def partitions(self) -> dict[tuple[str, int], PartitionLog]:
        with self._lock:
            return dict(self._logs)

    # -- background work ------------------------------------------------------------------

    def start(self, retention_check_interval_ms: int, flush_scheduler_interval_ms: int) -> None:
        """Start the daemon thread running retention and ``flush.ms`` flushes."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run,
            args=(retention_check_interval_ms, flush_scheduler_interval_ms),
            name="log-manager",
            daemon=True,
        )
        self._thread.start()

    def _run(self, retention_ms: int, flush_ms: int) -> None:
        next_retention = self._now() + retention_ms
        next_flush = self._now() + flush_ms
        while not self._stop.wait(max(0.001, min(retention_ms, flush_ms) / 1000)):
            now = self._now()
            if now >= next_flush:
                next_flush = now + flush_ms
                self.run_flushes(now)
            if now >= next_retention:
                next_retention = now + retention_ms
                self.run_retention(now)
                self.run_cleaner(now)

    def run_retention(self, now_ms: int) -> int:
        """One retention pass over all logs; returns segments deleted. Errors are logged."""
        deleted = 0
        for log in self.partitions().values():
            try:
                deleted += log.apply_retention(now_ms)
            except RuntimeError:  # closed by delete_topic meanwhile
                continue
            except OSError:
                logger.exception("retention failed for %s", log.directory)
        return deleted

    def run_cleaner(self, now_ms: int, *, force: bool = False) -> int:
        """One compaction pass over every log whose ``cleanup.policy`` has ``compact``
        and whose dirty ratio reaches ``min.cleanable.dirty.ratio`` (any ratio with
        ``force``); returns segments rewritten or deleted. Errors are logged."""
        done = 0
        for log in self.partitions().values():
            if "compact" not in log.config.cleanup_policy.split(","):
                continue
            try:
                result = cleaner.clean(log, now_ms, force=force)
            except RuntimeError:  # closed by delete_topic meanwhile
                continue
            except (OSError, ValueError):
                logger.exception("log compaction failed for %s", log.directory)
                continue
            done += result.segments_rewritten + result.segments_deleted
        return done

    def run_flushes(self, now_ms: int) -> None:
        """Flush every log whose ``flush.ms`` has passed. Errors are logged."""
        for log in self.partitions().values():
            try:
                log.flush_if_due(now_ms)
            except OSError:
                logger.exception("flush failed for %s", log.directory)

    def shutdown(self) -> None:
        """Stop the thread, flush and close every log, then write the clean-shutdown
        marker (fsynced) in each log dir."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            logs = list(self._logs.values())
        # Closing is fsyncs (log, index files, checkpoint, directory), which release the
        # GIL: a few threads overlap them (10k written logs: 1.3-1.9x faster on this disk).
        with concurrent.futures.ThreadPoolExecutor(SHUTDOWN_THREADS, "log-close") as pool:
            for _ in pool.map(PartitionLog.close, logs):
                pass
        for log_dir in self.log_dirs:
            marker = log_dir / CLEAN_SHUTDOWN_FILE
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            fsync_dir(log_dir)
