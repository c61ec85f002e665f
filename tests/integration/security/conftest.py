"""A broker with every kind of listener, and the test PKI it uses.

Listeners (one broker per test session): PLAINTEXT, SSL (server certificate only), MTLS
(SSL with ``ssl.client.auth=required``), SASL_PLAINTEXT and SASL_SSL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.security.pki import Pki, make_pki
from tests.support.broker_process import BrokerProcess, free_port

LISTENERS = ("PLAINTEXT", "SSL", "MTLS")


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
    proc = BrokerProcess(
        tmp_path_factory.mktemp("secure-broker"),
        port=ports["PLAINTEXT"],
        settings=listener_settings(pki, ports),
    )
    proc.start()
    try:
        yield SecureBroker(proc, ports, pki)
    finally:
        proc.stop()


