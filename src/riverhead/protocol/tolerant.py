"""A schema-driven request reader that skips unknown tagged fields (KIP-482).

Kafka's rule for flexible versions: a receiver ignores tagged fields it does not know, so
newer clients can add optional data without a new version. kio's native reader rejects
unknown tags instead (``KeyError: Unknown tagged field tag``). When that happens,
:func:`read_entity` decodes the same bytes again by walking the kio dataclass schema in
Python — primitives through kio's native readers, structs and arrays here — keeping the
known tagged fields and skipping the rest. It is a fallback for rare requests, so it
favours clarity over speed.

Pure; thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, Field, fields
from functools import cache
from typing import Any

from kio.serial import readers
from kio.serial._introspect import EntityField, EntityTupleField, classify_field, is_optional

from riverhead.protocol.varint import decode_uvarint

Read = Callable[[Any, int], tuple[Any, int]]  # (buffer, offset) -> (value, bytes consumed)

_FIXED: dict[str, Read] = {
    "int8": readers.read_int8,
    "int16": readers.read_int16,
    "int32": readers.read_int32,
    "int64": readers.read_int64,
    "uint8": readers.read_uint8,
    "uint16": readers.read_uint16,
    "uint32": readers.read_uint32,
    "uint64": readers.read_uint64,
    "float64": readers.read_float64,
    "bool": readers.read_boolean,
    "uuid": readers.read_uuid,
    "error_code": readers.read_error_code,
    "timedelta_i32": readers.read_timedelta_i32,
    "timedelta_i64": readers.read_timedelta_i64,
}


class SchemaDecodeError(ValueError):
    pass


def _primitive(kafka_type: str, flexible: bool, optional: bool) -> Read:
    if kafka_type in _FIXED:
        return _FIXED[kafka_type]
    if kafka_type == "datetime_i64":
        return readers.read_nullable_datetime_i64 if optional else readers.read_datetime_i64
    if kafka_type == "string":
        if flexible:
            return readers.read_compact_string_nullable if optional else readers.read_compact_string
        return readers.read_nullable_legacy_string if optional else readers.read_legacy_string
    if kafka_type in ("bytes", "records"):
        if flexible:
            return (
                readers.read_compact_string_as_bytes_nullable
                if optional
                else readers.read_compact_string_as_bytes
            )
        return readers.read_nullable_legacy_bytes if optional else readers.read_legacy_bytes
    raise SchemaDecodeError(f"no reader for kafka type {kafka_type!r}")


def _array(item: Read, flexible: bool) -> Read:
    length_reader = (
        readers.read_compact_array_length if flexible else readers.read_legacy_array_length
    )

    def read(buf: Any, pos: int) -> tuple[Any, int]:
        count, used = length_reader(buf, pos)
        if count is None:
            return None, used
        if count < 0 or count > len(buf) - pos:
            raise SchemaDecodeError(f"array length {count} at byte {pos} is impossible")
        start, pos = pos, pos + used
        items = []
        for _ in range(count):
            value, size = item(buf, pos)
            items.append(value)
            pos += size
        return tuple(items), pos - start

    return read


def _field_reader(f: Field[Any], flexible: bool) -> Read:
    kind = classify_field(f)
    optional = is_optional(f)
    if isinstance(kind, EntityTupleField):
        return _array(_entity_reader(kind.type_), flexible)
    if isinstance(kind, EntityField):
        return _entity_reader(kind.type_)
    item = _primitive(f.metadata["kafka_type"], flexible, optional and not kind.is_array)
    return _array(item, flexible) if kind.is_array else item


@cache
def _entity_reader(cls: type) -> Read:
    flexible = bool(getattr(cls, "__flexible__", False))
    plain: list[tuple[str, Read]] = []
    tagged: dict[int, tuple[str, Read]] = {}
    defaults: dict[str, Any] = {}
    for f in fields(cls):
        reader = _field_reader(f, flexible)
        tag = f.metadata.get("tag")
        if tag is None:
            plain.append((f.name, reader))
        else:
            tagged[int(tag)] = (f.name, reader)
            if f.default is not MISSING:
                defaults[f.name] = f.default
            elif f.default_factory is not MISSING:
                defaults[f.name] = f.default_factory()

    def read(buf: Any, pos: int) -> tuple[Any, int]:
        start = pos
        values: dict[str, Any] = {}
        for name, reader in plain:
            values[name], size = reader(buf, pos)
            pos += size
        if flexible:
            count, pos = decode_uvarint(buf, pos)
            for _ in range(count):
                tag, pos = decode_uvarint(buf, pos)
                size, pos = decode_uvarint(buf, pos)
                if pos + size > len(buf):
                    raise SchemaDecodeError(f"tagged field {tag} runs past the buffer")
                known = tagged.get(tag)
                if known is not None:
                    values[known[0]], _ = known[1](bytes(buf[pos : pos + size]), 0)
                pos += size  # unknown tags are skipped, as KIP-482 requires
        for name, value in defaults.items():
            values.setdefault(name, value)
        return cls(**values), pos - start

    return read


def read_entity(cls: type, buf: Any, offset: int) -> tuple[Any, int]:
    """Decode ``cls`` at ``offset``; returns ``(entity, bytes consumed)``."""
    try:
        return _entity_reader(cls)(buf, offset)
    except (ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
        raise SchemaDecodeError(f"{type(exc).__name__}: {exc}") from None
