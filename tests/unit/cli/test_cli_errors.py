"""Kafka client errors as CLI errors (riverhead.cli.errors)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from riverhead.cli.errors import BROKER_HINT, CliError, from_kafka_error, hint_for

pytestmark = pytest.mark.unit


def test_broker_error_uses_kafka_name_not_librdkafka_abbreviation() -> None:
    err = from_kafka_error(KafkaError(3), "h:1", "topic 'x'")
    assert err.name == "UNKNOWN_TOPIC_OR_PARTITION"  # librdkafka says UNKNOWN_TOPIC_OR_PART
    assert err.message == "topic 'x': unknown topic or partition"
    assert err.hint


def test_exception_is_unwrapped_and_broker_message_kept() -> None:
    exc = KafkaException(KafkaError(36, "Topic 'x' already exists."))
    err = from_kafka_error(exc, "h:1", "topic 'x'")
    hint = hint_for("TOPIC_ALREADY_EXISTS", 36)
    assert err == CliError("TOPIC_ALREADY_EXISTS", "topic 'x': Topic 'x' already exists.", hint)


@pytest.mark.parametrize("code", [KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN])
def test_unreachable_broker_gets_the_start_hint(code: int) -> None:
    err = from_kafka_error(KafkaError(code), "127.0.0.1:9", "x")
    assert err == CliError("BROKER_NOT_AVAILABLE", "cannot connect to 127.0.0.1:9", BROKER_HINT)
    assert "riverhead broker start" in BROKER_HINT


def test_local_timeout_is_request_timed_out() -> None:
    err = from_kafka_error(KafkaError(KafkaError._TIMED_OUT), "h:1")
    assert err.name == "REQUEST_TIMED_OUT"
    assert err.hint


def test_other_local_errors_drop_the_underscore() -> None:
    assert from_kafka_error(KafkaError(KafkaError._INVALID_ARG), "h:1").name == "INVALID_ARG"


def test_hints_fall_back_to_the_cli_table() -> None:
    assert hint_for("BROKER_NOT_AVAILABLE") == BROKER_HINT
    assert hint_for("NO_SUCH_THING") is None
