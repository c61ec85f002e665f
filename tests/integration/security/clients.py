"""Produce-and-consume round trips through the four real clients with security settings.

:class:`Creds` says how a client connects (TLS files, SASL mechanism and credentials);
``round_trip(client, bootstrap, topic, creds)`` produces three records and reads them back
through a consumer group, returning the values read. ``refusal(client, ...)`` tries to
connect and returns the error the client reports (or raises if it got through).
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiokafka
import aiokafka.helpers
import confluent_kafka
import kafka
import kafka.errors

from tests.support.clients import kcat_path

CLIENTS = ("confluent", "kafka-python", "aiokafka", "kcat")
WAIT_S = 20.0
VALUES = [b"secret-0", b"secret-1", b"secret-2"]


@dataclass(frozen=True)
class Creds:
    protocol: str = "PLAINTEXT"  # SSL, SASL_PLAINTEXT, SASL_SSL
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    mechanism: str | None = None  # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    user: str | None = None
    password: str | None = None


def ck_config(bootstrap: str, c: Creds) -> dict[str, Any]:
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "security.protocol": c.protocol}
    if c.ca:
        conf["ssl.ca.location"] = str(c.ca)
    if c.cert and c.key:
        conf["ssl.certificate.location"] = str(c.cert)
        conf["ssl.key.location"] = str(c.key)
    if c.mechanism:
        conf |= {
            "sasl.mechanism": c.mechanism,
            "sasl.username": c.user,
            "sasl.password": c.password,
        }
    return conf


def kp_config(bootstrap: str, c: Creds) -> dict[str, Any]:
    conf: dict[str, Any] = {"bootstrap_servers": bootstrap, "security_protocol": c.protocol}
    if c.ca:
        conf["ssl_cafile"] = str(c.ca)
    if c.cert and c.key:
        conf["ssl_certfile"] = str(c.cert)
        conf["ssl_keyfile"] = str(c.key)
    if c.mechanism:
        conf |= {
            "sasl_mechanism": c.mechanism,
            "sasl_plain_username": c.user,
            "sasl_plain_password": c.password,
        }
    return conf


def aio_config(bootstrap: str, c: Creds) -> dict[str, Any]:
    conf: dict[str, Any] = {"bootstrap_servers": bootstrap, "security_protocol": c.protocol}
    if c.ca:
        conf["ssl_context"] = aiokafka.helpers.create_ssl_context(
            cafile=str(c.ca),
            certfile=str(c.cert) if c.cert else None,
            keyfile=str(c.key) if c.key else None,
        )
    if c.mechanism:
        conf |= {
            "sasl_mechanism": c.mechanism,
            "sasl_plain_username": c.user,
            "sasl_plain_password": c.password,
        }
    return conf


def kcat_args(bootstrap: str, c: Creds) -> list[str]:
    args = ["-b", bootstrap, "-X", f"security.protocol={c.protocol.lower()}"]
    if c.ca:
        args += ["-X", f"ssl.ca.location={c.ca}"]
    if c.cert and c.key:
        args += ["-X", f"ssl.certificate.location={c.cert}", "-X", f"ssl.key.location={c.key}"]
    if c.mechanism:
        args += [
            "-X", f"sasl.mechanisms={c.mechanism}",
            "-X", f"sasl.username={c.user}",
            "-X", f"sasl.password={c.password}",
        ]
    return args


def _group() -> str:
    return "g-" + uuid.uuid4().hex[:8]


# ---- round trips ----------------------------------------------------------------------
def round_trip(client: str, bootstrap: str, topic: str, creds: Creds) -> list[bytes]:
    return {
        "confluent": _ck_round_trip,
        "kafka-python": _kp_round_trip,
        "aiokafka": _aio_round_trip,
        "kcat": _kcat_round_trip,
    }[client](bootstrap, topic, creds)


def _ck_round_trip(bootstrap: str, topic: str, c: Creds) -> list[bytes]:
    producer = confluent_kafka.Producer(ck_config(bootstrap, c))
    failures: list[object] = []
    for v in VALUES:
        producer.produce(topic, v, on_delivery=lambda e, _m: e and failures.append(e))
    assert producer.flush(WAIT_S) == 0 and not failures, failures
    consumer = confluent_kafka.Consumer(
        ck_config(bootstrap, c) | {"group.id": _group(), "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + WAIT_S
    try:
        while len(got) < len(VALUES) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            got.append(msg.value())
    finally:
        consumer.close()
    return got


def _kp_round_trip(bootstrap: str, topic: str, c: Creds) -> list[bytes]:
    producer = kafka.KafkaProducer(**kp_config(bootstrap, c))
    try:
        for v in VALUES:
            producer.send(topic, v).get(WAIT_S)
    finally:
        producer.close()
    consumer = kafka.KafkaConsumer(
        topic,
        group_id=_group(),
        auto_offset_reset="earliest",
        consumer_timeout_ms=int(WAIT_S * 1000),
        **kp_config(bootstrap, c),
    )
    got: list[bytes] = []
    try:
        # The partitions first: kafka-python can drop a metadata-triggered rejoin's
        # assignment (docs/compatibility.md, client quirks).
        consumer.partitions_for_topic(topic)
        for msg in consumer:
            got.append(msg.value)
            if len(got) == len(VALUES):
                break
    finally:
        consumer.close()
    return got


def _aio_round_trip(bootstrap: str, topic: str, c: Creds) -> list[bytes]:
    async def run() -> list[bytes]:
        producer = aiokafka.AIOKafkaProducer(**aio_config(bootstrap, c))
        await producer.start()
        try:
            for v in VALUES:
                await producer.send_and_wait(topic, v)
        finally:
            await producer.stop()
        consumer = aiokafka.AIOKafkaConsumer(
            topic, group_id=_group(), auto_offset_reset="earliest", **aio_config(bootstrap, c)
        )
        await consumer.start()
        got: list[bytes] = []
        try:
            async with asyncio.timeout(WAIT_S):
                async for msg in consumer:
                    assert msg.value is not None
                    got.append(msg.value)
                    if len(got) == len(VALUES):
                        break
        finally:
            await consumer.stop()
        return got

    return asyncio.run(run())


def _kcat_round_trip(bootstrap: str, topic: str, c: Creds) -> list[bytes]:
    base = [kcat_path(), *kcat_args(bootstrap, c)]
    subprocess.run(
        [*base, "-P", "-t", topic],
        input=b"\n".join(VALUES) + b"\n",
        check=True,
        timeout=WAIT_S,
        capture_output=True,
    )
    out = subprocess.run(
        [*base, "-G", _group(), "-o", "beginning", "-c", str(len(VALUES)), "-e", topic],
        check=True,
        timeout=WAIT_S,
        capture_output=True,
    )
    return out.stdout.splitlines()


# ---- refusals ---------------------------------------------------------------------------
def refusal(client: str, bootstrap: str, creds: Creds) -> str:
    """Connect and ask for metadata; the error the client reports, as text."""
    return {
        "confluent": _ck_refusal,
        "kafka-python": _kp_refusal,
        "aiokafka": _aio_refusal,
        "kcat": _kcat_refusal,
    }[client](bootstrap, creds)


def _ck_refusal(bootstrap: str, c: Creds) -> str:
    errors: list[confluent_kafka.KafkaError] = []
    producer = confluent_kafka.Producer(ck_config(bootstrap, c) | {"error_cb": errors.append})
    deadline = time.monotonic() + 10
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    try:
        producer.list_topics(timeout=2)
    except confluent_kafka.KafkaException as exc:
        errors.append(exc.args[0])
    else:
        raise AssertionError("connected although it should have been refused")
    return " | ".join(f"{e.name()}: {e.str()}" for e in errors)


def _kp_refusal(bootstrap: str, c: Creds) -> str:
    try:
        admin = kafka.KafkaAdminClient(
            request_timeout_ms=5000,
            reconnect_backoff_max_ms=500,
            bootstrap_timeout_ms=5000,
            **kp_config(bootstrap, c),
        )
    except (kafka.errors.KafkaError, ssl.SSLError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    admin.close()
    raise AssertionError("connected although it should have been refused")


def _aio_refusal(bootstrap: str, c: Creds) -> str:
    async def run() -> str:
        producer = aiokafka.AIOKafkaProducer(request_timeout_ms=5000, **aio_config(bootstrap, c))
        try:
            await producer.start()
        except (aiokafka.errors.KafkaError, ssl.SSLError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            await producer.stop()
        raise AssertionError("connected although it should have been refused")

    return asyncio.run(run())


def _kcat_refusal(bootstrap: str, c: Creds) -> str:
    out = subprocess.run(
        [kcat_path(), *kcat_args(bootstrap, c), "-L", "-m", "5"],
        timeout=WAIT_S,
        capture_output=True,
    )
    assert out.returncode != 0, out.stdout
    return out.stderr.decode(errors="replace")
