"""``riverhead stream ...``: run stream topologies.

``riverhead stream run APP [--workers N] [--stats]`` starts N worker processes of the
topology that APP defines (a Python file exposing ``build_topology()`` or ``topology``;
``APP:NAME`` picks another attribute; see :mod:`riverhead.stream.loader`). Workers share
input partitions through their Kafka spouts' consumer groups. Ctrl-C or SIGTERM stops
them gracefully (drain in-flight tuples, commit, leave the group); a second one stops at
once. Worker events go to stderr as one line each (``worker 0 started (pid 123)``);
``--stats`` prints a per-component table to stdout every ``--stats-interval`` seconds and
when the run ends.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Annotated, Any

import typer

from riverhead.cli.client import probe
from riverhead.cli.errors import CliError
from riverhead.cli.options import settings
from riverhead.cli.output import print_line, print_table

app = typer.Typer(help="Run stream topologies.", no_args_is_help=True)


def describe_event(event: dict[str, Any]) -> str | None:
    """One line for a worker event (None: not worth a line)."""
    kind = event.get("event")
    w = event.get("worker")
    if kind == "started":
        topics = event.get("repartition_topics") or []
        extra = f", repartition topics: {', '.join(topics)}" if topics else ""
        return f"worker {w} started (pid {event.get('pid')}{extra})"
    if kind == "stopped":
        return (f"worker {w} stopped ({event.get('reason')}): acked {event.get('acked')}, "
                f"failed {event.get('failed')}, in flight {event.get('pending')}")
    if kind == "error":
        return f"worker {w} error: {event.get('message')}"
    if kind == "exited" and not event.get("clean"):
        return (f"worker {w} (pid {event.get('pid')}) exited with code {event.get('code')}; "
                "its partitions move to the other workers after the group's session timeout")
    return None


@app.command("run")
def run(
    ctx: typer.Context,
    app_path: Annotated[str, typer.Argument(metavar="APP", help="app.py or app.py:NAME.")],
    workers: Annotated[
        int, typer.Option("-w", "--workers", min=1, help="Worker processes to start.")
    ] = 1,
    stats: Annotated[bool, typer.Option("--stats", help="Print per-component stats.")] = False,
    stats_interval: Annotated[
        float, typer.Option("--stats-interval", min=0.1, metavar="SECONDS",
                            help="Seconds between --stats tables.")
    ] = 10.0,
    metrics_listener: Annotated[
        str | None, typer.Option("--metrics-listener", metavar="http://HOST:PORT",
                                 help="Serve Prometheus /metrics there (riverhead.stream_metrics).")
    ] = None,
    otel: Annotated[
        bool, typer.Option("--otel", help="Export trace spans to OpenTelemetry (OTEL_* env; "
                                          "needs the otel extra).")
    ] = False,
) -> None:
    """Run the topology of APP in N worker processes until Ctrl-C/SIGTERM."""
    from riverhead.stream.errors import StreamError
    from riverhead.stream.loader import load_topology
    from riverhead.stream.metrics import STATS_HEADERS, stats_rows
    from riverhead.stream.supervisor import Supervisor

    s = settings(ctx)
    try:
        topology = load_topology(app_path)
        topology.validate()
    except StreamError as exc:
        raise CliError(
            "INVALID_TOPOLOGY", str(exc),
            "APP must define build_topology() or `topology` (see docs/stream.md)",
        ) from None
    probe(s)
    if otel:
        try:
            import opentelemetry.sdk  # noqa: F401
        except ImportError:
            raise CliError("INVALID_ARGUMENT", "--otel needs OpenTelemetry's SDK",
                           "pip install 'riverhead[otel]'") from None
        from riverhead.stream.runner import OTEL_ENV

        os.environ[OTEL_ENV] = "1"  # the workers' runners read it (they inherit it)
    lock = threading.Lock()

    def on_event(event: dict[str, Any]) -> None:
        line = describe_event(event)
        if line is not None:
            with lock:
                print_line(line, out=sys.stderr)

    reports = stats or metrics_listener is not None  # workers report every stats_interval
    sup = Supervisor(app_path, workers, s.brokers, stats_interval if reports else 0.0, on_event)
    done = threading.Event()
    exporter = None
    if metrics_listener is not None:
        from riverhead.broker.metrics_server import MetricsError
        from riverhead.stream_metrics import serve

        try:
            exporter = serve(metrics_listener, sup.stats, workers)
        except (MetricsError, OSError) as exc:
            raise CliError("INVALID_ARGUMENT", f"--metrics-listener: {exc}") from None

    def table() -> None:
        rows = stats_rows(sorted(sup.stats().values(), key=lambda c: c.component))
        if rows:
            with lock:
                print_table(STATS_HEADERS, rows)
                print_line("")

    def periodic() -> None:
        while not done.wait(stats_interval):
            table()

    if stats:
        threading.Thread(target=periodic, daemon=True).start()
    try:
        code = sup.run()
    finally:
        done.set()
        if exporter is not None:
            exporter.stop()
        if otel:  # the workers had it; this process (perhaps a test's) must not keep it
            os.environ.pop(OTEL_ENV, None)
    if stats:
        table()
    if code:
        raise typer.Exit(code)
