"""Limits against abuse: connections per client address, byte-rate quotas per principal.

``max.connections.per.ip`` caps the connections one address may hold open at once
(Kafka's key; default unlimited), ``max.connections.per.ip.overrides`` gives some
addresses their own cap (``127.0.0.1:200,10.0.0.7:5``). A connection over the cap is
closed right after ``accept`` and logged; the others are unaffected.

``quota.producer.default`` / ``quota.consumer.default`` cap the bytes per second each
principal produces / fetches (:class:`ByteRateQuota`). A request over quota is answered
with ``throttle_time_ms`` set, and the answer itself is held back that long (on the
purgatory timer), so clients that ignore the field are slowed down too.

Thread-safe: one lock guards the counters (taken only on accept and close).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable

from riverhead.broker.config import BrokerConfig, ConfigError

UNLIMITED = 2**31 - 1


class ConnectionLimiter:
    def __init__(self, per_ip: int, overrides: dict[str, int] | None = None) -> None:
        self.per_ip = per_ip
        self.overrides = dict(overrides or {})
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: BrokerConfig) -> ConnectionLimiter | None:
        """None when nothing is limited (the engine then keeps no counters at all)."""
        per_ip = config.get_int("max.connections.per.ip")
        overrides: dict[str, int] = {}
        for item in (p.strip() for p in config.get("max.connections.per.ip.overrides").split(",")):
            if not item:
                continue
            host, sep, count = item.rpartition(":")
            if not sep or not host or not count.isdigit():
                raise ConfigError(
                    f"max.connections.per.ip.overrides entry {item!r} is not host:count "
                    "(e.g. 127.0.0.1:200)"
                )
            overrides[host.strip("[]")] = int(count)
        if per_ip >= UNLIMITED and not overrides:
            return None
        if per_ip < 1:
            raise ConfigError("max.connections.per.ip must be >= 1")
        return cls(per_ip, overrides)

    def limit(self, ip: str) -> int:
        return self.overrides.get(ip, self.per_ip)

    def acquire(self, ip: str) -> bool:
        """Count a new connection from ``ip``; False (nothing counted) over the cap."""
        with self._lock:
            if self._open[ip] >= self.limit(ip):
                return False
            self._open[ip] += 1
            return True

    def release(self, ip: str) -> None:
        with self._lock:
            self._open[ip] -= 1
            if self._open[ip] <= 0:
                del self._open[ip]

    def open_from(self, ip: str) -> int:
        with self._lock:
            return self._open[ip]


class ByteRateQuota:
    """Kafka's client byte-rate quota, per principal: bytes per second over a window of
    ``samples`` samples of ``sample_s`` seconds (Kafka: ``quota.window.num`` = 11,
    ``quota.window.size.seconds`` = 1). :meth:`record` adds bytes and answers the throttle
    time Kafka would: ``(rate - quota) / quota * window`` when over quota, else 0.

    Thread-safe (one lock; taken once per request, only when a quota is configured).
    """

    def __init__(
        self,
        bytes_per_s: int,
        *,
        samples: int = 11,
        sample_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bytes_per_s = bytes_per_s
        self.samples = samples
        self.sample_s = sample_s
        self._clock = clock
        self._seen: dict[str, deque[list[float]]] = {}
        self._lock = threading.Lock()

    def record(self, principal: str, nbytes: int) -> int:
        """Count ``nbytes`` for ``principal``; the throttle time in ms (0: within quota)."""
        now = self._clock()
        with self._lock:
            window = self._seen.setdefault(principal, deque())
            if window and now - window[-1][0] < self.sample_s:
                window[-1][1] += nbytes
            else:
                window.append([now, float(nbytes)])
            horizon = now - self.samples * self.sample_s
            while window and window[0][0] < horizon:
                window.popleft()
            span = max(now - window[0][0], (self.samples - 1) * self.sample_s)
            rate = sum(b for _, b in window) / span
        if rate <= self.bytes_per_s:
            return 0
        return int((rate - self.bytes_per_s) / self.bytes_per_s * span * 1000)


def byte_quota(config: BrokerConfig, key: str) -> ByteRateQuota | None:
    """``quota.producer.default`` / ``quota.consumer.default`` (bytes/s per principal,
    Kafka's static defaults); None when unlimited."""
    rate = config.get_int(key)
    if rate >= 2**63 - 1:
        return None
    if rate < 1:
        raise ConfigError(f"{key} must be >= 1 byte per second")
    return ByteRateQuota(rate)
