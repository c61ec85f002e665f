"""Rows of the topic commands, table-driven (riverhead.cli.rows)."""

from __future__ import annotations

import pytest

from riverhead.cli.client import PartitionInfo, TopicInfo
from riverhead.cli.errors import CliError
from riverhead.cli.rows import (
    ConfigInfo,
    ItemStatus,
    OffsetRange,
    any_failed,
    config_table,
    describe_json,
    partition_table,
    status_list_json,
    status_table,
    summary_table,
    topic_list_json,
    topic_list_table,
    visible_topics,
)

pytestmark = pytest.mark.unit


def topic(name: str, partitions: int, replicas: int = 1) -> TopicInfo:
    ids = list(range(replicas))
    return TopicInfo(name, [PartitionInfo(p, 0, ids, ids) for p in range(partitions)])


TOPICS = [topic("__consumer_offsets", 50), topic("orders", 3, 2), topic("users", 1)]


@pytest.mark.parametrize(
    ("internal", "rows"),
    [
        (False, [("orders", 3, 2), ("users", 1, 1)]),
        (True, [("__consumer_offsets", 50, 1), ("orders", 3, 2), ("users", 1, 1)]),
    ],
)
def test_topic_list_rows(internal: bool, rows: list[tuple[object, ...]]) -> None:
    headers, got = topic_list_table(visible_topics(TOPICS, internal))
    assert headers == ["NAME", "PARTITIONS", "REPLICAS"]
    assert got == rows


def test_topic_list_json() -> None:
    assert topic_list_json([TOPICS[1]]) == [{"name": "orders", "partitions": 3, "replicas": 2}]


def test_partition_rows_show_leader_replicas_isr_and_offsets() -> None:
    info = TopicInfo(
        "orders",
        [
            PartitionInfo(0, 1, [1, 2], [1, 2]),
            PartitionInfo(1, -1, [2, 1], []),
        ],
    )
    headers, rows = partition_table(info, {0: OffsetRange(0, 42)})
    assert headers == [
        "PARTITION",
        "LEADER",
        "REPLICAS",
        "ISR",
        "LOG-START-OFFSET",
        "HIGH-WATERMARK",
    ]
    assert rows == [(0, 1, "1,2", "1,2", 0, 42), (1, None, "2,1", "-", None, None)]


def test_summary_rows() -> None:
    assert summary_table(TOPICS[1])[1] == [
        ("NAME", "orders"),
        ("INTERNAL", False),
        ("PARTITIONS", 3),
        ("REPLICAS", 2),
    ]


def test_config_rows_are_sorted_and_hide_sensitive_values() -> None:
    configs = [
        ConfigInfo("retention.ms", "1000", "DYNAMIC_TOPIC_CONFIG"),
        ConfigInfo("cleanup.policy", "delete", "DEFAULT_CONFIG"),
        ConfigInfo("secret", "hunter2", "DYNAMIC_TOPIC_CONFIG", sensitive=True),
    ]
    headers, rows = config_table(configs)
    assert headers == ["KEY", "VALUE", "SOURCE"]
    assert rows == [
        ("cleanup.policy", "delete", "DEFAULT_CONFIG"),
        ("retention.ms", "1000", "DYNAMIC_TOPIC_CONFIG"),
        ("secret", "(sensitive)", "DYNAMIC_TOPIC_CONFIG"),
    ]


def test_describe_json() -> None:
    doc = describe_json(
        topic("t", 2), {0: OffsetRange(0, 5), 1: OffsetRange(3, 3)}, [ConfigInfo("a", "1", "X")]
    )
    assert doc == {
        "name": "t",
        "internal": False,
        "partitions": [
            {
                "partition": 0,
                "leader": 0,
                "replicas": [0],
                "isr": [0],
                "log_start_offset": 0,
                "high_watermark": 5,
            },
            {
                "partition": 1,
                "leader": 0,
                "replicas": [0],
                "isr": [0],
                "log_start_offset": 3,
                "high_watermark": 3,
            },
        ],
        "replicas": 1,
        "configs": [{"name": "a", "value": "1", "source": "X"}],
    }
    assert describe_json(topic("t", 0), {}, None)["configs"] is None


def test_status_rows_report_each_item() -> None:
    items = [
        ItemStatus("a"),
        ItemStatus("b", CliError("TOPIC_ALREADY_EXISTS", "topic 'b' exists", "pick another")),
    ]
    assert status_table(items) == (
        ["TOPIC", "STATUS"],
        [("a", "OK"), ("b", "TOPIC_ALREADY_EXISTS: pick another")],
    )
    assert status_list_json(items) == [
        {"topic": "a", "error": None},
        {
            "topic": "b",
            "error": "TOPIC_ALREADY_EXISTS",
            "message": "topic 'b' exists",
            "hint": "pick another",
        },
    ]
    assert any_failed(items)
    assert not any_failed(items[:1])
