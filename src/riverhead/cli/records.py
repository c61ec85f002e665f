"""Records in and out of the CLI: parsing ``topic produce`` input, shaping ``topic consume`` output.

Input (``topic produce``), one record per line of stdin:

* ``--format text``: the line (without its newline) is the value; key, headers and
  partition come from ``-k``, ``-H`` and ``-p``.
* ``--format json``: each non-blank line is an object, e.g.
  ``{"key": "u1", "value": {"type": "view"}, "headers": {"src": "web"}, "partition": 0}``.
  Every field is optional; flags fill in the missing ones (headers are merged, the line
  wins). A string ``key``/``value`` is sent as its UTF-8 bytes; any other JSON value
  (object, number...) is sent as compact JSON text; ``null`` sends a null. An optional
  ``timestamp`` (milliseconds since the epoch) sets the record's create time.

Output (``topic consume --format json``), one object per line::

    {"topic":"t","partition":0,"offset":7,"timestamp":1700000000000,"key":"u1",
     "value":"...","headers":{"src":"web"}}

Keys, values and header values are decoded as UTF-8 (undecodable bytes appear as
``\\xNN`` escapes); a null key or value is ``null``. ``--format text`` prints the value
alone, one per line, like ``kafka-console-consumer``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from riverhead.cli.errors import CliError
from riverhead.cli.output import to_json

JSON_INPUT_HINT = 'with --format json each line must be an object like {"key": "k", "value": "v"}'


@dataclass(frozen=True)
class ProduceDefaults:
    """What the ``-k``, ``-H`` and ``-p`` flags give every record."""

    key: str | None = None
    headers: Sequence[tuple[str, str]] = ()
    partition: int | None = None


@dataclass(frozen=True)
class OutRecord:
    """A record to produce; ``partition=None`` lets the partitioner choose."""

    value: bytes | None
    key: bytes | None = None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    partition: int | None = None
    timestamp: int | None = None


@dataclass(frozen=True)
class InRecord:
    """A consumed record, independent of the client library that fetched it."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)


def parse_key_values(pairs: Iterable[str], flag: str) -> list[tuple[str, str]]:
    """``["a=1", "b=2"]`` -> ``[("a", "1"), ("b", "2")]``; the value may contain ``=``."""
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(
                "INVALID_ARGUMENT",
                f"{flag} {pair!r} is not key=value",
                f"write e.g. {flag} source=web",
            )
        out.append((key, value))
    return out


def encode(value: Any) -> bytes | None:
    """A JSON field as record bytes: strings as UTF-8, other values as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode()
    return to_json(value).encode()


def parse_text_line(line: str, defaults: ProduceDefaults) -> OutRecord:
    """A line of text input (newline stripped) as a record."""
    return OutRecord(
        value=line.rstrip("\r\n").encode(),
        key=encode(defaults.key),
        headers=[(k, v.encode()) for k, v in defaults.headers],
        partition=defaults.partition,
    )


def parse_json_line(line: str, lineno: int, defaults: ProduceDefaults) -> OutRecord | None:
    """A line of JSON input as a record; ``None`` for a blank line.

    Raises ``CliError(INVALID_INPUT)`` naming the line for anything malformed.
    """
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _bad_line(lineno, f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise _bad_line(lineno, f"expected a JSON object, got {type(obj).__name__}")
    unknown = set(obj) - {"key", "value", "headers", "partition", "timestamp"}
    if unknown:
        raise _bad_line(lineno, f"unknown field(s) {', '.join(sorted(unknown))}")
    headers: dict[str, bytes | None] = {k: v.encode() for k, v in defaults.headers}
    raw_headers = obj.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise _bad_line(lineno, "headers must be an object of name: value")
    headers.update({str(k): encode(v) for k, v in raw_headers.items()})
    partition = obj.get("partition", defaults.partition)
    if partition is not None and (not isinstance(partition, int) or partition < 0):
        raise _bad_line(lineno, f"partition must be a non-negative integer, got {partition!r}")
    timestamp = obj.get("timestamp")
    if timestamp is not None and (not isinstance(timestamp, int) or timestamp < 0):
        raise _bad_line(
            lineno, f"timestamp must be milliseconds since the epoch, got {timestamp!r}"
        )
    return OutRecord(
        value=encode(obj.get("value")),
        key=encode(obj["key"]) if "key" in obj else encode(defaults.key),
        headers=list(headers.items()),
        partition=partition,
        timestamp=timestamp,
    )


def _bad_line(lineno: int, what: str) -> CliError:
    return CliError("INVALID_INPUT", f"line {lineno}: {what}", JSON_INPUT_HINT)


def decode(data: bytes | None) -> str | None:
    """Record bytes as text; bytes that are not UTF-8 become ``\\xNN`` escapes."""
    return None if data is None else data.decode("utf-8", errors="backslashreplace")


def record_json(record: InRecord) -> dict[str, Any]:
    """The JSON object ``topic consume --format json`` prints for a record."""
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": decode(record.key),
        "value": decode(record.value),
        "headers": {k: decode(v) for k, v in record.headers},
    }


def record_text(record: InRecord) -> str:
    """The line ``topic consume --format text`` prints for a record (its value)."""
    return decode(record.value) or ""


def from_message(msg: Any) -> InRecord:
    """A confluent-kafka ``Message`` as an :class:`InRecord`."""
    ts_type, ts = msg.timestamp()
    return InRecord(
        topic=str(msg.topic()),
        partition=int(msg.partition()),
        offset=int(msg.offset()),
        timestamp=int(ts) if ts_type != 0 and ts >= 0 else None,
        key=msg.key(),
        value=msg.value(),
        headers=list(msg.headers() or []),
    )
