"""The consume ``-o`` spec (riverhead.cli.offsets)."""

from __future__ import annotations

import pytest

from riverhead.cli.errors import CliError
from riverhead.cli.offsets import OffsetSpec, parse_offset, resolve

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("start", OffsetSpec("start")),
        ("oldest", OffsetSpec("start")),
        ("END", OffsetSpec("end")),
        ("latest", OffsetSpec("end")),
        ("17", OffsetSpec("exact", 17)),
        ("+3", OffsetSpec("after_start", 3)),
        ("-5", OffsetSpec("tail", 5)),
        ("@1700000000000", OffsetSpec("timestamp", 1700000000000)),
    ],
)
def test_parse(text: str, spec: OffsetSpec) -> None:
    assert parse_offset(text) == spec


@pytest.mark.parametrize("text", ["", "x", "@", "-", "1.5", "@soon", "--1"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(CliError) as info:
        parse_offset(text)
    assert info.value.name == "INVALID_ARGUMENT"


# Partition holding offsets [10, 20).
@pytest.mark.parametrize(
    ("spec", "by_time", "offset"),
    [
        (OffsetSpec("start"), None, 10),
        (OffsetSpec("end"), None, 20),
        (OffsetSpec("exact", 15), None, 15),
        (OffsetSpec("exact", 3), None, 10),
        (OffsetSpec("exact", 99), None, 20),
        (OffsetSpec("after_start", 4), None, 14),
        (OffsetSpec("after_start", 40), None, 20),
        (OffsetSpec("tail", 3), None, 17),
        (OffsetSpec("tail", 30), None, 10),
        (OffsetSpec("timestamp", 5), 12, 12),
        (OffsetSpec("timestamp", 5), -1, 20),
        (OffsetSpec("timestamp", 5), None, 20),
    ],
)
def test_resolve(spec: OffsetSpec, by_time: int | None, offset: int) -> None:
    assert resolve(spec, 10, 20, by_time) == offset
