"""Options shared between command modules, and access to the global settings."""

from __future__ import annotations

from typing import Annotated

import typer

from riverhead.cli.client import Settings
from riverhead.cli.output import Format

FormatOption = Annotated[
    Format,
    typer.Option("--format", help="Output format: table or json.", case_sensitive=False),
]


def settings(ctx: typer.Context) -> Settings:
    """The :class:`Settings` the root command stored (defaults when run on its own)."""
    root = ctx.find_root()
    obj = root.obj
    return obj if isinstance(obj, Settings) else Settings()
