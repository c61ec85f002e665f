"""Daily shop report: a multi-step batch job over the ``shop-events`` topic or a file.

For one day of e-commerce events (:mod:`events`: ``view``, ``add_to_cart`` and
``purchase`` events with a ``ts``), it computes

* revenue and units purchased per product per hour,
* conversion rate per category: shoppers who bought something in a category divided by
  shoppers who viewed something in it,
* the top customers by money spent,

and writes them as one CSV file (a header, then one row per figure)::

    section,hour,product_id,category,customer,revenue,units,viewers,buyers,conversion,rank
    conversion,,,coffee,,,,4,2,0.5000,
    product_hour,2024-03-01T09,sku-101,coffee,,49.00,2,,,,
    top_customer,,,,carol,262.00,,,,,1

Run it on the topic (offsets fixed when the job starts, so the report is repeatable)::

    python examples/ecommerce/daily_report.py 'topic://shop-events' --brokers 127.0.0.1:9092 \\
        -o /tmp/report --csv /tmp/report.csv

or on a JSON lines export: ``python examples/ecommerce/daily_report.py events.jsonl -o
/tmp/report``. ``--day 2024-03-01`` keeps one day (default: every event), ``--top N``
sets the number of customers (default 5); every batch option works (``--runner``...).

Steps: (1) per ``(kind, ...)`` key, sum revenue/units, OR the viewed/bought flags of a
(category, shopper) pair, and sum each shopper's spend; (2) turn flags into per-category
viewer/buyer counts, rank shoppers, and write the CSV rows through one reducer.
"""

from __future__ import annotations

import csv
import io
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from riverhead.batch import MapReduceJob, MRStep, Protocol

#: Product categories of the demo's catalogue (events may also carry a "category").
CATEGORIES = {
    "sku-101": "coffee",
    "sku-102": "coffee",
    "sku-103": "apparel",
    "sku-104": "outdoor",
    "sku-105": "outdoor",
    "sku-106": "outdoor",
    "sku-107": "apparel",
}
COLUMNS = [
    "section",
    "hour",
    "product_id",
    "category",
    "customer",
    "revenue",
    "units",
    "viewers",
    "buyers",
    "conversion",
    "rank",
]
VIEWED, BOUGHT = 1, 2


class CSVRowProtocol(Protocol):
    """Writes the value (a dict keyed by :data:`COLUMNS`) as one CSV line; key ignored."""

    def read(self, line: str) -> tuple[Any, Any]:
        return None, dict(zip(COLUMNS, next(csv.reader([line])), strict=False))

    def write(self, key: Any, value: Any) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow([value.get(c, "") for c in COLUMNS])
        return buf.getvalue()


def category_of(event: dict[str, Any], product_id: str) -> str:
    return str(event.get("category") or CATEGORIES.get(product_id, "other"))


class DailyReport(MapReduceJob):
    INPUT_FORMAT = "jsonl"
    OUTPUT_PROTOCOL = CSVRowProtocol

    def configure_args(self) -> None:
        self.add_passthru_arg("--day", help="only events of this UTC day (YYYY-MM-DD)")
        self.add_passthru_arg("--top", type=int, default=5, help="top customers to list")
        self.add_passthru_arg("--csv", help="also copy the report to this file")

    # -- step 1: aggregate per product-hour, per (category, shopper), per shopper ------------

    def read_events(self, _: Any, event: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], Any]]:
        ts = str(event.get("ts", ""))
        if self.options.day and not ts.startswith(self.options.day):
            return
        self.increment_counter("shop", "events")
        kind = event.get("type")
        user = event.get("user_id", "?")
        if kind == "view":
            pid = event["product_id"]
            yield ("flags", category_of(event, pid), user), VIEWED
        elif kind == "purchase":
            self.increment_counter("shop", "purchases")
            hour = ts[:13]
            items = event.get("items") or [
                {"product_id": event["product_id"], "price": event["price"], "quantity": 1}
            ]
            spent = 0.0
            for item in items:
                pid, qty = item["product_id"], int(item.get("quantity", 1))
                revenue = float(item["price"]) * qty
                spent += revenue
                yield ("product_hour", hour, pid, category_of(event, pid)), (revenue, qty)
                yield ("flags", category_of(event, pid), user), BOUGHT
            yield ("spend", user), event.get("amount", spent)

    def combine(self, key: tuple[Any, ...], values: Iterable[Any]) -> Iterator[Any]:
        yield key, _fold(key[0], values)

    def first_reduce(self, key: tuple[Any, ...], values: Iterable[Any]) -> Iterator[Any]:
        total = _fold(key[0], values)
        if key[0] == "flags":  # one (category, shopper): did they view, did they buy?
            yield ("conversion", key[1]), (1 if total & VIEWED else 0, 1 if total & BOUGHT else 0)
        elif key[0] == "spend":
            yield ("top_customer",), (total, key[1])
        else:
            yield key, total

    # -- step 2: per-category rates, ranking, CSV rows ---------------------------------------

    def rows(self, key: tuple[Any, ...], values: Iterable[Any]) -> Iterator[Any]:
        section = key[0]
        if section == "conversion":
            viewers = buyers = 0
            for viewed, bought in values:
                viewers += viewed
                buyers += bought
            rate = f"{buyers / viewers:.4f}" if viewers else ""
            row = {"category": key[1], "viewers": viewers, "buyers": buyers, "conversion": rate}
            yield None, {"section": section, **row}
        elif section == "top_customer":
            ranked = sorted(values, key=lambda p: (-p[0], p[1]))[: self.options.top]
            for rank, (spent, user) in enumerate(ranked, 1):
                yield (
                    None,
                    {"section": section, "customer": user, "revenue": f"{spent:.2f}", "rank": rank},
                )
        else:
            for revenue, units in values:
                _, hour, pid, category = key
                yield (
                    None,
                    {
                        "section": section,
                        "hour": hour,
                        "product_id": pid,
                        "category": category,
                        "revenue": f"{revenue:.2f}",
                        "units": units,
                    },
                )

    def header(self) -> Iterator[Any]:
        yield None, {c: c for c in COLUMNS}

    def steps(self) -> list[MRStep]:
        return [
            MRStep(mapper=self.read_events, combiner=self.combine, reducer=self.first_reduce),
            MRStep(reducer_init=self.header, reducer=self.rows, reducers=1),
        ]


def _fold(kind: str, values: Iterable[Any]) -> Any:
    if kind == "product_hour":
        revenue, units = 0.0, 0
        for r, u in values:
            revenue += r
            units += u
        return (revenue, units)
    if kind == "flags":
        flags = 0
        for f in values:
            flags |= f
        return flags
    return sum(values)


def main(argv: list[str]) -> int:
    job = DailyReport(argv)
    code = job.execute()
    if code == 0 and job.options.csv and job.config.output:
        shutil.copyfile(Path(job.config.output) / "part-00000", job.options.csv)
        print(f"report written to {job.options.csv}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
