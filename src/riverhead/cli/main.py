"""The ``riverhead`` command: global options, the command tree, and exit-code policy.

Shape (rpk's ``noun verb``)::

    riverhead [-X host:port] [--timeout S] topic create|list|describe|delete|produce|consume
    riverhead [-X host:port] [--timeout S] group list|describe|seek|delete
    riverhead broker start [--config FILE] [--set key=value ...]
    riverhead cluster up|down|status [--dir DIR]; riverhead [-X host:port] cluster info

``-X/--brokers`` (env ``RIVERHEAD_BROKERS``, default ``127.0.0.1:9092``) and ``--timeout``
are global; they may also be written after the subcommand (``riverhead topic list -X
h:9092``): :func:`hoist_global_options` moves them in front before parsing.

Exit codes: 0 success; 1 any error (printed as one line ``error: NAME: message (hint:
...)`` on stderr, usage errors included); 130 interrupted by Ctrl-C; ``broker start``
exits with the broker's own code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from riverhead.cli import acl, batch, broker, cluster, console, group, stream, topic, user
from riverhead.cli.client import (
    BROKERS_ENV,
    COMMAND_CONFIG_ENV,
    DEFAULT_BROKERS,
    DEFAULT_TIMEOUT,
    Settings,
    load_command_config,
)
from riverhead.cli.errors import CliError
from riverhead.cli.output import OutputClosed, print_error

app = typer.Typer(
    name="riverhead",
    help="Riverhead: a Kafka-protocol event-streaming platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(topic.app, name="topic")
app.add_typer(group.app, name="group")
app.add_typer(broker.app, name="broker")
app.add_typer(cluster.app, name="cluster")
app.add_typer(stream.app, name="stream")
app.add_typer(batch.app, name="batch")
app.add_typer(user.app, name="user")
app.add_typer(acl.app, name="acl")
app.command("console")(console.console)


@app.callback()
def root(
    ctx: typer.Context,
    brokers: Annotated[
        str,
        typer.Option(
            "-X",
            "--brokers",
            envvar=BROKERS_ENV,
            metavar="HOST:PORT[,...]",
            help="Bootstrap broker addresses.",
        ),
    ] = DEFAULT_BROKERS,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Request timeout."),
    ] = DEFAULT_TIMEOUT,
    command_config: Annotated[
        str | None,
        typer.Option(
            "--command-config",
            envvar=COMMAND_CONFIG_ENV,
            metavar="FILE",
            help="Client properties (security.protocol, sasl.*, ssl.*) for secured brokers.",
        ),
    ] = None,
) -> None:
    """Riverhead: a Kafka-protocol event-streaming platform."""
    extra = load_command_config(command_config) if command_config else ()
    ctx.obj = Settings(brokers=brokers, timeout=timeout, client_config=extra)


# Global options taking a value, and whether they may be written as ``-Xvalue``.
_GLOBAL_OPTIONS = {
    "-X": True,
    "--brokers": False,
    "--timeout": False,
    "--command-config": False,
}


# Commands with an option of their own that shares a global option's name: after the
# command, the name is the command's (``cluster up --brokers 3`` counts brokers; the
# bootstrap addresses are then given with ``-X``).
_OWN_OPTIONS: dict[tuple[str, ...], frozenset[str]] = {("cluster", "up"): frozenset({"--brokers"})}


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move global options (and their values) to the front so they work anywhere, except
    an option a command has of its own (:data:`_OWN_OPTIONS`) once that command is named.

    Stops at ``--``; leaves everything else in order.
    """
    front: list[str] = []
    rest: list[str] = []
    words: list[str] = []  # the command words seen so far
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0]
        if name in _OWN_OPTIONS.get((*words[:2],), frozenset()):
            rest.append(arg)
            i += 1
            continue
        if not arg.startswith("-"):
            words.append(arg)
        if arg in _GLOBAL_OPTIONS and i + 1 < len(args):
            front += [arg, args[i + 1]]
            i += 2
            continue
        long_with_value = name in _GLOBAL_OPTIONS and "=" in arg and name.startswith("--")
        if long_with_value or (arg.startswith("-X") and len(arg) > 2):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def _is_click_error(exc: BaseException) -> bool:
    """Click's exceptions (typer vendors click, so match by shape rather than class)."""
    return hasattr(exc, "format_message") and hasattr(exc, "exit_code")


def _usage_error(exc: Any) -> CliError:
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "riverhead"
    return CliError("INVALID_ARGUMENT", exc.format_message(), f"see `{path} --help`")


def run(args: Sequence[str]) -> int:
    """Run the CLI on ``args``; returns the exit code (never raises for CLI errors)."""
    command = typer.main.get_command(app)
    try:
        result = command.main(
            args=hoist_global_options(args), prog_name="riverhead", standalone_mode=False
        )
    except CliError as err:
        print_error(err)
        return err.exit_code
    except (KeyboardInterrupt, typer.Abort):
        sys.stderr.write("\n")
        return 130
    except (OutputClosed, BrokenPipeError):
        # The reader went away (`... | head`): stop quietly, as cat does; point stdout
        # at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        if not _is_click_error(exc):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            return 0  # typer has already printed the help
        print_error(_usage_error(exc))
        return 1
    return result if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point (``riverhead = riverhead.cli.main:main``)."""
    sys.exit(run(sys.argv[1:]))
