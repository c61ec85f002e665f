"""The e-commerce demo (``make demo``): a broker, a topic, 50 shop events in and out.

Every step goes through the ``riverhead`` CLI exactly as a user would type it, so the
demo doubles as an end-to-end check of broker and CLI:

1. start the embedded broker (``riverhead broker start``) on a free loopback port with
   its log in a temporary directory, and wait until it listens;
2. ``riverhead topic create shop-events -p 3``;
3. generate 50 seeded events (:mod:`events`) and pipe them into
   ``riverhead topic produce shop-events --format json``;
4. read them back with ``riverhead topic consume shop-events -n 50 --format json``,
   check nothing was lost, and print them with a revenue summary;
5. show ``riverhead topic describe shop-events``;
6. live analytics (:mod:`live`): the event generator writes shop traffic while the stream
   app (``shop_app.py``, 2 worker processes) computes revenue per minute, best sellers,
   session funnels and fraud alerts, shown as tables refreshing every second — until
   Ctrl-C on a terminal, else for ``--duration`` seconds (default 20 when not on a
   terminal, so it also ends by itself);
7. stop the broker by PID with SIGTERM.

``python examples/ecommerce/demo.py [--duration S] [--rate N] [--workers N]``. Exits 0 on
success, 1 on any failure (the broker is stopped either way).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from events import as_produce_lines, generate_events
from live import run_live

TOPIC = "shop-events"
PARTITIONS = 3
EVENT_COUNT = 50
console = Console(highlight=False)


class DemoError(Exception):
    """A step failed; the message says which and why."""


def step(text: str) -> None:
    console.print(f"\n[bold cyan]==>[/] [bold]{text}[/]")


def show(output: str) -> None:
    """Echo a CLI command's output verbatim (no rich markup: it may contain brackets)."""
    console.print(output.rstrip("\n"), markup=False, soft_wrap=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def riverhead(bootstrap: str, *args: str, stdin: str | None = None) -> str:
    """Run ``riverhead -X bootstrap ARGS...``; returns stdout, raises DemoError on failure."""
    cmd = [sys.executable, "-m", "riverhead", "-X", bootstrap, *args]
    console.print(f"[dim]$ riverhead {' '.join(args)}[/]")
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise DemoError(f"`riverhead {' '.join(args)}` failed: {done.stderr.strip()}")
    return done.stdout


def start_broker(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """Start ``riverhead broker start`` and wait until it accepts connections."""
    log_path = data_dir / "broker.log"
    args = [
        sys.executable, "-m", "riverhead", "broker", "start",
        "--set", f"listeners=PLAINTEXT://127.0.0.1:{port}",
        "--set", f"log.dirs={data_dir / 'logs'}",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERHEAD_")}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"broker exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                console.print(f"broker pid {proc.pid} listening on 127.0.0.1:{port}")
                return proc
        except OSError:
            time.sleep(0.1)
    stop_broker(proc)
    raise DemoError(f"broker not listening after 30s:\n{tail(log_path)}")


def stop_broker(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM by PID, SIGKILL if it has not exited after 15 s; returns its exit code."""
    if proc.poll() is not None:
        return proc.returncode
    os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no broker log)"


def show_records(records: list[dict[str, Any]]) -> None:
    table = Table(
        title=f"{len(records)} events read back from {TOPIC}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
    )
    for header in ("PART", "OFFSET", "USER", "EVENT", "PRODUCT", "AMOUNT", "TIME"):
        right = header in ("PART", "OFFSET", "AMOUNT")
        table.add_column(header, justify="right" if right else "left", no_wrap=True)
    for rec in sorted(records, key=lambda r: (r["partition"], r["offset"])):
        event = json.loads(rec["value"])
        if event["type"] == "purchase":
            product = f"{sum(i['quantity'] for i in event['items'])} item(s)"
        elif event["type"] == "add_to_cart":
            product = f"{event['quantity']} x {event['product']}"
        else:
            product = event["product"]
        amount = event.get("amount")
        table.add_row(
            str(rec["partition"]),
            str(rec["offset"]),
            rec["key"],
            event["type"],
            product,
            f"{amount:.2f}" if amount is not None else "",
            event["ts"][11:16],  # HH:MM
        )
    console.print(table)


def show_summary(events: list[dict[str, Any]]) -> None:
    kinds = Counter(e["type"] for e in events)
    revenue: dict[str, float] = defaultdict(float)
    for e in events:
        if e["type"] == "purchase":
            revenue[e["user_id"]] += e["amount"]
    table = Table(title="revenue by shopper", box=box.SIMPLE_HEAD)
    table.add_column("USER")
    table.add_column("REVENUE", justify="right")
    for user, total in sorted(revenue.items(), key=lambda kv: -kv[1]):
        table.add_row(user, f"{total:.2f}")
    console.print(table)
    console.print(
        f"{kinds['view']} views, {kinds['add_to_cart']} cart additions, "
        f"{kinds['purchase']} purchases, total revenue {sum(revenue.values()):.2f}"
    )


def run_demo(data_dir: Path, args: argparse.Namespace) -> dict[str, int]:
    step("Starting the embedded broker")
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    broker = start_broker(data_dir, port)
    try:
        step(f"Creating topic {TOPIC} with {PARTITIONS} partitions")
        show(riverhead(bootstrap, "topic", "create", TOPIC, "-p", str(PARTITIONS)))

        step(f"Producing {EVENT_COUNT} seeded shop events (JSON, keyed by user id)")
        events = generate_events(EVENT_COUNT, seed=42)
        lines = "".join(json.dumps(obj) + "\n" for obj in as_produce_lines(events))
        show(riverhead(bootstrap, "topic", "produce", TOPIC, "--format", "json", stdin=lines))

        step("Consuming them back")
        count = str(EVENT_COUNT)
        out = riverhead(bootstrap, "topic", "consume", TOPIC, "-n", count, "--format", "json")
        records = [json.loads(line) for line in out.splitlines() if line.strip()]
        got = sorted(json.loads(r["value"])["event_id"] for r in records)
        if got != [e["event_id"] for e in events]:
            raise DemoError(f"expected events 1..{EVENT_COUNT} back, got {got}")
        show_records(records)
        show_summary([json.loads(r["value"]) for r in records])

        step(f"Describing {TOPIC}")
        show(riverhead(bootstrap, "topic", "describe", TOPIC))

        until = "Ctrl-C" if args.duration is None else f"{args.duration:g} s"
        step(f"Live analytics: generator at {args.rate:g} events/s and `riverhead stream run "
             f"shop_app.py --workers {args.workers}` (until {until})")
        live = run_live(bootstrap, console, args.duration, args.rate, workers=args.workers,
                        say=lambda text: console.print(f"[dim]{text}[/]"))
        console.print()  # a live display that is not a terminal's ends mid-line
        console.print(
            f"{live['events']} events: {live['revenue-per-minute']} revenue minutes, "
            f"{live['top-products']} top-product windows, {live['funnel']} sessions, "
            f"{live['fraud-alerts']} fraud alerts"
        )
        if live["events"] and not live["funnel"]:
            raise DemoError("the stream app produced no session funnels")
    finally:
        step(f"Stopping the broker (SIGTERM to pid {broker.pid})")
        code = stop_broker(broker)
        console.print(f"broker exited with code {code}")
    if code != 0:
        raise DemoError(f"broker exited with {code}:\n{tail(data_dir / 'broker.log')}")
    return live


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Riverhead e-commerce demo")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of live analytics (default: until Ctrl-C on a "
                             "terminal, 20 otherwise)")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--workers", type=int, default=2, help="stream worker processes")
    args = parser.parse_args(argv)
    if args.duration is None and not sys.stdout.isatty():
        args.duration = 20.0
    with tempfile.TemporaryDirectory(prefix="riverhead-demo-") as tmp:
        try:
            run_demo(Path(tmp), args)
        except (DemoError, subprocess.TimeoutExpired) as exc:
            console.print(f"[bold red]demo failed:[/] {exc}", markup=True)
            return 1
    console.print("\n[bold green]demo finished: 50 events produced and consumed[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
