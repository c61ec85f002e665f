"""Unknown tagged fields are skipped (KIP-482), through the schema-walking fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kio.index import load_request_schema

from riverhead.protocol.apis import ApiKey, is_flexible
from riverhead.protocol.frames import parse_request_header
from riverhead.protocol.messages import RequestDecodeError, decode_request
from riverhead.protocol.tolerant import read_entity

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).parents[2] / "golden"
FRAMES = [
    e
    for e in json.loads((GOLDEN / "index.json").read_text())
    if e["api_key"] != ApiKey.PRODUCE
    and is_flexible(e["api_key"], e["api_version"])
    and e["trailing_bytes"] == 0
]


def _body(entry: dict[str, object]) -> tuple[bytes, int]:
    raw = (GOLDEN / str(entry["file"])).read_bytes()
    return raw, parse_request_header(raw).size


@pytest.mark.parametrize("entry", FRAMES, ids=lambda e: f"{e['client']}-{e['file']}")
def test_fallback_reader_agrees_with_kio(entry: dict[str, object]) -> None:
    raw, start = _body(entry)
    cls = load_request_schema(int(entry["api_key"]), int(entry["api_version"]))  # type: ignore[call-overload]
    expected = decode_request(int(entry["api_key"]), int(entry["api_version"]), raw, start)  # type: ignore[call-overload]
    got, consumed = read_entity(cls, raw, start)
    assert got == expected
    assert start + consumed == len(raw)


@pytest.mark.parametrize("entry", FRAMES, ids=lambda e: f"{e['client']}-{e['file']}")
def test_unknown_top_level_tag_is_skipped(entry: dict[str, object]) -> None:
    raw, start = _body(entry)
    assert raw[-1] == 0, "the body should end with an empty tag buffer"
    tagged = raw[:-1] + b"\x01\x2a\x03abc"  # one tag, id 42, 3 bytes
    api, version = int(entry["api_key"]), int(entry["api_version"])  # type: ignore[call-overload]
    assert decode_request(api, version, tagged, start) == decode_request(api, version, raw, start)


def test_truncated_tag_buffer_is_a_decode_error() -> None:
    entry = FRAMES[0]
    raw, start = _body(entry)
    api, version = int(entry["api_key"]), int(entry["api_version"])  # type: ignore[call-overload]
    with pytest.raises(RequestDecodeError):
        decode_request(api, version, raw[:-1] + b"\x01\x2a\x09abc", start)
