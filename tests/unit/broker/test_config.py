from __future__ import annotations

from pathlib import Path

import pytest

from riverhead.broker.config import BrokerConfig, ConfigError, env_overrides, parse_properties

pytestmark = pytest.mark.unit


def test_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    props = tmp_path / "server.properties"
    props.write_text("# comment\nnum.partitions=2\nlog.dirs = /a\nlog.segment.bytes: 4096\n")
    config = BrokerConfig.load(
        props,
        overrides={"num.partitions": "5"},
        environ={"RIVERHEAD_LOG_DIRS": "/b", "RIVERHEAD_NUM_PARTITIONS": "3"},
    )
    assert config.get_int("num.partitions") == 5
    assert config.log_dirs == [Path("/b")]
    assert config.get_int("log.segment.bytes") == 4096
    assert config.sources["num.partitions"] == "flag"
    assert config.sources["log.segment.bytes"] == f"file:{props}"


def test_unknown_key_names_the_closest_one() -> None:
    with pytest.raises(ConfigError, match=r"log\.retention\.hours"):
        BrokerConfig.load(overrides={"log.retention.hour": "1"}, environ={})


def test_tool_variables_are_not_config_keys() -> None:
    assert env_overrides({"RIVERHEAD_LOG_LEVEL": "DEBUG", "RIVERHEAD_BROKERS": "x"}) == {}
    assert env_overrides({"RIVERHEAD_MESSAGE_MAX__BYTES": "1"}) == {"message.max_bytes": "1"}


def test_retention_precedence_ms_over_minutes_over_hours() -> None:
    base = {"log.retention.hours": "2"}
    assert BrokerConfig.load(overrides=base, environ={}).log_defaults().retention_ms == 7_200_000
    with_minutes = {**base, "log.retention.minutes": "3"}
    assert (
        BrokerConfig.load(overrides=with_minutes, environ={}).log_defaults().retention_ms == 180_000
    )
    with_ms = {**with_minutes, "log.retention.ms": "5"}
    assert BrokerConfig.load(overrides=with_ms, environ={}).log_defaults().retention_ms == 5


@pytest.mark.parametrize(
    "overrides",
    [
        {"listeners": "127.0.0.1:9092"},
        {"num.partitions": "x"},
        {"num.partitions": "0"},
        {"log.message.timestamp.type": "Now"},
    ],
)
def test_bad_values_are_one_line_errors(overrides: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        BrokerConfig.load(overrides=overrides, environ={})
    assert "\n" not in str(info.value)


def test_properties_continuation_lines() -> None:
    assert parse_properties("a=1,\\\n  2\n!x\nb : c") == {"a": "1,2", "b": "c"}


def test_advertised_listener_replaces_wildcard_host() -> None:
    config = BrokerConfig.load(overrides={"listeners": "PLAINTEXT://0.0.0.0:9999"}, environ={})
    assert str(config.advertised_listeners[0]) == "PLAINTEXT://127.0.0.1:9999"
