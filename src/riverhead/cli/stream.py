"""``riverhead stream ...``: commands of the stream engine (filled in by the stream engine's work)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run stream jobs.", no_args_is_help=True)
