"""Retention by time: ListOffsets and consumers after the broker deleted expired segments.

A topic with ``retention.ms`` of one minute and 1 MiB segments receives four ~400 KB
records stamped two hours ago (each its own batch, so two segments), then the broker's
retention check (every 500 ms on both) expires them. Compared: the log start offset
once it has settled, earliest/latest, a lookup by time, and what a consumer reads from
the beginning after a fresh record is appended.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.interop.diff import Target, assert_same, observe
from tests.interop.test_list_offsets import lookup
from tests.support.clients import (
    EARLIEST,
    Record,
    ck_watermarks,
    consume,
    create_topic,
    now_ms,
    produce,
    wait_until,
)

pytestmark = pytest.mark.interop


def settled_low_watermark(bootstrap: str, topic: str) -> int:
    """Once it moved past 0, until it stays put for 2 s (4 retention checks)."""
    low = wait_until(lambda: ck_watermarks(bootstrap, topic, 0)[0], "retention to run", 30)
    stable_since = time.monotonic()
    while time.monotonic() - stable_since < 2.0:
        time.sleep(0.25)
        now = ck_watermarks(bootstrap, topic, 0)[0]
        if now != low:
            low, stable_since = now, time.monotonic()
    return int(low)


def test_retention_by_time(targets: tuple[Target, Target], topic_name: str) -> None:
    old = now_ms() - 2 * 3_600_000

    def scenario(t: Target) -> dict[str, Any]:
        create_topic(
            t.bootstrap, topic_name, config={"retention.ms": "60000", "segment.bytes": str(1 << 20)}
        )
        for i in range(4):  # one produce (one batch) each
            produce(
                "confluent",
                t.bootstrap,
                topic_name,
                [Record(bytes([65 + i]) * 400_000, timestamp_ms=old + i)],
            )
        out: dict[str, Any] = {
            "log start after retention": settled_low_watermark(t.bootstrap, topic_name)
        }
        out["offsets"] = lookup("confluent", t.bootstrap, topic_name, 0, [old, old + 3])
        fresh = now_ms()
        produce("confluent", t.bootstrap, topic_name, [Record(b"fresh", timestamp_ms=fresh)])
        got = consume("confluent", t.bootstrap, topic_name, {0: EARLIEST}, 1)
        out["read from the beginning"] = [(c.offset, c.value[:8]) for c in got]
        out["after a fresh record"] = lookup("confluent", t.bootstrap, topic_name, 0, [old, fresh])
        return out

    seen = assert_same(observe(targets, scenario))
    assert seen["log start after retention"] >= 2, seen
