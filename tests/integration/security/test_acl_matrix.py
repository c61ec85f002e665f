"""The ACL matrix: for each resource type and operation, a principal that is allowed
(ann), one that is allowed *and* denied (dan: deny wins) and one not mentioned (nat),
checked through real clients (confluent-kafka, kafka-python, kcat; a raw client for
the inter-broker ClusterAction, which no client library sends). A super user (admin)
sets the ACLs with ``riverhead acl create`` and prepares the resources."""

from __future__ import annotations

import datetime
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import confluent_kafka
import kafka
import kafka.errors
import pytest
from confluent_kafka.admin import (
    AdminClient,
    ConfigResource,
    NewPartitions,
    NewTopic,
)
from kafka.admin import (
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePatternFilter,
    ResourceType,
)
from kio.schema.fetch.v4.request import FetchPartition, FetchTopic

from tests.integration.security.conftest import riverhead
from tests.support.broker_process import BrokerProcess, free_port
from tests.support.clients import kcat_path
from tests.support.raw_client import RawClient

pytestmark = pytest.mark.integration

USERS = ("admin", "ann", "dan", "nat")
AUTHZ_ERRORS = {
    "TOPIC_AUTHORIZATION_FAILED",
    "GROUP_AUTHORIZATION_FAILED",
    "CLUSTER_AUTHORIZATION_FAILED",
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
}


@dataclass
class AclBroker:
    proc: BrokerProcess
    bootstrap: str
    configs: dict[str, Path]  # user -> --command-config file

    def ck(self, user: str) -> dict[str, object]:
        return {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": user,
            "sasl.password": f"{user}-pw",
            "socket.timeout.ms": 5000,
        }

    def admin(self, user: str) -> AdminClient:
        return AdminClient(self.ck(user))

    def cli(self, user: str, *args: str) -> subprocess.CompletedProcess[str]:
        out = riverhead("-X", self.bootstrap, "--command-config", str(self.configs[user]), *args)
        assert out.returncode == 0, out.stdout + out.stderr
        return out


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclBroker]:
    data = tmp_path_factory.mktemp("acl-broker")
    for user in USERS:
        out = riverhead("user", "create", user, "--password", f"{user}-pw",
                        "--data-dir", str(data / "logs"))
        assert out.returncode == 0, out.stderr
    port = free_port()
    proc = BrokerProcess(data, port=port, settings={
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:admin",
        "connection.failed.authentication.delay.ms": "0",
    })
    configs = {}
    for user in USERS:
        path = data / f"{user}.properties"
        path.write_text(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"
            f"sasl.username={user}\nsasl.password={user}-pw\n"
        )
        configs[user] = path
    proc.start()
    try:
        yield AclBroker(proc, f"127.0.0.1:{port}", configs)
    finally:
        proc.stop()


def _code(exc: BaseException) -> str:
    err = exc.args[0] if exc.args else exc
    if isinstance(err, confluent_kafka.KafkaError):
        return str(err.name())
    return type(exc).__name__


def _future(f: object, _keep: object = None) -> str:
    """The outcome of an admin future (``_keep``: its client, alive until the result)."""
    try:
        f.result()  # type: ignore[attr-defined]
    except confluent_kafka.KafkaException as exc:
        return _code(exc)
    return "OK"


# ---- actions: each returns "OK" or the error name the client reported -----------------
Action = Callable[[AclBroker, str, str], str]


def produce(b: AclBroker, user: str, topic: str) -> str:
    errors: list[str] = []
    p = confluent_kafka.Producer(b.ck(user) | {"message.timeout.ms": 5000})
    p.produce(topic, b"v", on_delivery=lambda e, _m: errors.append(e.name() if e else "OK"))
    p.flush(8)
    return errors[0] if errors else "NO_REPORT"


def consume(b: AclBroker, user: str, topic: str) -> str:
    """In group ``readers``, which everybody may use: only the topic's ACLs decide."""
    c = confluent_kafka.Consumer(b.ck(user) | {
        "group.id": "readers", "enable.auto.commit": False, "auto.offset.reset": "earliest",
    })
    c.subscribe([topic])  # a topic it may not describe is reported on subscription
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            return str(msg.error().name()) if msg.error() else "OK"
        return "NO_REPORT"
    finally:
        c.close()


def describe_topic(b: AclBroker, user: str, topic: str) -> str:
    md = b.admin(user).list_topics(topic, timeout=5)
    err = md.topics[topic].error
    return "OK" if err is None else str(err.name())


def create_topic(b: AclBroker, user: str, topic: str) -> str:
    admin = b.admin(user)
    return _future(admin.create_topics([NewTopic(topic, 1)], request_timeout=5)[topic])


