"""Argument handling and error lines of the command tree (no broker, no sockets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from riverhead.cli.client import PartitionInfo, TopicInfo, parse_brokers
from riverhead.cli.consume import select_partitions
from riverhead.cli.errors import CliError
from riverhead.cli.main import hoist_global_options, run
from riverhead.cli.produce import DeliveryTally, summary_line

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("args", "hoisted"),
    [
        (["topic", "list"], ["topic", "list"]),
        (["topic", "list", "-X", "h:1"], ["-X", "h:1", "topic", "list"]),
        (["topic", "list", "--brokers=h:1"], ["--brokers=h:1", "topic", "list"]),
        (["topic", "-Xh:1", "list"], ["-Xh:1", "topic", "list"]),
        (
            ["topic", "describe", "t", "--timeout", "3", "--format", "json"],
            ["--timeout", "3", "topic", "describe", "t", "--format", "json"],
        ),
        (["-X", "h:1", "topic", "list"], ["-X", "h:1", "topic", "list"]),
        (["topic", "produce", "t", "--", "-X", "v"], ["topic", "produce", "t", "--", "-X", "v"]),
        # `cluster up --brokers N` is the broker count, not the bootstrap list.
        (["cluster", "up", "--brokers", "2"], ["cluster", "up", "--brokers", "2"]),
        (
            ["cluster", "up", "--brokers=2", "-X", "h:1"],
            ["-X", "h:1", "cluster", "up", "--brokers=2"],
        ),
        (["cluster", "info", "--brokers", "h:1"], ["--brokers", "h:1", "cluster", "info"]),
    ],
)
def test_hoist_global_options(args: list[str], hoisted: list[str]) -> None:
    assert hoist_global_options(args) == hoisted


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1:9092", [("127.0.0.1", 9092)]),
        ("a:1, b:2", [("a", 1), ("b", 2)]),
        ("[::1]:9092", [("::1", 9092)]),
    ],
)
def test_parse_brokers(text: str, parsed: list[tuple[str, int]]) -> None:
    assert parse_brokers(text) == parsed


@pytest.mark.parametrize("text", ["", "host", "host:", ":9092", "h:port"])
def test_parse_brokers_rejects(text: str) -> None:
    with pytest.raises(CliError):
        parse_brokers(text)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["topic", "bogus"], "error: INVALID_ARGUMENT: No such command 'bogus'"),
        (["topic", "create"], "error: INVALID_ARGUMENT: Missing argument 'NAME'"),
        (["topic", "list", "--format", "xml"], "error: INVALID_ARGUMENT: Invalid value"),
        (["topic", "list", "-X", "nohost"], "error: INVALID_ARGUMENT: broker address 'nohost'"),
        (["topic", "consume", "t", "-o", "later"], "error: INVALID_ARGUMENT: --offset 'later'"),
        (["topic", "create", "t", "-c", "retention"], "error: INVALID_ARGUMENT: -c 'retention'"),
        (["topic", "produce", "t", "--acks", "2"], "error: INVALID_ARGUMENT: Invalid value"),
    ],
)
def test_usage_errors_are_one_line_exit_1(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(args) == 1
    line = one_error_line(capsys)
    assert line.startswith(expected), line
    assert "(hint: " in line


def test_broker_start_bad_config_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["broker", "start", "--set", "log.retention.hour=1"]) == 1
    line = one_error_line(capsys)
    assert line.startswith("error: INVALID_CONFIG: unknown broker config key 'log.retention.hour'")
    assert "log.retention.hours" in line


def test_broker_start_bad_set_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["broker", "start", "--set", "oops"]) == 1
    assert one_error_line(capsys).startswith("error: INVALID_CONFIG: --set 'oops' is not key=value")


def test_broker_start_missing_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["broker", "start", "--config", str(tmp_path / "nope.properties")]) == 1
    assert one_error_line(capsys).startswith("error: INVALID_CONFIG: cannot read config file")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["topic", "--help"]) == 0
    assert "consume" in capsys.readouterr().out
    assert run([]) == 0


def test_select_partitions() -> None:
    info = TopicInfo("t", [PartitionInfo(p, 0, [0], [0]) for p in range(3)])
    assert select_partitions(info, None) == [0, 1, 2]
    assert select_partitions(info, [2, 0, 2]) == [0, 2]
    with pytest.raises(CliError, match="has no partition 5") as exc:
        select_partitions(info, [5])
    assert exc.value.name == "UNKNOWN_TOPIC_OR_PARTITION"


def test_produce_summary_line() -> None:
    tally = DeliveryTally()
    assert summary_line("t", tally) == "produced 0 records to 't'"
    tally.delivered.update({1: 2, 0: 1})
    assert summary_line("t", tally) == "produced 3 records to 't' (partition 0: 1, partition 1: 2)"
