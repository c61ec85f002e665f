"""The per-address connection limiter."""

from __future__ import annotations

import pytest

from riverhead.broker.config import BrokerConfig, ConfigError
from riverhead.security.quotas import ByteRateQuota, ConnectionLimiter

pytestmark = pytest.mark.unit


def test_counts_per_address_with_overrides() -> None:
    lim = ConnectionLimiter(2, {"10.0.0.9": 1})
    assert lim.acquire("1.1.1.1") and lim.acquire("1.1.1.1") and not lim.acquire("1.1.1.1")
    assert lim.acquire("2.2.2.2")  # another address has its own count
    assert lim.acquire("10.0.0.9") and not lim.acquire("10.0.0.9")
    lim.release("1.1.1.1")
    assert lim.open_from("1.1.1.1") == 1 and lim.acquire("1.1.1.1")


def test_from_config() -> None:
    assert ConnectionLimiter.from_config(BrokerConfig.load(environ={})) is None  # unlimited
    cfg = BrokerConfig.load(
        overrides={"max.connections.per.ip": "5", "max.connections.per.ip.overrides": "[::1]:7"},
        environ={},
    )
    lim = ConnectionLimiter.from_config(cfg)
    assert lim is not None and lim.limit("::1") == 7 and lim.limit("1.2.3.4") == 5
    bad = BrokerConfig.load(overrides={"max.connections.per.ip.overrides": "x"}, environ={})
    with pytest.raises(ConfigError, match="host:count"):
        ConnectionLimiter.from_config(bad)


def test_byte_rate_quota_throttles_like_kafka() -> None:
    now = [0.0]
    q = ByteRateQuota(1000, samples=11, sample_s=1.0, clock=lambda: now[0])
    assert q.record("User:a", 5_000) == 0  # 5000 B over the 10 s minimum span: 500 B/s
    assert q.record("User:b", 500) == 0  # per principal
    throttle = q.record("User:a", 15_000)  # 20000 B / 10 s = 2000 B/s: twice the quota
    assert throttle == 10_000  # (2000 - 1000) / 1000 * 10 s
    now[0] = 30.0  # old samples leave the window
    assert q.record("User:a", 100) == 0
