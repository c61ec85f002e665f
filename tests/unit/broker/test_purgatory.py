from __future__ import annotations

import threading
import time

import pytest

from riverhead.broker.purgatory import DelayedOperation, Purgatory

pytestmark = pytest.mark.unit


class Op(DelayedOperation):
    def __init__(self, deadline: float, keys: list[str]) -> None:
        super().__init__(deadline, keys)
        self.available = False
        self.completions = 0
        self.event = threading.Event()

    def ready(self) -> bool:
        return self.available

    def on_complete(self) -> None:
        self.completions += 1
        self.event.set()


def test_notify_completes_ready_watchers_once() -> None:
    purgatory = Purgatory()
    op = Op(time.monotonic() + 60, ["a", "b"])
    purgatory.watch(op)
    purgatory.notify("a")
    assert op.completions == 0
    op.available = True
    purgatory.notify("b")
    purgatory.notify("a")
    assert op.completions == 1
    assert "a" not in purgatory._watchers and "b" not in purgatory._watchers


def test_deadline_completes_operation() -> None:
    purgatory = Purgatory()
    purgatory.start()
    try:
        op = Op(time.monotonic() + 0.05, ["k"])
        purgatory.watch(op)
        assert op.event.wait(5)
        assert op.completions == 1
    finally:
        purgatory.stop()


def test_watch_completes_at_once_when_already_ready() -> None:
    purgatory = Purgatory()
    op = Op(time.monotonic() + 60, ["k"])
    op.available = True
    purgatory.watch(op)
    assert op.completions == 1


def test_racing_completions_run_on_complete_once() -> None:
    op = Op(time.monotonic(), ["k"])
    op.available = True
    threads = [threading.Thread(target=op.complete_once) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert op.completions == 1
