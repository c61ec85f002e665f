"""``riverhead console``: serve the web console for the cluster named by ``-X/--brokers``.

The console is a Kafka client (see :mod:`riverhead.console`), so ``--brokers`` may name
Riverhead or any Kafka-compatible cluster. ``--read-only`` makes the server refuse every
change (create/delete topics, reset offsets) with 403. Runs uvicorn in the foreground
until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from riverhead.cli.client import Settings, probe
from riverhead.cli.errors import CliError
from riverhead.cli.output import print_line


def console(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8080,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Refuse every change (enforced by the server).")
    ] = False,
    interval: Annotated[
        float, typer.Option("--sample-interval", help="Seconds between chart samples.")
    ] = 2.0,
) -> None:
    """Serve the web console (cluster, topics, messages, groups, throughput, shop)."""
    try:
        import uvicorn

        from riverhead.console import ConsoleConfig, create_app
    except ImportError as exc:
        raise CliError(
            "MISSING_DEPENDENCY",
            f"the console needs {exc.name}",
            "install the extra: pip install 'riverhead[console]'",
        ) from None
    s: Settings = ctx.obj
    probe(s)
    try:  # a taken port is a one-line error here, not a uvicorn log line and exit 3
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise CliError(
            "PORT_IN_USE",
            f"cannot listen on {host}:{port}: {str(exc.strerror).split(' (')[0]}",
            "pick another --port",
        ) from None
    app = create_app(ConsoleConfig(s, read_only=read_only, sample_interval=interval))
    mode = " (read-only)" if read_only else ""
    print_line(f"console for {s.brokers} on http://{host}:{port}{mode}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
