"""Record formats of the Kafka spout and sink: ``json``, ``string`` (UTF-8) and ``bytes``.

``decode(fmt, data)`` turns record bytes into a value (``None`` stays ``None``: a record
without a key, or a tombstone); ``encode(fmt, value)`` is the inverse. JSON is compact
(no spaces) and keeps non-ASCII characters as UTF-8.
"""

from __future__ import annotations

import json
from typing import Any, Literal

Format = Literal["json", "string", "bytes"]
FORMATS: tuple[str, ...] = ("json", "string", "bytes")


def check_format(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt  # type: ignore[return-value]


def decode(fmt: Format, data: bytes | None) -> Any:
    """Record bytes as a value; raises ``ValueError`` for malformed JSON or UTF-8."""
    if data is None:
        return None
    if fmt == "bytes":
        return bytes(data)
    if fmt == "string":
        return data.decode("utf-8")
    return json.loads(data)


def encode(fmt: Format, value: Any) -> bytes | None:
    """A value as record bytes (``None`` stays ``None``)."""
    if value is None:
        return None
    if fmt == "json":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if fmt == "string" or isinstance(value, str):
        return str(value).encode("utf-8")
    raise TypeError(f"cannot write {type(value).__name__} as {fmt!r}; give bytes or str")
