"""`riverhead console` start-up errors are one line with a hint."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "riverhead", *args], capture_output=True, text=True, timeout=60
    )


def test_a_taken_port_is_refused(broker: BrokerProcess) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = _console("-X", broker.bootstrap, "console", "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: PORT_IN_USE: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(hint: pick another --port)"
    )


def test_no_broker_is_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    done = _console("console", "--brokers", f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert done.stderr.startswith("error: BROKER_NOT_AVAILABLE: ")
