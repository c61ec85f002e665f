"""Errors the CLI reports, and how Kafka client errors become them.

Every failure a command reports is a :class:`CliError`: a Kafka-style upper-case
``name`` (``UNKNOWN_TOPIC_OR_PARTITION``, ``TOPIC_ALREADY_EXISTS``, ``BROKER_NOT_AVAILABLE``,
``INVALID_INPUT``...), a one-line ``message`` saying what went wrong, and an optional
``hint`` saying what to do about it. :mod:`riverhead.cli.output` prints it as one line::

    error: UNKNOWN_TOPIC_OR_PARTITION: topic "orders" does not exist (hint: ...)

Names for broker error codes come from ``riverhead.protocol.errors`` (the registry the
broker shares), not from confluent-kafka's ``KafkaError.name()``: librdkafka abbreviates
some (``UNKNOWN_TOPIC_OR_PART``). librdkafka's local errors (negative codes) keep their
own names without the leading underscore, except those meaning "no broker reachable",
which become ``BROKER_NOT_AVAILABLE``. Hints come from the protocol registry when it has
one, else from :data:`CLI_HINTS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from riverhead.protocol.errors import ErrorCode, error_name

BROKER_HINT = "is the broker running? start one with `riverhead broker start`"

#: Hints for the errors CLI users meet most, used when the protocol registry has none.
CLI_HINTS: dict[str, str] = {
    "UNKNOWN_TOPIC_OR_PARTITION": "list topics with `riverhead topic list`",
    "TOPIC_ALREADY_EXISTS": "pick another name, or delete it with `riverhead topic delete`",
    "INVALID_TOPIC_EXCEPTION": "use letters, digits, '.', '_' and '-' (at most 249 characters)",
    "INVALID_PARTITIONS": "the partition count must be at least 1",
    "INVALID_REPLICATION_FACTOR": "the replication factor must be between 1 and the broker count",
    "INVALID_CONFIG": "check the key and value; see `riverhead topic describe` for current configs",
    "TOPIC_DELETION_DISABLED": "set delete.topic.enable=true on the broker",
    "MESSAGE_TOO_LARGE": "raise max.message.bytes on the topic or send smaller records",
    "UNSUPPORTED_VERSION": "the broker does not support this request version",
    "BROKER_NOT_AVAILABLE": BROKER_HINT,
    "REQUEST_TIMED_OUT": "the broker did not answer in time; retry or raise --timeout",
}

# librdkafka's local (negative) error codes that mean "could not reach a broker".
_CONNECTION_ERRORS = {"_TRANSPORT", "_ALL_BROKERS_DOWN", "_RESOLVE"}
# librdkafka's local errors that have a Kafka equivalent users know better.
_LOCAL_NAMES = {"_TIMED_OUT": "REQUEST_TIMED_OUT", "_MSG_TIMED_OUT": "REQUEST_TIMED_OUT"}


@dataclass
class CliError(Exception):
    """A failure to report as one line ``error: NAME: message (hint: ...)``; exit 1."""

    name: str
    message: str
    hint: str | None = None
    exit_code: int = 1

    # Not frozen: raising and context managers assign ``__traceback__`` on exceptions.

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


def kafka_error_name(code: int) -> str:
    """The Kafka name of broker error ``code`` (e.g. 3 -> ``UNKNOWN_TOPIC_OR_PARTITION``)."""
    return error_name(code)


def hint_for(name: str, code: int | None = None) -> str | None:
    """The hint for an error: the protocol registry's, else the CLI's own."""
    if code is not None and code >= 0:
        try:
            hint = ErrorCode(code).hint
        except ValueError:
            hint = ""
        if hint:
            return hint
    return CLI_HINTS.get(name)


def from_kafka_error(err: Any, brokers: str, context: str | None = None) -> CliError:
    """Turn a confluent-kafka ``KafkaError`` (or ``KafkaException``) into a :class:`CliError`.

    ``context`` prefixes the message (e.g. ``topic "orders"``). Local errors that mean the
    broker could not be reached become ``BROKER_NOT_AVAILABLE`` with :data:`BROKER_HINT`.
    """
    if isinstance(err, BaseException) and err.args:
        err = err.args[0]
    if not hasattr(err, "code"):
        return CliError("UNKNOWN_SERVER_ERROR", str(err))
    code = int(err.code())
    local_name = str(err.name())
    if local_name in _CONNECTION_ERRORS:
        return connection_error(brokers)
    if code >= 0:
        name = kafka_error_name(code)
    else:
        name = _LOCAL_NAMES.get(local_name, local_name.lstrip("_"))
    message = str(err.str())
    if message.startswith("Broker: ") and context:
        message = context + ": " + message[len("Broker: ") :].lower()
    elif context:
        message = f"{context}: {message}"
    return CliError(name, message, hint_for(name, code))


def connection_error(brokers: str) -> CliError:
    """The error for "no broker answered at ``brokers``"."""
    return CliError("BROKER_NOT_AVAILABLE", f"cannot connect to {brokers}", BROKER_HINT)
