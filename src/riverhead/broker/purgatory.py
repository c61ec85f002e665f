"""Delayed operations ("purgatory"): requests that wait for data or for a deadline.

A :class:`DelayedOperation` watches some keys (``(topic, partition)``). Whoever changes a
key — the produce path after an append — calls :meth:`Purgatory.notify`, which tries to
complete each operation watching it; a timer thread force-completes operations whose
deadline passed. ``try_complete``/``force_complete`` may race between the notifying
thread and the timer: :meth:`DelayedOperation.complete_once` lets exactly one of them run
``on_complete``.

Long-poll fetches use it now; acks=all produces will wait on it once replication exists.
Thread-safe.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from riverhead.broker.request import Request

Key = Hashable


class DelayedOperation:
    def __init__(self, deadline: float, keys: Iterable[Key]) -> None:
        self.deadline = deadline  # time.monotonic()
        self.keys = tuple(keys)
        self._done = False
        self._lock = threading.Lock()

    @property
    def done(self) -> bool:
        return self._done

    def ready(self) -> bool:
        """Whether the operation can complete now (override)."""
        raise NotImplementedError

    def on_complete(self) -> None:
        """Build and send the response (override). Runs exactly once."""
        raise NotImplementedError

    def complete_once(self) -> bool:
        with self._lock:
            if self._done:
                return False
            self._done = True
        self.on_complete()
        return True

    def try_complete(self) -> bool:
        if self._done or not self.ready():
            return False
        return self.complete_once()


class DelayedReply(DelayedOperation):
    """Answers ``request`` with ``reply`` at ``deadline`` and no sooner (a throttled
    answer, or a failed authentication's); ``close``: then close the connection."""

    def __init__(self, request: Request, reply: Any, deadline: float,
                 close: bool = False) -> None:
        super().__init__(deadline, ())
        self.request = request
        self.reply = reply
        self.close = close

    def ready(self) -> bool:
        return False

    def on_complete(self) -> None:
        if self.close:
            self.request.conn.eof = True  # close once the answer is written
        self.request.complete(self.reply)


class Purgatory:
    def __init__(self) -> None:
        self._watchers: dict[Key, set[DelayedOperation]] = {}
        self._timers: list[tuple[float, int, DelayedOperation]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._running = False
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._timers)

    def pending(self) -> list[DelayedOperation]:
        """Operations still waiting (for metrics; a snapshot)."""
        with self._lock:
            return [op for _, _, op in self._timers if not op.done]

    def watch(self, op: DelayedOperation) -> None:
        """Park ``op``; completes it at once if it became ready meanwhile."""
        with self._lock:
            for key in op.keys:
                self._watchers.setdefault(key, set()).add(op)
            heapq.heappush(self._timers, (op.deadline, next(self._seq), op))
            self._wake.notify()
        op.try_complete()  # data may have arrived between the check and the watch

    def notify(self, key: Key) -> None:
        if key not in self._watchers:  # cheap unlocked check on the produce hot path
            return
        with self._lock:
            ops = list(self._watchers.get(key, ()))
        for op in ops:
            if op.try_complete():
                self._forget(op)

    def _forget(self, op: DelayedOperation) -> None:
        with self._lock:
            for key in op.keys:
                watchers = self._watchers.get(key)
                if watchers is not None:
                    watchers.discard(op)
                    if not watchers:
                        del self._watchers[key]

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(
            target=self._expire_loop, name="riverhead-purgatory", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._running = False
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _expire_loop(self) -> None:
        while True:
            with self._lock:
                if not self._running:
                    return
                while self._timers and self._timers[0][2].done:
                    heapq.heappop(self._timers)
                if not self._timers:
                    self._wake.wait(1.0)
                    continue
                wait = self._timers[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(min(wait, 1.0))
                    continue
                _, _, op = heapq.heappop(self._timers)
            op.complete_once()
            self._forget(op)
