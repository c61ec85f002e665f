"""The live part of ``make demo``: generator, stream app and refreshing tables.

:func:`run_live` starts the shop stream app (:mod:`shop_app`) as ``riverhead stream run``
does (a :class:`~riverhead.stream.supervisor.Supervisor` of worker processes), writes
generated events (:mod:`generator`) from a thread, and shows the app's output topics as
rich tables refreshing every second: revenue per minute, the best sellers of the latest
5-minute window, recent session funnels with conversion, and fraud alerts. It runs for
``duration`` seconds, or until Ctrl-C when ``duration`` is None; then the generator
writes its end-of-input heartbeats, the last windows fire, and everything stops.

Event time runs ``speedup`` times faster than the wall clock, so minutes of shop
traffic (and their windows) pass in seconds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generator import generate, produce
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from riverhead.stream.supervisor import Supervisor

APP = str(Path(__file__).resolve().parent / "shop_app.py")
OUTPUTS = ("revenue-per-minute", "top-products", "funnel", "fraud-alerts")


class Tables:
    """The output topics read as tables (last value per key), refreshed by polling."""

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Consumer

        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "demo-viewer",
                                  "auto.offset.reset": "earliest",
                                  "enable.auto.commit": False,
                                  "topic.metadata.refresh.interval.ms": 2000})
        self.consumer.subscribe(list(OUTPUTS))
        self.rows: dict[str, dict[str, Any]] = {t: {} for t in OUTPUTS}

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(500, 0.1):
                if msg.error() is None and msg.key() is not None:
                    self.rows[msg.topic()][msg.key().decode()] = json.loads(msg.value())

    def close(self) -> None:
        self.consumer.close()


def _clock(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000))


def render(tables: Tables, written: int, width: int = 160) -> Group:
    rows = tables.rows
    rev = Table(title="revenue per minute", box=box.SIMPLE_HEAD)
    for col in ("MINUTE", "PURCHASES", "REVENUE"):
        rev.add_column(col, justify="left" if col == "MINUTE" else "right")
    for r in sorted(rows["revenue-per-minute"].values(), key=lambda r: r["window_start"])[-6:]:
        rev.add_row(_clock(r["window_start"]), str(r["purchases"]), f"{r['revenue']:,.2f}")

    top = Table(box=box.SIMPLE_HEAD)
    latest = max(rows["top-products"].values(), key=lambda r: r["window_start"], default=None)
    top.title = ("top products" if latest is None else
                 f"top products {_clock(latest['window_start'])}-{_clock(latest['window_end'])}")
    top.add_column("PRODUCT")
    top.add_column("SOLD", justify="right")
    for p in (latest or {}).get("products", []):
        top.add_row(p["product_id"], str(p["count"]))

    funnels = list(rows["funnel"].values())
    views = sum(f["views"] for f in funnels) or 1
    carts = sum(f["carts"] for f in funnels)
    buys = sum(f["purchases"] for f in funnels)
    fun = Table(title=f"sessions: {len(funnels)}, view->cart {carts / views:.0%}, "
                      f"cart->buy {buys / max(carts, 1):.0%}", box=box.SIMPLE_HEAD)
    for col in ("USER", "START", "VIEWS", "CARTS", "BUYS"):
        fun.add_column(col, justify="right" if col in ("VIEWS", "CARTS", "BUYS") else "left")
    for f in sorted(funnels, key=lambda f: f["session_end"])[-6:]:
        fun.add_row(f["user_id"], _clock(f["session_start"]), str(f["views"]),
                    str(f["carts"]), str(f["purchases"]))

    fraud = Table(title=f"fraud alerts: {len(rows['fraud-alerts'])}", box=box.SIMPLE_HEAD)
    for col in ("TIME", "RULE", "WHO", "DETAILS"):
        fraud.add_column(col)
    for a in sorted(rows["fraud-alerts"].values(), key=lambda a: a["ts"])[-6:]:
        fraud.add_row(_clock(a["ts"]), a["rule"], a["user_id"] or a["card"], a["details"])
    grid = Table.grid(padding=(0, 4))
    if width >= 120:
        grid.add_row(rev, top)
        grid.add_row(fun, fraud)
    else:  # a narrow terminal (or not a terminal): one table per row
        for t in (rev, top, fun, fraud):
            grid.add_row(t)
    return Group(grid, f"[dim]{written} events written; Ctrl-C to stop[/]")


def create_topics(bootstrap: str) -> None:
    """The output topics, compacted (they are tables: last value per key)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = [NewTopic(t, 1, -1, config={"cleanup.policy": "compact"}) for t in OUTPUTS]
    for fut in admin.create_topics(new).values():
        try:
            fut.result(15)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise


def run_live(bootstrap: str, console: Console, duration: float | None, rate: float = 200.0,
             speedup: float = 10.0, workers: int = 2,
             say: Callable[[str], None] = print) -> dict[str, int]:
    """Run generator + app + tables; returns how many rows each output table has."""
    create_topics(bootstrap)
    stop = threading.Event()
    sup = Supervisor(APP, workers, bootstrap)
    sup.start()
    written: list[dict[str, Any]] = []
    count = [0]
    tables = Tables(bootstrap)

    def counted() -> Any:
        for event in generate(seed=7, rate=rate / speedup, duration=86_400):
            count[0] += 1
            yield event

    def write() -> None:
        written.extend(produce(bootstrap, "shop-events", counted(), 4, rate, stop))

    writer = threading.Thread(target=write, name="generator", daemon=True)
    writer.start()
    started = time.monotonic()
    try:
        with Live(render(tables, 0, console.width), console=console, refresh_per_second=2,
                  auto_refresh=False) as live:
            while duration is None or time.monotonic() - started < duration:
                tables.poll(1.0)
                live.update(render(tables, count[0], console.width), refresh=True)
            stop.set()
            writer.join(60)
            say("generator stopped; waiting for the last windows")
            quiet_since = time.monotonic()
            seen = sum(len(r) for r in tables.rows.values())
            while time.monotonic() - quiet_since < 8 and time.monotonic() - started < 600:
                tables.poll(1.0)
                now_seen = sum(len(r) for r in tables.rows.values())
                if now_seen != seen:
                    seen, quiet_since = now_seen, time.monotonic()
                live.update(render(tables, count[0], console.width), refresh=True)
    except KeyboardInterrupt:
        stop.set()
        writer.join(60)
    finally:
        tables.close()
        sup.stop()
        sup.wait()
    return {"events": len(written), **{t: len(r) for t, r in tables.rows.items()}}
