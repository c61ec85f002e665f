"""Produce input parsing and consume output shaping (riverhead.cli.records)."""

from __future__ import annotations

import pytest

from riverhead.cli.errors import CliError
from riverhead.cli.records import (
    InRecord,
    OutRecord,
    ProduceDefaults,
    decode,
    encode,
    parse_json_line,
    parse_key_values,
    parse_text_line,
    record_json,
    record_text,
)

pytestmark = pytest.mark.unit

FLAGS = ProduceDefaults(key="k1", headers=[("src", "cli")], partition=2)


def test_text_line_uses_flags() -> None:
    assert parse_text_line("hello world\n", FLAGS) == OutRecord(
        value=b"hello world", key=b"k1", headers=[("src", b"cli")], partition=2
    )
    assert parse_text_line("\r\n", ProduceDefaults()) == OutRecord(value=b"")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"value": "v"}', OutRecord(value=b"v")),
        ('{"key": "u1", "value": {"a": 1}}', OutRecord(value=b'{"a":1}', key=b"u1")),
        ('{"key": 7, "value": null}', OutRecord(value=None, key=b"7")),
        (
            '{"value": "v", "headers": {"h": "x", "n": null}, "partition": 1, "timestamp": 5}',
            OutRecord(value=b"v", headers=[("h", b"x"), ("n", None)], partition=1, timestamp=5),
        ),
    ],
)
def test_json_line(line: str, expected: OutRecord) -> None:
    assert parse_json_line(line, 1, ProduceDefaults()) == expected


def test_json_line_fields_override_flags_and_headers_merge() -> None:
    rec = parse_json_line('{"key": null, "headers": {"src": "web", "x": "1"}}', 1, FLAGS)
    assert rec == OutRecord(
        value=None, key=None, headers=[("src", b"web"), ("x", b"1")], partition=2
    )
    rec = parse_json_line('{"value": "v"}', 1, FLAGS)
    assert rec is not None and rec.key == b"k1" and rec.partition == 2


def test_blank_json_line_is_skipped() -> None:
    assert parse_json_line("   \n", 3, ProduceDefaults()) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{nope", "line 4: not JSON"),
        ("[1, 2]", "line 4: expected a JSON object, got list"),
        ('{"valu": 1}', "line 4: unknown field(s) valu"),
        ('{"headers": [1]}', "line 4: headers must be an object"),
        ('{"partition": -1}', "line 4: partition must be a non-negative integer"),
        ('{"partition": "0"}', "line 4: partition must be a non-negative integer"),
        ('{"timestamp": 1.5}', "line 4: timestamp must be milliseconds"),
    ],
)
def test_bad_json_line_names_the_line(line: str, message: str) -> None:
    with pytest.raises(CliError) as info:
        parse_json_line(line, 4, ProduceDefaults())
    assert info.value.name == "INVALID_INPUT"
    assert info.value.message.startswith(message)
    assert info.value.hint and "--format json" in info.value.hint


def test_key_value_flags() -> None:
    assert parse_key_values(["a=1", "b=x=y", "c="], "-H") == [("a", "1"), ("b", "x=y"), ("c", "")]
    for bad in ("novalue", "=v"):
        with pytest.raises(CliError, match="is not key=value"):
            parse_key_values([bad], "-H")


def test_encode_decode() -> None:
    assert encode(None) is None
    assert encode("é") == "é".encode()
    assert encode([1, {"a": True}]) == b'[1,{"a":true}]'
    assert decode(None) is None
    assert decode(b"\xff ok") == "\\xff ok"


def test_record_json_and_text() -> None:
    rec = InRecord(
        topic="t",
        partition=1,
        offset=9,
        timestamp=1700000000000,
        key=b"u1",
        value=b'{"a":1}',
        headers=[("h", b"x"), ("n", None)],
    )
    assert record_json(rec) == {
        "topic": "t",
        "partition": 1,
        "offset": 9,
        "timestamp": 1700000000000,
        "key": "u1",
        "value": '{"a":1}',
        "headers": {"h": "x", "n": None},
    }
    assert record_text(rec) == '{"a":1}'
    assert record_text(InRecord("t", 0, 0, None, None, None)) == ""
