"""Where ``topic consume`` starts reading: the ``-o/--offset`` spec and its resolution.

Spec forms (rpk's):

=============  ==============================================================
``start``      the log start offset (aliases ``oldest``, ``beginning``)
``end``        the high watermark: only records produced from now on
               (aliases ``newest``, ``latest``)
``N``          offset N exactly (clamped to the partition's range)
``+N``         N records after the log start offset
``-N``         the last N records (N before the high watermark)
``@T``         the first record with timestamp >= T (milliseconds since the
               epoch); the high watermark when there is none
=============  ==============================================================

:func:`resolve` turns a spec into a concrete offset for one partition given its log start
offset and high watermark, so the consumer is always assigned a real offset and never
depends on ``auto.offset.reset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from riverhead.cli.errors import CliError

Kind = Literal["start", "end", "exact", "after_start", "tail", "timestamp"]

_ALIASES: dict[str, Kind] = {
    "start": "start",
    "oldest": "start",
    "beginning": "start",
    "end": "end",
    "newest": "end",
    "latest": "end",
}
OFFSET_HINT = "write start, end, an offset N, +N, -N, or @<timestamp ms>"


@dataclass(frozen=True)
class OffsetSpec:
    kind: Kind
    value: int = 0


def parse_offset(text: str) -> OffsetSpec:
    """Parse a ``-o`` value; raises ``CliError(INVALID_ARGUMENT)``."""
    spec = text.strip().lower()
    if spec in _ALIASES:
        return OffsetSpec(_ALIASES[spec])
    kind: Kind = "exact"
    number = spec
    if spec.startswith("@"):
        kind, number = "timestamp", spec[1:]
    elif spec.startswith("+"):
        kind, number = "after_start", spec[1:]
    elif spec.startswith("-"):
        kind, number = "tail", spec[1:]
    if not number.isdigit():
        raise CliError("INVALID_ARGUMENT", f"--offset {text!r} is not an offset", OFFSET_HINT)
    return OffsetSpec(kind, int(number))


def resolve(spec: OffsetSpec, log_start: int, high: int, by_time: int | None = None) -> int:
    """The offset to start at in a partition holding ``[log_start, high)``.

    ``by_time`` is the broker's answer to a timestamp lookup (``None`` or negative when no
    record is that late); only the ``timestamp`` kind uses it.
    """
    if spec.kind == "start":
        return log_start
    if spec.kind == "end":
        return high
    if spec.kind == "after_start":
        return min(high, log_start + spec.value)
    if spec.kind == "tail":
        return max(log_start, high - spec.value)
    if spec.kind == "timestamp":
        return high if by_time is None or by_time < 0 else max(log_start, min(high, by_time))
    return max(log_start, min(high, spec.value))
