from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from riverhead.log import LogConfig, PartitionLog


class FakeClock:
    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def open_log(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., PartitionLog]]:
    """Open (or reopen) the log at tmp_path/"topic-0"; closed at teardown."""
    opened: list[PartitionLog] = []

    def _open(
        config: LogConfig | None = None, *, recover: bool = True, name: str = "topic-0"
    ) -> PartitionLog:
        log = PartitionLog(tmp_path / name, config or LogConfig(), recover=recover, now_ms=clock)
        opened.append(log)
        return log

    yield _open
    for log in opened:
        log.close()


def crash(log: PartitionLog) -> None:
    """Abandon ``log`` as a killed process would: no flush, no index trim, no checkpoint."""
    log._closed = True
    flusher = log._flusher
    if flusher is not None:  # a killed process has no threads left
        flusher.join()
    for seg in log.segments:
        seg.close()
