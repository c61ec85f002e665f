"""LogManager: loading dirs, topic names with dashes and dots, create, delete, shutdown."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from riverhead.log import CLEAN_SHUTDOWN_FILE, LogConfig, LogManager
from riverhead.log.manager import parse_partition_dir

from .batches import batch_of_size, build_batch
from .conftest import FakeClock

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("orders-0", ("orders", 0)),
        ("my.topic-with-dashes-12", ("my.topic-with-dashes", 12)),
        ("__consumer_offsets-49", ("__consumer_offsets", 49)),
        ("nodash", None),
        ("topic-x", None),
        ("-3", None),
    ],
)
def test_parse_partition_dir(name: str, expected: tuple[str, int] | None) -> None:
    assert parse_partition_dir(name) == expected


def test_create_load_and_clean_shutdown(tmp_path: Path, clock: FakeClock) -> None:
    dirs = [tmp_path / "a", tmp_path / "b"]
    manager = LogManager(dirs, LogConfig(), now_ms=clock)
    logs = [manager.create("my.topic-x", p, LogConfig()) for p in range(4)]
    assert manager.create("my.topic-x", 0, LogConfig()) is logs[0]  # idempotent
    assert sorted(len(list(d.iterdir())) for d in dirs) == [2, 2]  # balanced
    for p, log in enumerate(logs):
        log.append(build_batch([b"v"] * (p + 1)), leader_epoch=0)
    manager.shutdown()
    assert all((d / CLEAN_SHUTDOWN_FILE).exists() for d in dirs)

    manager = LogManager(dirs, LogConfig(), now_ms=clock)
    assert not any((d / CLEAN_SHUTDOWN_FILE).exists() for d in dirs)
    assert sorted(manager.partitions()) == [("my.topic-x", p) for p in range(4)]
    for p in range(4):
        loaded = manager.get("my.topic-x", p)
        assert loaded is not None and loaded.log_end_offset == p + 1
        assert loaded.recovered_bytes_truncated == 0
    assert manager.get("nope", 0) is None
    manager.shutdown()


def test_unclean_start_recovers(tmp_path: Path, clock: FakeClock) -> None:
    manager = LogManager([tmp_path], LogConfig(), now_ms=clock)
    log = manager.create("t", 0, LogConfig())
    log.append(build_batch([b"v"] * 3), leader_epoch=0)
    log.close()  # closed, but no marker: the next start recovers
    path = log.segments[-1].log_path
    with path.open("ab") as f:
        f.write(b"junk")
    manager = LogManager([tmp_path], LogConfig(), now_ms=clock)
    log2 = manager.get("t", 0)
    assert log2 is not None and log2.recovered_bytes_truncated == 4
    assert log2.log_end_offset == 3
    manager.shutdown()


def test_delete_topic_and_leftovers(tmp_path: Path, clock: FakeClock) -> None:
    manager = LogManager([tmp_path], LogConfig(), now_ms=clock)
    for p in range(2):
        manager.create("doomed-topic", p, LogConfig())
    manager.create("kept", 0, LogConfig())
    manager.delete_topic("doomed-topic")
    assert sorted(manager.partitions()) == [("kept", 0)]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["kept-0"]
    manager.shutdown()
    (tmp_path / "gone-0.0123abcd-delete").mkdir()  # a crash during a delete
    (tmp_path / "not a partition").mkdir()
    manager = LogManager([tmp_path], LogConfig(), now_ms=clock)
    assert not (tmp_path / "gone-0.0123abcd-delete").exists()
    assert sorted(manager.partitions()) == [("kept", 0)]
    manager.shutdown()


def test_set_topic_config_and_background_retention(tmp_path: Path) -> None:
    manager = LogManager([tmp_path], LogConfig())
    log = manager.create("t", 0, LogConfig(segment_bytes=300))
    for _ in range(5):
        log.append(batch_of_size(1, 200), leader_epoch=0)
    assert log.segment_count == 5
    manager.set_topic_config(
        "t", LogConfig(segment_bytes=300, retention_bytes=0, file_delete_delay_ms=0)
    )
    manager.start(retention_check_interval_ms=10, flush_scheduler_interval_ms=10)
    deadline = time.monotonic() + 5
    while log.segment_count > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    manager.shutdown()
    # every segment expires by size, the active one too (as in Kafka): an empty one is left
    assert log.segment_count == 1 and log.log_start_offset == 5


def test_duplicate_partition_across_dirs_is_an_error(tmp_path: Path) -> None:
    for d in ("a", "b"):
        (tmp_path / d / "t-0").mkdir(parents=True)
    with pytest.raises(RuntimeError, match="found in both"):
        LogManager([tmp_path / "a", tmp_path / "b"], LogConfig())