def delete_topic(b: AclBroker, user: str, topic: str) -> str:
    admin = b.admin(user)
    return _future(admin.delete_topics([topic], request_timeout=5)[topic])


def alter_topic(b: AclBroker, user: str, topic: str) -> str:
    admin = b.admin(user)
    futures = admin.create_partitions([NewPartitions(topic, 2)], request_timeout=5)
    return _future(futures[topic], admin)


def describe_topic_configs(b: AclBroker, user: str, topic: str) -> str:
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    admin = b.admin(user)
    return _future(admin.describe_configs([res], request_timeout=5)[res])


def alter_topic_configs(b: AclBroker, user: str, topic: str) -> str:
    entry = confluent_kafka.admin.ConfigEntry(
        "retention.ms", "60000",
        incremental_operation=confluent_kafka.admin.AlterConfigOpType.SET,
    )
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
    admin = b.admin(user)
    return _future(admin.incremental_alter_configs([res], request_timeout=5)[res])


def _kp_admin(b: AclBroker, user: str) -> kafka.KafkaAdminClient:
    return kafka.KafkaAdminClient(
        bootstrap_servers=b.bootstrap, security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=user,
        sasl_plain_password=f"{user}-pw", request_timeout_ms=5000,
    )


def _kp_error(call: Callable[[], object]) -> str:
    """kafka-python raises the broker's error as a class named after it."""
    try:
        call()
    except kafka.errors.BrokerResponseError as exc:
        return str(exc.message)
    return "OK"


def commit_group(b: AclBroker, user: str, group: str) -> str:
    """kafka-python reports a refused coordinator lookup (librdkafka retries it)."""
    c = kafka.KafkaConsumer(
        bootstrap_servers=b.bootstrap, security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=user,
        sasl_plain_password=f"{user}-pw", group_id=group, enable_auto_commit=False,
    )
    tp = kafka.TopicPartition("group-topic", 0)
    try:
        return _kp_error(lambda: c.commit({tp: kafka.OffsetAndMetadata(0, "", -1)}))
    finally:
        c.close()


def describe_group(b: AclBroker, user: str, group: str) -> str:
    admin = _kp_admin(b, user)
    try:
        return _kp_error(lambda: admin.describe_groups([group]))
    finally:
        admin.close()


def delete_group(b: AclBroker, user: str, group: str) -> str:
    admin = _kp_admin(b, user)
    try:
        result = admin.delete_groups([group])
    except kafka.errors.BrokerResponseError as exc:
        return str(exc.message)
    finally:
        admin.close()
    # {group: "OK" or an error class name}, e.g. GroupAuthorizationFailedError
    outcome = str(result[group])
    return "OK" if outcome == "OK" else getattr(kafka.errors, outcome).message


def cluster_create(b: AclBroker, user: str, _name: str) -> str:
    return create_topic(b, user, "fresh-" + uuid.uuid4().hex[:8])


def cluster_alter(b: AclBroker, user: str, _name: str) -> str:
    binding = confluent_kafka.admin.AclBinding(
        "TOPIC", "x-" + uuid.uuid4().hex[:6], "LITERAL", "User:zed", "*", "READ", "ALLOW"
    )
    admin = b.admin(user)
    futures = admin.create_acls([binding], request_timeout=5)
    return _future(next(iter(futures.values())), admin)


def cluster_describe(b: AclBroker, user: str, _name: str) -> str:
    admin = kafka.KafkaAdminClient(
        bootstrap_servers=b.bootstrap, security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=user,
        sasl_plain_password=f"{user}-pw",
    )
    try:
        admin.describe_acls(ACLFilter(None, "*", ACLOperation.ANY, ACLPermissionType.ANY,
                                      ResourcePatternFilter(ResourceType.ANY, None,
                                                            ACLResourcePatternType.ANY)))
    except kafka.errors.ClusterAuthorizationFailedError:
        return "CLUSTER_AUTHORIZATION_FAILED"
    finally:
        admin.close()
    return "OK"


def cluster_describe_configs(b: AclBroker, user: str, _name: str) -> str:
    res = ConfigResource(ConfigResource.Type.BROKER, "0")
    admin = b.admin(user)
    return _future(admin.describe_configs([res], request_timeout=5)[res])


def cluster_alter_configs(b: AclBroker, user: str, _name: str) -> str:
    entry = confluent_kafka.admin.ConfigEntry(
        "log.retention.ms", "60000",
        incremental_operation=confluent_kafka.admin.AlterConfigOpType.SET,
    )
    res = ConfigResource(ConfigResource.Type.BROKER, "0", incremental_configs=[entry])
    admin = b.admin(user)
    return _future(admin.incremental_alter_configs([res], request_timeout=5)[res])


