"""Limits against abuse: connections per client address.

``max.connections.per.ip`` caps the connections one address may hold open at once
(Kafka's key; default unlimited), ``max.connections.per.ip.overrides`` gives some
addresses their own cap (``127.0.0.1:200,10.0.0.7:5``). A connection over the cap is
closed right after ``accept`` and logged; the others are unaffected.

Thread-safe: one lock guards the counters (taken only on accept and close).
"""

from __future__ import annotations

import threading
from collections import Counter

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
