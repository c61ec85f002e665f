"""The one place the CLI writes to the terminal: tables, JSON and errors.

Commands compute rows (plain lists of cells, see :mod:`riverhead.cli.rows`) and hand them
here, so formatting is testable without a broker and every command looks the same:

* tables: upper-case headers, columns left-aligned and separated by at least two spaces,
  never wrapped or truncated (safe to pipe into ``awk``/``grep``); headers are bold when
  stdout is a terminal;
* JSON: ``--format json`` prints one JSON document; streaming commands print one object
  per line (JSON Lines);
* errors: one line on stderr, ``error: NAME: message (hint: ...)``;
* per-row status for multi-item commands: ``OK`` or ``ERROR_NAME: hint``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, TextIO

from rich.console import Console

from riverhead.cli.errors import CliError

Cell = str | int | float | bool | None
Row = Sequence[Cell]

COLUMN_GAP = "  "


class OutputClosed(Exception):
    """Whoever reads stdout went away (``riverhead topic consume t | head``).

    Raised instead of ``BrokenPipeError`` because typer turns any EPIPE into exit 1;
    :func:`riverhead.cli.main.run` stops quietly with exit 0 instead, as ``cat`` would.
    """


def write(text: str, out: TextIO | None = None) -> None:
    """Write and flush ``text``; raises :class:`OutputClosed` if the reader is gone."""
    stream = out or sys.stdout
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        raise OutputClosed from None


def print_line(line: str, *, out: TextIO | None = None) -> None:
    """One line of output (a consumed record, a summary)."""
    write(line + "\n", out)


class Format(StrEnum):
    """Output format of commands that print tables."""

    table = "table"
    json = "json"


def cell_text(value: Cell | Sequence[int]) -> str:
    """How a cell reads in a table: ``None`` -> ``-``, lists -> ``0,1,2``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def render_table(headers: Sequence[str], rows: Sequence[Row]) -> list[str]:
    """Lay out a table as lines of text (no trailing spaces); headers are upper-cased."""
    head = [h.upper() for h in headers]
    body = [[cell_text(c) for c in row] for row in rows]
    for row in body:
        if len(row) != len(head):
            raise ValueError(f"row {row!r} has {len(row)} cells, expected {len(head)}")
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(head)]
    lines = []
    for cells in [head, *body]:
        padded = [c.ljust(w) for c, w in zip(cells, widths, strict=True)]
        lines.append(COLUMN_GAP.join(padded).rstrip())
    return lines


def print_table(headers: Sequence[str], rows: Sequence[Row], *, out: TextIO | None = None) -> None:
    """Print a table to ``out`` (stdout by default)."""
    stream = out or sys.stdout
    lines = render_table(headers, rows)
    if stream.isatty():
        console = Console(file=stream, highlight=False, soft_wrap=True)
        console.print(lines[0], style="bold", markup=False)
        lines = lines[1:]
    write("".join(line + "\n" for line in lines), stream)


def print_section(title: str, *, out: TextIO | None = None, first: bool = False) -> None:
    """A section title between tables (``describe`` prints several tables)."""
    write(("" if first else "\n") + title.upper() + "\n" + "=" * len(title) + "\n", out)


def to_json(value: Any) -> str:
    """Compact, key-order-preserving JSON on one line (non-ASCII kept readable)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def print_json(value: Any, *, out: TextIO | None = None, pretty: bool = True) -> None:
    """Print one JSON document (indented) or, with ``pretty=False``, one JSON line."""
    text = json.dumps(value, ensure_ascii=False, indent=2) if pretty else to_json(value)
    write(text + "\n", out)


def format_error(err: CliError) -> str:
    """``error: NAME: message (hint: ...)`` on one line."""
    line = f"error: {err.name}: {one_line(err.message)}"
    if err.hint:
        line += f" (hint: {one_line(err.hint)})"
    return line


def print_error(err: CliError, *, out: TextIO | None = None) -> None:
    """Print ``err`` as its one line on stderr."""
    stream = out or sys.stderr
    stream.write(format_error(err) + "\n")
    stream.flush()


def status_text(err: CliError | None) -> str:
    """A row's status cell: ``OK``, or ``ERROR_NAME: hint`` (the message if no hint)."""
    if err is None:
        return "OK"
    return f"{err.name}: {one_line(err.hint or err.message)}"


def status_json(err: CliError | None) -> dict[str, str | None]:
    """A row's status as JSON fields: ``{"error": null}`` or name, message and hint."""
    if err is None:
        return {"error": None}
    return {"error": err.name, "message": err.message, "hint": err.hint}


def one_line(text: str) -> str:
    """Collapse whitespace so a message can never break the one-line error contract."""
    return " ".join(text.split())
