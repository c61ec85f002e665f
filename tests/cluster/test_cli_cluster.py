"""`riverhead cluster up|status|info|down` against real processes on free ports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.broker_process import free_port

pytestmark = pytest.mark.cluster


def riverhead(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "riverhead", *args], capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_cluster_up_info_down(tmp_path: Path) -> None:
    base, zk = free_port(), free_port()
    # Three consecutive free ports from `base` are likely but not certain: retry once.
    up = riverhead(
        "cluster",
        "up",
        "--brokers",
        "3",
        "--base-port",
        str(base),
        "--zk-port",
        str(zk),
        "--dir",
        str(tmp_path),
        check=False,
    )
    if up.returncode != 0 and "PORT_IN_USE" in up.stderr:
        base = free_port()
        up = riverhead(
            "cluster",
            "up",
            "--brokers",
            "3",
            "--base-port",
            str(base),
            "--zk-port",
            str(zk),
            "--dir",
            str(tmp_path),
        )
    assert up.returncode == 0, up.stderr
    try:
        bootstrap = f"127.0.0.1:{base}"
        assert f"bootstrap: 127.0.0.1:{base},127.0.0.1:{base + 1},127.0.0.1:{base + 2}" in up.stdout
        riverhead("-X", bootstrap, "topic", "create", "orders", "-p", "2", "-r", "3")
        info = json.loads(riverhead("-X", bootstrap, "cluster", "info", "--format", "json").stdout)
        assert sorted(b["id"] for b in info["brokers"]) == [1, 2, 3]
        assert info["controller"] in (1, 2, 3)
        orders = [p for p in info["partitions"] if p["topic"] == "orders"]
        assert len(orders) == 2
        for p in orders:
            assert sorted(p["replicas"]) == [1, 2, 3] and sorted(p["isr"]) == [1, 2, 3]
            assert p["leader"] in p["replicas"] and p["high_watermark"] == 0
            assert set(p["replica_lag"].values()) == {0}
        status = riverhead("cluster", "status", "--dir", str(tmp_path))
        assert status.stdout.count("running") == 4
        again = riverhead("cluster", "up", "--dir", str(tmp_path), check=False)
        assert again.returncode == 1 and "CLUSTER_RUNNING" in again.stderr
    finally:
        riverhead("cluster", "down", "--dir", str(tmp_path))
    gone = riverhead("cluster", "status", "--dir", str(tmp_path), check=False)
    assert gone.returncode == 1 and "NO_CLUSTER" in gone.stderr
