"""Event time and watermarks.

Times are **integer milliseconds** since the epoch (Kafka record timestamps). A
*watermark* ``W`` is a task's claim that no more records with a timestamp below ``W`` are
expected; records that arrive with ``ts < W`` are *out of order* and may be late for
their windows (see :mod:`riverhead.stream.windowing`).

:class:`WatermarkTracker` keeps one watermark per input *channel* (a source partition at
a source step; an upstream task further down) and combines them:

* ``observe(channel, ts)``: a record's event time; the channel's watermark becomes
  ``max(ts seen) - max_out_of_orderness`` (bounded out-of-orderness, Flink's
  ``BoundedOutOfOrdernessWatermarks``);
* ``advance(channel, wm)``: an upstream task's watermark (carried on its tuples);
* ``current(now)``: the minimum over the *active* channels; a channel that delivered
  nothing for ``idle_timeout`` seconds (processing time, read from the runner's clock) is
  idle and does not hold the watermark back; when every channel is idle, the maximum.

Invariants: a channel's watermark never decreases (later, smaller values are ignored:
replays after a rebalance re-send old ones), and neither does :meth:`current`. The
tracker is not thread-safe (one task's thread).
"""

from __future__ import annotations

from collections.abc import Mapping

NO_WATERMARK = -(2**62)
"""The watermark before anything was seen (every window is open)."""
MAX_WATERMARK = 2**62
LAST = "*"
"""The key of the combined watermark in :meth:`WatermarkTracker.snapshot`."""
"""End of input: every window fires (bounded test sources send it when exhausted)."""


class WatermarkTracker:
    """Per-channel watermarks combined by minimum, with idle channels left out."""

    __slots__ = ("_channels", "_dirty", "_last", "_min", "_seen", "_valid_until",
                 "idle_timeout", "ooo")

    def __init__(self, max_out_of_orderness_ms: int = 0, idle_timeout: float = 30.0) -> None:
        if max_out_of_orderness_ms < 0:
            raise ValueError("max_out_of_orderness must be >= 0")
        self.ooo = int(max_out_of_orderness_ms)
        self.idle_timeout = float(idle_timeout)
        self._channels: dict[str, int] = {}
        self._seen: dict[str, float] = {}  # channel -> processing time of its last input
        self._last = NO_WATERMARK
        # current() is called per tuple: it is cached until a channel that may be the
        # minimum moves, an idle channel wakes up, or an active one may have gone idle.
        self._dirty = True
        self._min = NO_WATERMARK
        self._valid_until = 0.0

    def observe(self, channel: str, ts: int, now: float) -> None:
        """A record with event time ``ts`` arrived on ``channel``."""
        self.advance(channel, ts - self.ooo, now)

    def advance(self, channel: str, wm: int, now: float) -> None:
        """``channel``'s watermark is at least ``wm``; the channel is active at ``now``."""
        old = self._channels.get(channel)
        if old is None:
            self._channels[channel] = wm
            self._dirty = True
        else:
            if wm > old:
                self._channels[channel] = wm
                if old <= self._min:
                    self._dirty = True
            if self._seen[channel] <= now - self.idle_timeout:
                self._dirty = True  # an idle channel is back
        self._seen[channel] = now

    def current(self, now: float) -> int:
        """The task's watermark at processing time ``now`` (never decreases)."""
        if not self._dirty and now < self._valid_until:
            return self._last
        if not self._channels:
            return self._last
        cutoff = now - self.idle_timeout
        seen = self._seen
        active = [c for c in self._channels if seen[c] > cutoff]
        if active:
            wm = min(self._channels[c] for c in active)
            self._valid_until = min(seen[c] for c in active) + self.idle_timeout
        else:
            wm = max(self._channels.values())
            self._valid_until = float("inf")
        self._min = wm
        self._dirty = False
        if wm > self._last:
            self._last = wm
        return self._last

    def forget(self, channel: str) -> None:
        """Stop tracking ``channel`` (its input moved elsewhere)."""
        if self._channels.pop(channel, None) is not None:
            self._seen.pop(channel, None)
            self._dirty = True

    def channel(self, name: str) -> int:
        """``name``'s watermark (``NO_WATERMARK`` if never seen)."""
        return self._channels.get(name, NO_WATERMARK)

    def snapshot(self) -> dict[str, int]:
        """Every channel's watermark, and the combined one under :data:`LAST` (to persist
        with a task's state)."""
        return {**self._channels, LAST: self._last}

    def restore(self, channels: Mapping[str, int], now: float) -> None:
        """Merge persisted channel watermarks (the maximum of old and new wins); the
        combined watermark does not go below the persisted one (a partition's watermark
        never decreases, whichever task owns it)."""
        channels = dict(channels)
        last = channels.pop(LAST, NO_WATERMARK)
        if last > self._last:
            self._last = last
        for channel, wm in channels.items():
            if wm > self._channels.get(channel, NO_WATERMARK):
                self._channels[channel] = int(wm)
            self._seen.setdefault(channel, now)
        self._dirty = True
