"""``riverhead broker start``: run a broker in the foreground.

The only command that imports broker internals: it builds a
:class:`riverhead.broker.config.BrokerConfig` from ``--config FILE`` and ``--set key=value``
flags (plus ``RIVERHEAD_*`` environment variables, see that module), then calls
``riverhead.broker.server.run_broker``, which blocks until SIGTERM/SIGINT, and exits with
its return code. A bad configuration is a one-line ``error: INVALID_CONFIG: ...``, exit 1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from riverhead.cli.client import CLI_ENV_VARS
from riverhead.cli.errors import CliError

app = typer.Typer(name="broker", help="Run a Riverhead broker.", no_args_is_help=True)


@app.command("start")
def start(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", metavar="FILE", help="Broker properties file (Kafka's key names)."
        ),
    ] = None,
    sets: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="Override a config key; repeatable."),
    ] = None,
) -> None:
    """Start a broker in the foreground; stops cleanly on SIGTERM or Ctrl-C."""
    from riverhead.broker.config import BrokerConfig, ConfigError, parse_set_flags

    # The CLI's own RIVERHEAD_* variables are not broker config keys.
    environ = {k: v for k, v in os.environ.items() if k not in CLI_ENV_VARS}
    try:
        broker_config = BrokerConfig.load(
            config, overrides=parse_set_flags(sets or []), environ=environ
        )
    except ConfigError as exc:
        raise CliError("INVALID_CONFIG", str(exc)) from None
    from riverhead.broker.server import run_broker

    raise typer.Exit(run_broker(broker_config))
