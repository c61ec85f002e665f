"""Table, JSON and error formatting (riverhead.cli.output)."""

from __future__ import annotations

import io

import pytest

from riverhead.cli.errors import CliError
from riverhead.cli.output import (
    OutputClosed,
    cell_text,
    format_error,
    print_json,
    print_line,
    print_table,
    render_table,
    status_json,
    status_text,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        ("x", "x"),
        ([0, 1, 2], "0,1,2"),
        ((), ""),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text  # type: ignore[arg-type]


def test_render_table_aligns_columns_and_uppercases_headers() -> None:
    lines = render_table(["name", "Partitions"], [("orders", 3), ("a-much-longer-name", 12)])
    assert lines == [
        "NAME                PARTITIONS",
        "orders              3",
        "a-much-longer-name  12",
    ]


def test_render_table_never_truncates_or_leaves_trailing_spaces() -> None:
    long = "v" * 500
    lines = render_table(["KEY", "VALUE"], [("k", long), ("longer-key", None)])
    assert lines[1].endswith(long)
    assert lines[2] == "longer-key  -"
    assert all(line == line.rstrip() for line in lines)


def test_render_table_with_no_rows_prints_headers() -> None:
    assert render_table(["NAME", "PARTITIONS"], []) == ["NAME  PARTITIONS"]


def test_render_table_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match="expected 2"):
        render_table(["A", "B"], [("only-one",)])


def test_print_table_to_a_pipe_is_plain_text() -> None:
    out = io.StringIO()
    print_table(["TOPIC", "STATUS"], [("t", "OK")], out=out)
    assert out.getvalue() == "TOPIC  STATUS\nt      OK\n"


def test_print_json_pretty_and_line() -> None:
    out = io.StringIO()
    print_json({"a": [1, "é"]}, out=out, pretty=False)
    print_json({"a": 1}, out=out)
    assert out.getvalue() == '{"a":[1,"é"]}\n{\n  "a": 1\n}\n'


@pytest.mark.parametrize(
    ("err", "line"),
    [
        (
            CliError("UNKNOWN_TOPIC_OR_PARTITION", "topic 'x' does not exist", "list topics"),
            "error: UNKNOWN_TOPIC_OR_PARTITION: topic 'x' does not exist (hint: list topics)",
        ),
        (CliError("INVALID_CONFIG", "bad key"), "error: INVALID_CONFIG: bad key"),
        (
            CliError("X", "multi\nline\n  message", "a\nhint"),
            "error: X: multi line message (hint: a hint)",
        ),
    ],
)
def test_format_error_is_one_line(err: CliError, line: str) -> None:
    assert format_error(err) == line
    assert "\n" not in format_error(err)


def test_status_cells() -> None:
    assert status_text(None) == "OK"
    assert status_text(CliError("TOPIC_ALREADY_EXISTS", "exists", "pick another")) == (
        "TOPIC_ALREADY_EXISTS: pick another"
    )
    assert status_text(CliError("POLICY_VIOLATION", "no way")) == "POLICY_VIOLATION: no way"
    assert status_json(None) == {"error": None}
    assert status_json(CliError("A", "m", "h")) == {"error": "A", "message": "m", "hint": "h"}


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_reader_is_reported_as_output_closed() -> None:
    with pytest.raises(OutputClosed):
        print_line("x", out=ClosedPipe())
    with pytest.raises(OutputClosed):
        print_table(["A"], [("1",)], out=ClosedPipe())
