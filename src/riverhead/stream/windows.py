"""Window assigners: which windows a record with event time ``ts`` (ms) belongs to.

A :class:`Window` is ``[start, end)`` in milliseconds (end exclusive). Assigners:

* :func:`tumbling` — fixed, non-overlapping windows of ``size``, aligned to the epoch
  (plus ``offset``): ``start = ts - (ts - offset) % size``;
* :func:`hopping` — windows of ``size`` starting every ``every`` (``size`` a multiple of
  ``every`` is usual; Flink's sliding windows): a record is in ``ceil(size / every)``
  windows;
* :func:`session` — per key, records closer than ``gap`` join one window that grows; each
  record first gets ``[ts, ts + gap)`` and overlapping windows of the key merge;
* :func:`count_window` — per key, every ``n`` records make one window (no event time;
  the window's start/end are the smallest and largest timestamps in it, end + 1).

Durations are given in seconds (floats allowed) or milliseconds (``ms=``). Assigners are
immutable and thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Window:
    """``[start, end)`` in milliseconds."""

    start: int
    end: int

    def overlaps(self, other: Window) -> bool:
        """Intersecting or touching (Flink's session rule: records exactly ``gap``
        apart are in one session)."""
        return self.start <= other.end and other.start <= self.end

    def cover(self, other: Window) -> Window:
        return Window(min(self.start, other.start), max(self.end, other.end))


def _ms(seconds: float | None, ms: int | None, what: str) -> int:
    if (seconds is None) == (ms is None):
        raise ValueError(f"{what}: give seconds or ms (exactly one)")
    value = int(ms) if ms is not None else round(float(seconds or 0) * 1000)
    if value <= 0:
        raise ValueError(f"{what} must be > 0, got {value} ms")
    return value


class Assigner:
    """Base of the assigners. ``merging``: session windows (windows of a key merge).
    ``counting``: count windows (no event time)."""

    merging = False
    counting = False

    def assign(self, ts: int) -> list[Window]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Tumbling(Assigner):
    size: int
    offset: int = 0

    def assign(self, ts: int) -> list[Window]:
        start = ts - (ts - self.offset) % self.size
        return [Window(start, start + self.size)]

    def describe(self) -> str:
        return f"tumbling({self.size} ms)"


@dataclass(frozen=True)
class Hopping(Assigner):
    size: int
    every: int
    offset: int = 0

    def assign(self, ts: int) -> list[Window]:
        last = ts - (ts - self.offset) % self.every
        out = []
        start = last
        while start > ts - self.size:
            out.append(Window(start, start + self.size))
            start -= self.every
        out.reverse()
        return out

    def describe(self) -> str:
        return f"hopping({self.size} ms every {self.every} ms)"


@dataclass(frozen=True)
class Session(Assigner):
    gap: int
    merging = True

    def assign(self, ts: int) -> list[Window]:
        return [Window(ts, ts + self.gap)]

    def describe(self) -> str:
        return f"session(gap {self.gap} ms)"


@dataclass(frozen=True)
class CountWindow(Assigner):
    n: int
    counting = True

    def assign(self, ts: int) -> list[Window]:
        return [Window(ts, ts + 1)]

    def describe(self) -> str:
        return f"count_window({self.n})"


def tumbling(seconds: float | None = None, *, ms: int | None = None,
             offset_ms: int = 0) -> Tumbling:
    """Tumbling windows of ``seconds`` (or ``ms``)."""
    return Tumbling(_ms(seconds, ms, "tumbling size"), offset_ms)


def hopping(seconds: float | None = None, *, every: float | None = None,
            ms: int | None = None, every_ms: int | None = None) -> Hopping:
    """Windows of ``seconds`` starting every ``every`` seconds (or ``ms``/``every_ms``)."""
    size = _ms(seconds, ms, "hopping size")
    hop = _ms(every, every_ms, "hopping every")
    if hop > size:
        raise ValueError(f"hopping: every ({hop} ms) larger than the size ({size} ms) "
                         "leaves gaps; use tumbling for equal sizes")
    return Hopping(size, hop)


def session(gap: float | None = None, *, gap_ms: int | None = None) -> Session:
    """Session windows closed by ``gap`` seconds (or ``gap_ms``) of inactivity per key."""
    return Session(_ms(gap, gap_ms, "session gap"))


def count_window(n: int) -> CountWindow:
    """Every ``n`` records of a key form a window."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"count_window needs n >= 1, got {n!r}")
    return CountWindow(n)
