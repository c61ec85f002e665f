"""examples/ecommerce/shop_app.py in one process on generated events: every output
equals the oracle computed directly from the events (examples/ecommerce/expected.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ecommerce"
sys.path.insert(0, str(EXAMPLE))

from expected import expected_outputs  # noqa: E402
from generator import generate, heartbeat_ts, is_day_late  # noqa: E402
from shop_app import build_app  # noqa: E402

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("seed", [7, 8])
def test_shop_app_outputs_equal_the_oracle(seed: int) -> None:
    events = list(generate(seed, rate=40, duration=150))
    expected = expected_outputs(events)
    assert expected["fraud-alerts"] and len(expected["revenue-per-minute"]) >= 3
    items = [*events, {"type": "heartbeat", "ts": heartbeat_ts(events)}]
    out = build_app(items=items).run()
    for topic, rows in expected.items():
        assert dict(out[topic]) == rows, topic
    # the day-old events went to the late side output (each once per windowed step it
    # reaches: all activity feeds the funnel), none was dropped
    late = [e for e in events if is_day_late(e)]
    assert late and sorted(e["event_id"] for _, e in out["shop-events.late"]) == sorted(
        e["event_id"] for e in late)
