"""Regenerate tests/golden/: request frames captured from real Kafka clients.

Starts a dedicated broker that advertises a recording proxy's address
(``advertised.listeners``), so every connection of every client goes through the proxy;
then runs a short scenario per client — confluent-kafka, kafka-python, aiokafka and kcat:
admin (create/describe/alter/partitions/delete), idempotent produce of small records,
consume by assignment, offsets — and writes one frame per (client, api key, version):
the first one seen, which keeps the set small.

Output: ``tests/golden/<client>/<api>-v<version>.bin`` (the request without its size
prefix: header + body) and ``tests/golden/index.json``, a list of
``{"client", "api_key", "api_name", "api_version", "file", "size", "trailing_bytes"}``
(``trailing_bytes``: what kio's schema leaves unconsumed, e.g. librdkafka's malformed
Metadata v9+ null-topics request, research note P5).

Usage: ``.venv/bin/python scripts/capture_golden.py`` from the repository root. Needs kcat
on PATH (skipped with a warning otherwise). Takes ~30 s.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]

from tests.support.broker_process import BrokerProcess, free_port  # noqa: E402
from tests.support.capture_proxy import CaptureProxy  # noqa: E402

from riverhead.protocol.apis import api_name  # noqa: E402

GOLDEN = REPO / "tests" / "golden"
VALUES = [f"golden-{i}".encode() for i in range(5)]  # small records keep frames small


def confluent(bootstrap: str, tag: str) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        NewPartitions,
        NewTopic,
    )

    topic, doomed = f"golden-{tag}", f"golden-{tag}-doomed"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.list_topics(timeout=10)  # Metadata with a null topic array (research P5)
    for fut in admin.create_topics([NewTopic(topic, 1, 1), NewTopic(doomed, 1, 1)]).values():
        fut.result(10)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    for fut in admin.describe_configs([res]).values():
        fut.result(10)
    alter = ConfigResource(
        ConfigResource.Type.TOPIC, topic,
        incremental_configs=[ConfigEntry("retention.ms", "86400000",
                                         incremental_operation=AlterConfigOpType.SET)],
    )
    for fut in admin.incremental_alter_configs([alter]).values():
        fut.result(10)
    for fut in admin.create_partitions([NewPartitions(doomed, 2)]).values():
        fut.result(10)
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 0})
    for v in VALUES:
        p.produce(topic, v, partition=0)
    assert p.flush(10) == 0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"golden-{tag}",
                  "enable.auto.commit": False})
    c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.assign([TopicPartition(topic, 0, 0)])
    got = 0
    deadline = time.monotonic() + 10
    while got < len(VALUES) and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and not msg.error():
            got += 1
    c.close()
    dr = admin.delete_records([TopicPartition(topic, 0, 1)])
    for fut in dr.values():
        fut.result(10)
    for fut in admin.delete_topics([doomed]).values():
        fut.result(10)


def kafka_python(bootstrap: str, tag: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions
    from kafka.admin import NewTopic as KNewTopic

    topic, doomed = f"golden-{tag}", f"golden-{tag}-doomed"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([KNewTopic(topic, 1, 1), KNewTopic(doomed, 1, 1)])
    admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    admin.create_partitions({doomed: NewPartitions(2)})
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    for v in VALUES:
        p.send(topic, v, partition=0).get(10)
    p.close()
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek(tp, 0)
    c.end_offsets([tp])
    got = 0
    deadline = time.monotonic() + 10
    while got < len(VALUES) and time.monotonic() < deadline:
        got += sum(len(v) for v in c.poll(500).values())
    c.close()
    admin.delete_topics([doomed])
    admin.close()


def aiokafka_scenario(bootstrap: str, tag: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic, doomed = f"golden-{tag}", f"golden-{tag}-doomed"

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, 1, 1), NewTopic(doomed, 1, 1)])
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await p.start()
        for v in VALUES:
            await p.send_and_wait(topic, v, partition=0)
        await p.stop()
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False)
        await c.start()
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, 0)
        await c.end_offsets([tp])
        for _ in VALUES:
            await asyncio.wait_for(c.getone(), 10)
        await c.stop()
        await admin.delete_topics([doomed])
        await admin.close()

    asyncio.run(run())


def kcat(bootstrap: str, tag: str) -> None:
    topic = f"golden-{tag}"
    if shutil.which("kcat") is None:
        print("warning: kcat not found, skipping", file=sys.stderr)
        return
    run = ["kcat", "-b", bootstrap, "-X", "api.version.request=true"]
    subprocess.run([*run, "-L"], check=True, capture_output=True, timeout=30)
    subprocess.run([*run, "-L", "-t", topic], check=True, capture_output=True, timeout=30)
    subprocess.run([*run, "-P", "-t", topic, "-p", "0"], input=b"\n".join(VALUES) + b"\n",
                   check=True, capture_output=True, timeout=30)
    subprocess.run([*run, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e"],
                   check=True, capture_output=True, timeout=30)
    subprocess.run([*run, "-Q", "-t", f"{topic}:0:0"], capture_output=True, timeout=30)


CLIENTS: list[tuple[str, Callable[[str, str], None]]] = [
    ("confluent-kafka", confluent),
    ("kafka-python", kafka_python),
    ("aiokafka", aiokafka_scenario),
    ("kcat", kcat),
]


def trailing_bytes(payload: bytes) -> int:
    """Bytes after what kio's schema consumes (0 for Produce and undecodable frames)."""
    from kio.index import load_request_schema
    from kio.serial import entity_reader

    from riverhead.protocol.frames import parse_request_header

    header = parse_request_header(payload)
    if header.api_key == 0:
        return 0
    try:
        reader = entity_reader(load_request_schema(header.api_key, header.api_version))
        _, consumed = reader(payload, header.size)
    except Exception:
        return 0
    return len(payload) - header.size - consumed


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="riverhead-golden-") as tmp:
        broker_port = free_port()
        proxy = CaptureProxy(("127.0.0.1", broker_port)).start()
        broker = BrokerProcess(
            Path(tmp) / "broker",
            port=broker_port,
            settings={"advertised.listeners": f"PLAINTEXT://{proxy.address}"},
        )
        broker.start()
        try:
            for client, scenario in CLIENTS:
                proxy.label(client)
                scenario(proxy.address, client.replace("-", ""))
                time.sleep(0.3)  # let the last requests of this client arrive
        finally:
            proxy.close()
            broker.stop()
    seen: dict[tuple[str, int, int], bytes] = {}
    for cap in proxy.frames():
        key = (cap.label, cap.api_key, cap.api_version)
        # keep the first frame, unless a later one has trailing bytes (an anomaly is
        # worth more as a golden case than another ordinary frame)
        if cap.label and (key not in seen or (
            not trailing_bytes(seen[key]) and trailing_bytes(cap.payload)
        )):
            seen[key] = cap.payload
    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    index = []
    for (client, key, version), payload in sorted(seen.items()):
        name = api_name(key).lower()
        rel = f"{client}/{name}-v{version}.bin"
        path = GOLDEN / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        index.append({"client": client, "api_key": key, "api_name": name,
                      "api_version": version, "file": rel, "size": len(payload),
                      "trailing_bytes": trailing_bytes(payload)})
    (GOLDEN / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    total = sum(e["size"] for e in index)
    print(f"wrote {len(index)} frames, {total} bytes, to {GOLDEN}")
    for e in index:
        print(f"  {e['client']:16} {e['api_name']:26} v{e['api_version']:<3} {e['size']:6} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
