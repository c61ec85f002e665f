from __future__ import annotations

import errno
from pathlib import Path

import pytest

from riverhead.broker.config import BrokerConfig
from riverhead.broker.state import BrokerState
from riverhead.log.manager import LogManager
from riverhead.protocol.errors import ErrorCode

pytestmark = pytest.mark.unit


def make_state(tmp_path: Path) -> BrokerState:
    return BrokerState(BrokerConfig.load(overrides={"log.dirs": str(tmp_path)}, environ={}))


def test_creation_failing_midway_is_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = make_state(tmp_path)
    real_create = LogManager.create
    calls = {"n": 0}

    def flaky_create(self: LogManager, topic: str, partition: int, config: object) -> object:
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(errno.EMFILE, "Too many open files")
        return real_create(self, topic, partition, config)  # type: ignore[arg-type]

    monkeypatch.setattr(LogManager, "create", flaky_create)
    result = state.create_topic("half", 6, {})
    assert result.error == ErrorCode.UNKNOWN_SERVER_ERROR
    assert "open-file limit" in (result.message or "")
    assert state.topics.get("half") is None
    assert not [k for k in state.partitions if k[0] == "half"]
    assert not list(tmp_path.glob("half-*"))
    monkeypatch.setattr(LogManager, "create", real_create)
    assert state.create_topic("half", 2, {}).ok  # the name is free again


def test_partitions_beyond_the_open_file_budget_are_refused_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = make_state(tmp_path)
    monkeypatch.setattr("riverhead.broker.state.open_file_budget", lambda: 10)
    result = state.create_topic("big", 11, {})
    assert result.error == ErrorCode.INVALID_PARTITIONS
    assert "ulimit" in (result.message or "")
    assert not list(tmp_path.glob("big-*"))
    assert state.create_topic("small", 10, {}).ok
    assert state.add_partitions("small", 21, validate_only=False).error == (
        ErrorCode.INVALID_PARTITIONS
    )
