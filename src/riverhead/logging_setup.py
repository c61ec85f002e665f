"""Process logging: text or JSON lines on stderr, significant events as structured fields.

``configure(level, fmt)`` installs one stderr handler on the root logger:

* ``text`` (default): ``2024-05-01 12:00:00,123 INFO riverhead.broker: message``;
* ``json``: one JSON object per line::

    {"ts": "2024-05-01T12:00:00.123Z", "level": "INFO", "logger": "riverhead.broker",
     "msg": "created topic orders with 3 partitions", "event": "topic_created",
     "topic": "orders", "partitions": 3}

A *significant event* is logged with ``extra=event("topic_created", topic=..., ...)``:
the event name and its fields become top-level JSON keys (the text format shows only
the message, which already says the same). Events logged by Riverhead:
``topic_created``, ``topic_deleted``, ``leader_elected``, ``isr_changed``,
``segment_rolled``, ``segments_deleted``, ``log_truncated``, ``recovery_truncated``,
``group_rebalanced``, ``controller_elected``. Exceptions go in ``"exc"``.

No secrets: a filter on the handler replaces the value of any field whose name mentions
password, secret, token, credential or jaas, and ``key=value`` pairs of such keys inside
messages, with ``[redacted]`` — in both formats.

The broker picks the format from its ``logger.format`` config key (so also from
``RIVERHEAD_LOGGER_FORMAT=json``). Thread-safe (logging's own locking).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import Any, TextIO

_SECRET_WORDS = ("password", "secret", "token", "credential", "jaas")
_SECRET_PAIR = re.compile(
    r"(?i)([\w.\-]*(?:password|secret|token|credential|jaas)[\w.\-]*)(\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;)}\]]+)"
)
REDACTED = "[redacted]"
#: LogRecord attributes that are not event fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def event(name: str, **fields: Any) -> dict[str, Any]:
    """``extra=`` for a significant event: ``log.info("...", extra=event("x", a=1))``."""
    return {"event": name, "event_fields": fields}


def is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def redact_text(text: str) -> str:
    """``sasl.password=hunter2`` -> ``sasl.password=[redacted]`` (any secret-named key)."""
    return _SECRET_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


class RedactFilter(logging.Filter):
    """Removes secrets from the message and event fields of every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        fields = getattr(record, "event_fields", None)
        if isinstance(fields, dict):
            record.event_fields = {
                k: (REDACTED if is_secret(k) else v) for k, v in fields.items()
            }
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; see the module docstring for the keys."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
        out: dict[str, Any] = {
            "ts": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        name = getattr(record, "event", None)
        if name is not None:
            out["event"] = name
            fields = getattr(record, "event_fields", None) or {}
            for key, value in fields.items():
                if key not in out:
                    out[key] = value
        for key, value in vars(record).items():  # other extra= fields, if any
            if key not in _STANDARD and key not in ("event", "event_fields") and key not in out:
                out[key] = REDACTED if is_secret(key) else value
        if record.exc_info:
            out["exc"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str | int = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Replace the root logger's handlers with one stderr handler in ``fmt``.

    Raises ValueError for a format other than ``text`` or ``json``.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"log format {fmt!r} is not text or json")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
