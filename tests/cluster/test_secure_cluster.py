"""A 3-broker cluster whose brokers replicate over an authenticated, encrypted listener
(INTERNAL = SASL_SSL with SCRAM-SHA-512) while clients use PLAINTEXT: Metadata and
FindCoordinator answer each client's own listener, followers fetch over INTERNAL
(acks=all needs them in the ISR), and each broker logs the peers it authenticated."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from riverhead.cluster.zkserver import ZooKeeperServer
from tests.integration.security.conftest import riverhead
from tests.integration.security.pki import Pki, make_pki
from tests.support.broker_process import BrokerProcess, free_port

pytestmark = pytest.mark.cluster

JAAS = (
    "org.apache.kafka.common.security.scram.ScramLoginModule required "
    'username="broker" password="broker-secret";'
)

# brokers, INTERNAL port per node, the PKI, ZooKeeper's address
SecureCluster = tuple[list[BrokerProcess], dict[int, int], Pki, str]


@pytest.fixture
def secure_cluster(tmp_path: Path) -> Iterator[SecureCluster]:
    pki = make_pki(tmp_path / "pki")
    zk = ZooKeeperServer(tmp_path / "zk", free_port()).start()
    brokers: list[BrokerProcess] = []
    internal: dict[int, int] = {}
    try:
        # The brokers' own user, in ZooKeeper where every broker reads it.
        out = riverhead("user", "create", "broker", "--password", "broker-secret",
                        "--zookeeper", zk.connect)
        assert out.returncode == 0, out.stderr
        for node in (1, 2, 3):
            data = tmp_path / f"broker-{node}"
            port, internal[node] = free_port(), free_port()
            brokers.append(BrokerProcess(data, port=port, settings={
                "broker.id": str(node),
                "zookeeper.connect": zk.connect,
                "zookeeper.session.timeout.ms": "3000",
                "replica.lag.time.max.ms": "2000",
                "replica.fetch.wait.max.ms": "100",
                "default.replication.factor": "3",
                "offsets.topic.num.partitions": "4",
                "listeners": f"PLAINTEXT://127.0.0.1:{port},INTERNAL://127.0.0.1:{internal[node]}",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL",
                "inter.broker.listener.name": "INTERNAL",
                "ssl.keystore.location": str(pki.server),
                "ssl.truststore.location": str(pki.ca),
                "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
                "listener.name.internal.scram-sha-512.sasl.jaas.config": JAAS,
                # ACLs in ZooKeeper; resources without ACLs stay open to PLAINTEXT clients
                "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
                "super.users": "User:broker",
                "allow.everyone.if.no.acl.found": "true",
            }))
        for b in brokers:
            b.start()
        yield brokers, internal, pki, zk.connect
    finally:
        for b in brokers:
            b.kill()
        zk.stop()


def test_replication_over_sasl_ssl(
    secure_cluster: SecureCluster, tmp_path: Path
) -> None:
    brokers, internal, pki, zk_connect = secure_cluster
    bootstrap = ",".join(b.bootstrap for b in brokers)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        md = admin.list_topics(timeout=5)
        if len(md.brokers) == 3 and md.controller_id > 0:
            break
        time.sleep(0.2)
    clients_ports = {b.port for b in brokers}
    advertised = {b.port for b in md.brokers.values()}
    assert advertised == clients_ports and not advertised & set(internal.values())
    topic = "secure-" + uuid.uuid4().hex[:6]
    admin.create_topics([NewTopic(topic, 1, 3)])[topic].result(timeout=20)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # followers caught up over SASL_SSL
        part = admin.list_topics(topic, timeout=5).topics[topic].partitions.get(0)
        if part is not None and len(part.isrs) == 3:
            break
        time.sleep(0.2)
    assert part is not None and len(part.isrs) == 3, part
    p = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(50):
        p.produce(topic, f"v{i}".encode())
    assert p.flush(30) == 0
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "g",
                                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])  # FindCoordinator must answer the PLAINTEXT endpoint
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(got) < 50 and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg.value())
    c.close()
    assert sorted(got) == sorted(f"v{i}".encode() for i in range(50))
    # A user created through broker 1 (AlterUserScramCredentials) logs in on broker 3:
    # the credentials live in ZooKeeper.
    props = tmp_path / "admin.properties"
    props.write_text(
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=broker\n"
        f"sasl.password=broker-secret\nssl.ca.location={pki.ca}\n"
    )
    out = riverhead("-X", f"127.0.0.1:{internal[1]}", "--command-config", str(props),
                    "user", "create", "alice", "--password", "alice-pw")
    assert out.returncode == 0, out.stderr
    listed = riverhead("user", "list", "--zookeeper", zk_connect, "--format", "json")
    assert '"user": "alice"' in listed.stdout, listed.stdout + listed.stderr
    alice = AdminClient({
        "bootstrap.servers": f"127.0.0.1:{internal[3]}", "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(pki.ca), "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "alice", "sasl.password": "alice-pw",
    })
    assert topic in alice.list_topics(timeout=10).topics
    # An ACL created through broker 1 applies on broker 3 (shared through ZooKeeper).
    out = riverhead("-X", f"127.0.0.1:{internal[1]}", "--command-config", str(props),
                    "acl", "create", "--deny-principal", "User:alice", "-o", "describe",
                    "--topic", topic)
    assert out.returncode == 0, out.stdout + out.stderr
    deadline = time.monotonic() + 15
    while topic in alice.list_topics(timeout=10).topics and time.monotonic() < deadline:
        time.sleep(0.2)
    assert topic not in alice.list_topics(timeout=10).topics
    logs = "".join(b.log_path.read_text() for b in brokers)
    assert "authenticated User:alice via SCRAM-SHA-512 on INTERNAL" in logs
    assert "authenticated User:broker via SCRAM-SHA-512 on INTERNAL" in logs
    assert "broker-secret" not in logs
