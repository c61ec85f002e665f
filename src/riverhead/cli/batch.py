"""``riverhead batch ...``: commands of the batch engine (filled in by the batch engine's work)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run batch jobs.", no_args_is_help=True)