def idempotent_write(b: AclBroker, user: str, _name: str) -> str:
    codes: list[int] = []
    p = confluent_kafka.Producer(b.ck(user) | {
        "enable.idempotence": True, "error_cb": lambda e: codes.append(e.code()),
    })
    deadline = time.monotonic() + 3
    try:
        while time.monotonic() < deadline and not codes:
            p.poll(0.2)
    except confluent_kafka.KafkaException as exc:
        codes.append(exc.args[0].code())
    fatal = [c for c in codes if c == confluent_kafka.KafkaError.CLUSTER_AUTHORIZATION_FAILED]
    return "CLUSTER_AUTHORIZATION_FAILED" if fatal else "OK"


def _sasl_raw(b: AclBroker, user: str) -> RawClient:
    raw = RawClient(b.bootstrap)
    assert int(raw.call(17, 1, mechanism="PLAIN").error_code) == 0
    assert int(raw.call(36, 0, auth_bytes=f"\0{user}\0{user}-pw".encode()).error_code) == 0
    return raw


def cluster_action(b: AclBroker, user: str, topic: str) -> str:
    """A follower's fetch (replica_id >= 0), over SASL/PLAIN by hand."""
    with _sasl_raw(b, user) as raw:
        resp = raw.call(
            1, 4, replica_id=1, max_wait=datetime.timedelta(0), min_bytes=0, max_bytes=1000,
            isolation_level=0,
            topics=(FetchTopic(topic=topic, partitions=(
                FetchPartition(partition=0, fetch_offset=0, partition_max_bytes=1000),)),),
        )
    code = int(resp.responses[0].partitions[0].error_code)
    return "TOPIC_AUTHORIZATION_FAILED" if code == 29 else "OK"


def transactional_write(b: AclBroker, user: str, txn: str) -> str:
    """InitProducerId for a transactional id (raw: clients stop at FindCoordinator, which
    answers COORDINATOR_NOT_AVAILABLE since transactions are not supported)."""
    with _sasl_raw(b, user) as raw:
        resp = raw.call(22, 0, transactional_id=txn,
                        transaction_timeout=datetime.timedelta(seconds=5))
    code = int(resp.error_code)
    return "TRANSACTIONAL_ID_AUTHORIZATION_FAILED" if code == 53 else "OK"


def transactional_id(b: AclBroker, user: str, txn: str) -> str:
    p = confluent_kafka.Producer(b.ck(user) | {"transactional.id": txn,
                                              "transaction.timeout.ms": 5000})
    try:
        p.init_transactions(4)
    except confluent_kafka.KafkaException as exc:
        return _code(exc)
    return "OK"


@dataclass(frozen=True)
class Case:
    id: str
    resource: str  # --topic/--group/--cluster/--transactional-id
    operation: str
    action: Action
    denied_error: str
    prepare: str = ""  # "topic": the super user creates the topic (with one record)


CASES = [
    Case("topic-write", "--topic", "write", produce, "TOPIC_AUTHORIZATION_FAILED", "topic"),
    Case("topic-read", "--topic", "read", consume, "TOPIC_AUTHORIZATION_FAILED", "topic"),
    Case("topic-describe", "--topic", "describe", describe_topic, "TOPIC_AUTHORIZATION_FAILED",
         "topic"),
    Case("topic-create", "--topic", "create", create_topic, "TOPIC_AUTHORIZATION_FAILED"),
    Case("topic-delete", "--topic", "delete", delete_topic, "TOPIC_AUTHORIZATION_FAILED", "topic"),
    Case("topic-alter", "--topic", "alter", alter_topic, "TOPIC_AUTHORIZATION_FAILED", "topic"),
    Case("topic-describe-configs", "--topic", "describe_configs", describe_topic_configs,
         "TOPIC_AUTHORIZATION_FAILED", "topic"),
    Case("topic-alter-configs", "--topic", "alter_configs", alter_topic_configs,
         "TOPIC_AUTHORIZATION_FAILED", "topic"),
    Case("topic-all", "--topic", "all", produce, "TOPIC_AUTHORIZATION_FAILED", "topic"),
    Case("group-read", "--group", "read", commit_group, "GROUP_AUTHORIZATION_FAILED"),
    Case("group-describe", "--group", "describe", describe_group, "GROUP_AUTHORIZATION_FAILED"),
    Case("group-delete", "--group", "delete", delete_group, "GROUP_AUTHORIZATION_FAILED"),
    Case("cluster-create", "--cluster", "create", cluster_create, "TOPIC_AUTHORIZATION_FAILED"),
    Case("cluster-alter", "--cluster", "alter", cluster_alter, "CLUSTER_AUTHORIZATION_FAILED"),
    Case("cluster-describe", "--cluster", "describe", cluster_describe,
         "CLUSTER_AUTHORIZATION_FAILED"),
    Case("cluster-describe-configs", "--cluster", "describe_configs", cluster_describe_configs,
         "CLUSTER_AUTHORIZATION_FAILED"),
    Case("cluster-alter-configs", "--cluster", "alter_configs", cluster_alter_configs,
         "CLUSTER_AUTHORIZATION_FAILED"),
    Case("cluster-idempotent-write", "--cluster", "idempotent_write", idempotent_write,
         "CLUSTER_AUTHORIZATION_FAILED"),
    Case("cluster-cluster-action", "--cluster", "cluster_action", cluster_action,
         "TOPIC_AUTHORIZATION_FAILED", "topic"),
    Case("txn-write", "--transactional-id", "write", transactional_write,
         "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"),
    Case("txn-describe", "--transactional-id", "describe", transactional_id,
         "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"),
]


