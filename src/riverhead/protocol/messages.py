"""Request/response bodies for the cold-path APIs, through the ``kio`` schema library.

``kio`` generates one frozen dataclass per API, version and direction from Kafka's own
message JSON, and reads them natively (Rust). Handlers, though, should not be written once
per version: they read requests through attribute names, which Kafka keeps stable across
versions, and they answer with plain ``dict``/``list`` trees holding the union of fields.
:func:`encode_response` shapes such a tree into the dataclass of the negotiated version —
taking the fields that version has, dropping the ones it lacks, filling defaults — then
lets ``kio`` write it. So ``{"error_code": 3, "throttle_time_ms": 0, ...}`` serves v1 and
v7 alike.

Value conventions in response trees: integers for every integer field, including error
codes and the millisecond fields kio types as ``timedelta``/``datetime`` (``-1`` for a
missing time); ``uuid.UUID`` or ``None`` for UUIDs; ``bytes`` for bytes/records fields.

Thread-safe: the per-class shaping plans are built once and cached.
"""

from __future__ import annotations

import datetime
import io
import uuid
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from functools import cache
from typing import Any

from kio.index import load_request_schema, load_response_schema
from kio.schema.errors import ErrorCode as KioErrorCode
from kio.serial import entity_reader, entity_writer
from kio.serial._introspect import (
    EntityField,
    EntityTupleField,
    classify_field,
    is_optional,
)
from kio.serial.errors import DecodeError as KioDecodeError

from riverhead.protocol.tolerant import SchemaDecodeError, read_entity

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

# Kafka's field names that kio renames (it drops the unit suffix of time fields).
_ALIASES = {
    "throttle_time": "throttle_time_ms",
    "timeout": "timeout_ms",
    "session_timeout": "session_timeout_ms",
    "rebalance_timeout": "rebalance_timeout_ms",
    "max_wait": "max_wait_ms",
    "log_append_time": "log_append_time_ms",
    "transaction_timeout": "transaction_timeout_ms",
}


class RequestDecodeError(ValueError):
    """The request body does not parse as the schema of its API version."""


def decode_request(api_key: int, version: int, buf: bytes | memoryview, offset: int) -> Any:
    """Decode a request body with kio; trailing bytes are tolerated (librdkafka sends some)."""
    try:
        obj, _consumed = _reader(api_key, version)(buf, offset)
    except KeyError as exc:
        if "tagged field" not in str(exc):
            raise RequestDecodeError(f"KeyError: {exc}") from None
        # kio rejects tags it does not know; Kafka says skip them (KIP-482).
        try:
            obj, _consumed = read_entity(load_request_schema(api_key, version), buf, offset)
        except SchemaDecodeError as err:
            raise RequestDecodeError(str(err)) from None
    except (KioDecodeError, ValueError, TypeError, OverflowError, IndexError) as exc:
        raise RequestDecodeError(f"{type(exc).__name__}: {exc}") from None
    return obj


def encode_response(api_key: int, version: int, tree: Mapping[str, Any]) -> bytes:
    """Shape ``tree`` into the response dataclass of this version and serialise its body."""
    cls = load_response_schema(api_key, version)
    entity = _shape(cls, tree)
    out = io.BytesIO()
    _writer(cls)(out, entity)
    return out.getvalue()


def request_schema(api_key: int, version: int) -> type:
    return load_request_schema(api_key, version)


def millis(value: datetime.timedelta | int | None) -> int:
    """A kio ``timedelta`` request field as integer milliseconds."""
    if value is None:
        return -1
    if isinstance(value, datetime.timedelta):
        return round(value.total_seconds() * 1000)
    return int(value)


@cache
def _reader(api_key: int, version: int) -> Callable[..., Any]:
    return entity_reader(load_request_schema(api_key, version))


@cache
def _writer(cls: type) -> Callable[..., Any]:
    return entity_writer(cls)


def _convert_scalar(kafka_type: str, optional: bool) -> Callable[[Any], Any]:
    if kafka_type == "timedelta_i32" or kafka_type == "timedelta_i64":
        return lambda v: (
            v if isinstance(v, datetime.timedelta) else datetime.timedelta(milliseconds=int(v))
        )
    if kafka_type == "datetime_i64":
        if optional:
            return lambda v: (
                None
                if v is None or (isinstance(v, int) and v < 0)
                else (
                    v
                    if isinstance(v, datetime.datetime)
                    else _EPOCH + datetime.timedelta(milliseconds=int(v))
                )
            )
        return lambda v: (
            v
            if isinstance(v, datetime.datetime)
            else _EPOCH + datetime.timedelta(milliseconds=int(v))
        )
    if kafka_type == "error_code":
        return lambda v: KioErrorCode(int(v))
    if kafka_type == "uuid":
        return lambda v: v if v is None or isinstance(v, uuid.UUID) else uuid.UUID(str(v))
    return lambda v: v


def _converter(kind: object, kafka_type: str, optional: bool) -> Callable[[Any], Any]:
    """How to turn a tree value into what kio's dataclass field holds."""
    if isinstance(kind, EntityTupleField):
        entity = kind.type_

        def entities(v: Any) -> Any:
            return None if v is None else tuple(_shape(entity, item) for item in v)

        return entities
    if isinstance(kind, EntityField):
        single = kind.type_

        def one_entity(v: Any) -> Any:
            return None if v is None else _shape(single, v)

        return one_entity
    scalar = _convert_scalar(kafka_type, optional)
    if getattr(kind, "is_array", False):

        def scalars(v: Any) -> Any:
            return None if v is None else tuple(scalar(x) for x in v)

        return scalars
    if optional:

        def nullable(v: Any) -> Any:
            return None if v is None else scalar(v)

        return nullable
    return scalar


@cache
def _plan(cls: type) -> list[tuple[str, tuple[str, ...], Callable[[Any], Any], Any]]:
    """For each field: (name, names to look up in the tree, converter, default)."""
    plan: list[tuple[str, tuple[str, ...], Callable[[Any], Any], Any]] = []
    for f in fields(cls):
        kind = classify_field(f)
        optional = is_optional(f)
        conv = _converter(kind, f.metadata.get("kafka_type", ""), optional)
        if f.default is not MISSING:
            default: Any = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        elif f.name == "throttle_time":  # every response has it; Riverhead never throttles
            default = datetime.timedelta(0)
        elif optional:
            default = None
        elif kind.is_array:
            default = ()
        else:
            default = MISSING
        names = (f.name, _ALIASES[f.name]) if f.name in _ALIASES else (f.name,)
        plan.append((f.name, names, conv, default))
    return plan


def _shape(cls: type, tree: Mapping[str, Any]) -> Any:
    if not isinstance(tree, Mapping):
        return tree  # already an entity
    kwargs: dict[str, Any] = {}
    for name, names, conv, default in _plan(cls):
        for key in names:
            if key in tree:
                kwargs[name] = conv(tree[key])
                break
        else:
            if default is MISSING:
                raise KeyError(f"{cls.__qualname__}.{name} has no value and no default")
            kwargs[name] = default
    return cls(**kwargs)
