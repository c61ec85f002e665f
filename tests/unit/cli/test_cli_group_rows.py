"""Rows of the group commands, table-driven (riverhead.cli.rows, riverhead.cli.client)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from riverhead.cli.client import (
    GroupInfo,
    GroupMember,
    group_from_description,
    group_state_name,
)
from riverhead.cli.errors import CliError
from riverhead.cli.offsets import OffsetSpec
from riverhead.cli.rows import (
    GroupListing,
    ItemStatus,
    OffsetRange,
    SeekTarget,
    group_describe_json,
    group_list_json,
    group_list_table,
    group_partition_table,
    group_partitions,
    group_summary_table,
    seek_json,
    seek_table,
    seek_targets,
    status_list_json,
    status_table,
)

pytestmark = pytest.mark.unit

ALICE = GroupMember("m-1", "app-1", "/10.0.0.1", [("orders", 0), ("orders", 1)])
BOB = GroupMember("m-2", "app-2", "/10.0.0.2", [("users", 0)])
STABLE = GroupInfo("shop", "Stable", "range", 0, [ALICE, BOB])
EMPTY = GroupInfo("shop", "Empty", None, 0, [])
OFFSETS = {
    ("orders", 0): OffsetRange(0, 10),
    ("orders", 1): OffsetRange(4, 8),
    ("users", 0): OffsetRange(0, 3),
}


def test_group_list_rows_and_json() -> None:
    groups = [GroupListing("a", "Stable", "consumer"), GroupListing("b", "Empty", None)]
    assert group_list_table(groups) == (
        ["GROUP", "STATE", "PROTOCOL-TYPE"],
        [("a", "Stable", "consumer"), ("b", "Empty", None)],
    )
    assert group_list_json(groups)[1] == {"group": "b", "state": "Empty", "protocol_type": None}


@pytest.mark.parametrize(
    ("group", "committed", "rows"),
    [
        # Committed and assigned: lag from the log end; members by owned partition.
        (
            STABLE,
            {("orders", 0): 7, ("orders", 1): 8},
            [
                ("orders", 0, 7, 0, 10, 3, "m-1", "app-1", "/10.0.0.1"),
                ("orders", 1, 8, 4, 8, 0, "m-1", "app-1", "/10.0.0.1"),
                ("users", 0, None, 0, 3, None, "m-2", "app-2", "/10.0.0.2"),
            ],
        ),
        # An Empty group: committed partitions only, no members.
        (
            EMPTY,
            {("users", 0): 1, ("orders", 1): 5},
            [
                ("orders", 1, 5, 4, 8, 3, None, None, None),
                ("users", 0, 1, 0, 3, 2, None, None, None),
            ],
        ),
        # Offsets unknown (a deleted topic): no lag.
        (EMPTY, {("gone", 0): 9}, [("gone", 0, 9, None, None, None, None, None, None)]),
        # Committed past the log end (log truncated): lag is never negative.
        (EMPTY, {("users", 0): 5}, [("users", 0, 5, 0, 3, 0, None, None, None)]),
    ],
)
def test_group_partition_rows(
    group: GroupInfo, committed: dict[tuple[str, int], int], rows: list[tuple[object, ...]]
) -> None:
    headers, got = group_partition_table(group_partitions(group, committed, OFFSETS))
    assert headers == [
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-START-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "MEMBER-ID",
        "CLIENT-ID",
        "HOST",
    ]
    assert got == rows


def test_group_summary_and_json() -> None:
    parts = group_partitions(STABLE, {("orders", 0): 7, ("orders", 1): 2}, OFFSETS)
    assert group_summary_table(STABLE, parts) == (
        ["KEY", "VALUE"],
        [
            ("GROUP", "shop"),
            ("STATE", "Stable"),
            ("COORDINATOR", 0),
            ("PROTOCOL", "range"),
            ("MEMBERS", 2),
            ("TOTAL-LAG", 9),
        ],
    )
    doc = group_describe_json(STABLE, parts)
    assert doc["total_lag"] == 9
    assert doc["members"][1] == {
        "member_id": "m-2",
        "client_id": "app-2",
        "host": "/10.0.0.2",
        "assignment": [{"topic": "users", "partition": 0}],
    }
    assert doc["partitions"][0] == {
        "topic": "orders",
        "partition": 0,
        "current_offset": 7,
        "log_start_offset": 0,
        "log_end_offset": 10,
        "lag": 3,
        "member_id": "m-1",
        "client_id": "app-1",
        "host": "/10.0.0.1",
    }


PARTS = [("orders", 1), ("orders", 0)]
COMMITTED = {("orders", 0): 7}


@pytest.mark.parametrize(
    ("spec", "by_time", "new"),
    [
        (OffsetSpec("start"), None, [0, 4]),
        (OffsetSpec("end"), None, [10, 8]),
        (OffsetSpec("exact", 5), None, [5, 5]),
        (OffsetSpec("exact", 99), None, [10, 8]),  # clamped to the log end
        (OffsetSpec("exact", 1), None, [1, 4]),  # clamped to the log start
        (OffsetSpec("tail", 2), None, [8, 6]),
        (OffsetSpec("after_start", 1), None, [1, 5]),
        (OffsetSpec("timestamp", 1000), {("orders", 0): 3, ("orders", 1): -1}, [3, 8]),
    ],
)
def test_seek_targets(
    spec: OffsetSpec, by_time: dict[tuple[str, int], int], new: list[int]
) -> None:
    targets = seek_targets(spec, PARTS, COMMITTED, OFFSETS, by_time)
    assert [(t.topic, t.partition, t.current) for t in targets] == [
        ("orders", 0, 7),
        ("orders", 1, None),
    ]
    assert [t.new for t in targets] == new


def test_seek_targets_need_offsets() -> None:
    with pytest.raises(ValueError):
        seek_targets(OffsetSpec("start"), [("gone", 0)], {}, {("gone", 0): OffsetRange(None, 3)})


TARGETS = [SeekTarget("orders", 0, 7, 0), SeekTarget("orders", 1, None, 4)]
FAILED = CliError(
    "UNKNOWN_MEMBER_ID", "orders/1: unknown member", "stop the group's consumers first"
)


@pytest.mark.parametrize(
    ("results", "headers", "rows"),
    [
        (
            None,
            ["TOPIC", "PARTITION", "CURRENT", "NEW"],
            [("orders", 0, 7, 0), ("orders", 1, None, 4)],
        ),
        (
            {("orders", 0): None, ("orders", 1): FAILED},
            ["TOPIC", "PARTITION", "CURRENT", "NEW", "STATUS"],
            [
                ("orders", 0, 7, 0, "OK"),
                ("orders", 1, None, 4, "UNKNOWN_MEMBER_ID: stop the group's consumers first"),
            ],
        ),
    ],
)
def test_seek_rows(
    results: dict[tuple[str, int], CliError | None] | None,
    headers: list[str],
    rows: list[tuple[object, ...]],
) -> None:
    assert seek_table(TARGETS, results) == (headers, rows)


def test_seek_json() -> None:
    assert seek_json(TARGETS) == {
        "executed": False,
        "partitions": [
            {"topic": "orders", "partition": 0, "current": 7, "new": 0},
            {"topic": "orders", "partition": 1, "current": None, "new": 4},
        ],
    }
    executed = seek_json(TARGETS, {("orders", 0): None, ("orders", 1): FAILED})
    assert executed["executed"] is True
    assert executed["partitions"][0]["error"] is None
    assert executed["partitions"][1]["error"] == "UNKNOWN_MEMBER_ID"


def test_delete_status_rows_name_groups() -> None:
    items = [
        ItemStatus("a"),
        ItemStatus(
            "b", CliError("NON_EMPTY_GROUP", "group 'b'", "stop the group's consumers first")
        ),
    ]
    assert status_table(items, header="GROUP") == (
        ["GROUP", "STATUS"],
        [("a", "OK"), ("b", "NON_EMPTY_GROUP: stop the group's consumers first")],
    )
    assert status_list_json(items, key="group")[0] == {"group": "a", "error": None}


@pytest.mark.parametrize(
    ("state", "name"),
    [
        ("STABLE", "Stable"),
        ("EMPTY", "Empty"),
        ("PREPARING_REBALANCING", "PreparingRebalance"),
        ("COMPLETING_REBALANCING", "CompletingRebalance"),
        ("DEAD", "Dead"),
        ("UNKNOWN", "Unknown"),
        (None, "Unknown"),
    ],
)
def test_group_state_names(state: str | None, name: str) -> None:
    assert group_state_name(SimpleNamespace(name=state) if state else None) == name


def test_group_from_description_sorts_members_and_assignments() -> None:
    tp = SimpleNamespace
    desc = SimpleNamespace(
        group_id="shop",
        state=SimpleNamespace(name="STABLE"),
        partition_assignor="range",
        coordinator=SimpleNamespace(id=3),
        members=[
            SimpleNamespace(
                member_id="m-2",
                client_id="c",
                host="/h",
                assignment=SimpleNamespace(topic_partitions=[tp(topic="b", partition=1)]),
            ),
            SimpleNamespace(
                member_id="m-1",
                client_id="c",
                host="/h",
                assignment=SimpleNamespace(
                    topic_partitions=[tp(topic="b", partition=0), tp(topic="a", partition=2)]
                ),
            ),
        ],
    )
    info = group_from_description(desc)
    assert (info.group, info.state, info.protocol, info.coordinator) == (
        "shop",
        "Stable",
        "range",
        3,
    )
    assert [m.member_id for m in info.members] == ["m-1", "m-2"]
    assert info.members[0].assignment == [("a", 2), ("b", 0)]
    dead = SimpleNamespace(
        group_id="x",
        state=SimpleNamespace(name="DEAD"),
        partition_assignor="",
        coordinator=None,
        members=[],
    )
    assert not group_from_description(dead).exists