@pytest.fixture(scope="module")
def prepared(acl_broker: AclBroker) -> AclBroker:
    """Topics the cases need, made by the super user; everyone may read group-topic."""
    admin = acl_broker.admin("admin")
    topics = ["group-topic", *(f"m-{c.id}" for c in CASES if c.prepare == "topic")]
    for topic, future in admin.create_topics([NewTopic(t, 1) for t in topics]).items():
        assert _future(future) == "OK", topic
    p = confluent_kafka.Producer(acl_broker.ck("admin"))
    for topic in topics:
        p.produce(topic, b"record")
    assert p.flush(10) == 0
    acl_broker.cli("admin", "acl", "create", "--allow-principal", "User:*", "-o", "read",
                   "--topic", "group-topic")
    acl_broker.cli("admin", "acl", "create", "--allow-principal", "User:*", "-o", "read",
                   "--group", "readers")
    return acl_broker


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_acl_matrix(prepared: AclBroker, case: Case) -> None:
    name = f"m-{case.id}"
    resource = [case.resource] if case.resource == "--cluster" else [case.resource, name]
    prepared.cli(
        "admin", "acl", "create", "--allow-principal", "User:ann", "--allow-principal",
        "User:dan", "--deny-principal", "User:dan", "-o", case.operation, *resource,
    )
    got = {user: case.action(prepared, user, name) for user in ("dan", "nat", "ann")}
    assert got["dan"] == case.denied_error, got  # allowed and denied: deny wins
    assert got["nat"] == case.denied_error, got  # not mentioned: denied by default
    assert got["ann"] not in AUTHZ_ERRORS, got  # allowed
    log = prepared.proc.log_path.read_text()
    assert "Principal = User:dan is Denied" in log and "Principal = User:nat is Denied" in log


def test_prefixed_acl_and_metadata_hides_undescribable_topics(prepared: AclBroker) -> None:
    admin = prepared.admin("admin")
    for topic, future in admin.create_topics(
        [NewTopic("sales-eu", 1), NewTopic("sales-us", 1), NewTopic("hr-payroll", 1)]
    ).items():
        assert _future(future) == "OK", topic
    prepared.cli("admin", "acl", "create", "--allow-principal", "User:nat", "-o", "describe",
                 "--topic", "sales-", "--pattern", "prefixed")
    visible = set(prepared.admin("nat").list_topics(timeout=5).topics)
    assert {"sales-eu", "sales-us"} <= visible
    assert "hr-payroll" not in visible and "m-topic-write" not in visible
    # kcat -L as nat sees the same.
    out = subprocess.run(
        [kcat_path(), "-b", prepared.bootstrap, "-X", "security.protocol=sasl_plaintext",
         "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=nat",
         "-X", "sasl.password=nat-pw", "-L"],
        capture_output=True, text=True, timeout=20, check=True,
    )
    assert '"sales-eu"' in out.stdout and "hr-payroll" not in out.stdout
    listed = prepared.cli("admin", "acl", "list", "--principal", "User:nat", "--format", "json")
    assert '"pattern": "PREFIXED"' in listed.stdout and '"name": "sales-"' in listed.stdout
    prepared.cli("admin", "acl", "delete", "--principal", "User:nat", "--topic", "sales-",
                 "--pattern", "prefixed")
    assert "sales-eu" not in set(prepared.admin("nat").list_topics(timeout=5).topics)


def test_super_user_needs_no_acl_and_acls_survive_a_restart(prepared: AclBroker) -> None:
    assert describe_topic(prepared, "admin", "hr-payroll") == "OK"
    before = prepared.cli("admin", "acl", "list", "--format", "json").stdout
    prepared.proc.restart()
    after = prepared.cli("admin", "acl", "list", "--format", "json").stdout
    assert before == after and "User:ann" in after
