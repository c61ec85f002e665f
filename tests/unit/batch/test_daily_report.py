"""examples/ecommerce/daily_report.py on hand-made events (every figure checked)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples" / "ecommerce"))

from daily_report import DailyReport  # noqa: E402


def _event(kind: str, user: str, ts: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "user_id": user, "ts": ts, **extra}


EVENTS = [
    _event("view", "ann", "2024-03-01T09:00:01Z", product_id="sku-101"),
    _event("view", "bob", "2024-03-01T09:00:02Z", product_id="sku-102"),
    _event("view", "cat", "2024-03-01T09:10:00Z", product_id="sku-101"),
    _event("view", "ann", "2024-03-01T09:11:00Z", product_id="sku-104"),
    _event(
        "purchase",
        "ann",
        "2024-03-01T09:30:00Z",
        items=[
            {"product_id": "sku-101", "quantity": 2, "price": 24.5},
            {"product_id": "sku-104", "quantity": 1, "price": 89.0},
        ],
        amount=138.0,
    ),
    _event(
        "purchase",
        "bob",
        "2024-03-01T10:05:00Z",
        items=[{"product_id": "sku-101", "quantity": 1, "price": 24.5}],
        amount=24.5,
    ),
    _event("view", "dan", "2024-03-02T08:00:00Z", product_id="sku-104"),  # another day
]


@pytest.mark.parametrize("runner", ["inline", "local"])
def test_daily_report_figures(runner: str, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    out = tmp_path / "report"
    args = [str(events), "-o", str(out), "--runner", runner, "--day", "2024-03-01", "--top", "2"]
    result = DailyReport(args).run_job()
    rows = list(csv.DictReader((out / "part-00000").read_text().splitlines()))
    by_section: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_section.setdefault(row["section"], []).append(row)
    conversion = {
        r["category"]: (r["viewers"], r["buyers"], r["conversion"])
        for r in by_section["conversion"]
    }
    # coffee: ann, bob, cat viewed; ann and bob bought. outdoor: ann viewed and bought.
    assert conversion == {"coffee": ("3", "2", "0.6667"), "outdoor": ("1", "1", "1.0000")}
    product_hours = {
        (r["hour"], r["product_id"]): (r["revenue"], r["units"]) for r in by_section["product_hour"]
    }
    assert product_hours == {
        ("2024-03-01T09", "sku-101"): ("49.00", "2"),
        ("2024-03-01T09", "sku-104"): ("89.00", "1"),
        ("2024-03-01T10", "sku-101"): ("24.50", "1"),
    }
    top = [(r["rank"], r["customer"], r["revenue"]) for r in by_section["top_customer"]]
    assert top == [("1", "ann", "138.00"), ("2", "bob", "24.50")]
    assert result.counters["shop"] == {"events": 6, "purchases": 2}
    assert len(list(out.glob("part-*"))) == 1
