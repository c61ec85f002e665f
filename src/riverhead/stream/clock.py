"""Clocks for runners: the real monotonic clock and a fake one for tests.

A runner reads ``now()`` once per scheduling round and calls ``sleep(seconds)`` when it has
nothing to do. With ``jumps = True`` (the fake clock) an idle runner sleeps straight to the
next deadline (a tree's timeout, a tick), so tests of timeouts take no real time.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    jumps: bool

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    """``time.monotonic`` and ``time.sleep``."""

    jumps = False

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that moves only when told: ``advance(s)``, or a runner's idle ``sleep``.

    Thread-safe (a test thread may advance it while a runner reads it).
    """

    jumps = True

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)
