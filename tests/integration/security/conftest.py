"""A broker with every kind of listener, and the test PKI it uses.

Listeners (one broker per test session): PLAINTEXT, SSL (server certificate only), MTLS
(SSL with ``ssl.client.auth=required``), SASL_PLAINTEXT and SASL_SSL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.security.pki import Pki, make_pki
from tests.support.broker_process import BrokerProcess, free_port

LISTENERS = ("PLAINTEXT", "SSL", "MTLS", "SASL_PLAINTEXT", "SASL_SSL")
ALICE = ("alice", "alice-secret")  # SCRAM-SHA-256 and SCRAM-SHA-512 credentials


def riverhead(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``riverhead`` CLI (a real process), returning its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERHEAD_")}
    return subprocess.run(
        [sys.executable, "-m", "riverhead", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@dataclass
class SecureBroker:
    proc: BrokerProcess
    ports: dict[str, int]
    pki: Pki

    def bootstrap(self, listener: str) -> str:
        return f"127.0.0.1:{self.ports[listener]}"

    def log(self) -> str:
        return self.proc.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def listener_settings(pki: Pki, ports: dict[str, int]) -> dict[str, str]:
    return {
        "listeners": ",".join(f"{name}://127.0.0.1:{port}" for name, port in ports.items()),
        "listener.security.protocol.map": (
            "PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"
        ),
        "ssl.keystore.location": str(pki.server),
        "ssl.truststore.location": str(pki.ca),
        "listener.name.mtls.ssl.client.auth": "required",
    }


@pytest.fixture(scope="session")
def secure_broker(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[SecureBroker]:
    ports = {name: free_port() for name in LISTENERS}
    data_dir = tmp_path_factory.mktemp("secure-broker")
    proc = BrokerProcess(data_dir, port=ports["PLAINTEXT"], settings=listener_settings(pki, ports))
    # The first users are created offline, in the broker's own store, before it starts.
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        out = riverhead(
            "user", "create", ALICE[0], "--password-stdin", "-m", mechanism,
            "--data-dir", str(data_dir / "logs"), stdin=ALICE[1] + "\n",
        )
        assert out.returncode == 0, out.stderr
    proc.start()
    try:
        yield SecureBroker(proc, ports, pki)
    finally:
        proc.stop()


