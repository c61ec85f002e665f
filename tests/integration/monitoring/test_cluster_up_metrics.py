"""`riverhead cluster up --metrics-base-port`: every broker of a development cluster serves
/metrics on a known port, and `cluster health` passes on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.broker_process import free_port
from tests.support.clients import wait_until
from tests.support.metrics import scrape, value

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def riverhead(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "riverhead", *args], capture_output=True, text=True, timeout=120
    )


def test_cluster_up_serves_metrics_on_known_ports(tmp_path: Path) -> None:
    # Two consecutive free ports from each base are likely but not certain: retry.
    for _ in range(3):
        base, zk, metrics = free_port(), free_port(), free_port()
        up = riverhead(
            "cluster",
            "up",
            "--brokers",
            "2",
            "--base-port",
            str(base),
            "--zk-port",
            str(zk),
            "--metrics-base-port",
            str(metrics),
            "--dir",
            str(tmp_path),
        )
        if "PORT_IN_USE" not in up.stderr:
            break
    assert up.returncode == 0, up.stderr
    try:
        urls = [f"http://127.0.0.1:{metrics + i}" for i in range(2)]
        assert "metrics: " + ", ".join(f"{u}/metrics" for u in urls) in up.stdout
        # `cluster up` returns once the brokers answer; the controller election may still
        # be under way, so wait for it (a quorum of one controller, never two).
        def controllers() -> list[float]:
            return sorted(value(scrape(u), "riverhead_active_controller") for u in urls)

        wait_until(lambda: sum(controllers()) >= 1, "a controller elected", 30.0)
        assert controllers() == [0, 1]
        health = riverhead("-X", f"127.0.0.1:{base}", "cluster", "health", "--expect-brokers", "2")
        assert health.returncode == 0, health.stdout + health.stderr
        assert f"ready ({urls[0]}/v1/status/ready)" in health.stdout
    finally:
        down = riverhead("cluster", "down", "--dir", str(tmp_path))
        assert down.returncode == 0, down.stderr
