"""What security costs: produce/consume throughput over PLAINTEXT, SSL and SASL_SSL
(SCRAM-SHA-512), and with encryption at rest on vs off — all in one run, same machine.

Two broker processes: one with three listeners (PLAINTEXT, SSL, SASL_SSL) and one with
``log.encryption.key.file`` set (PLAINTEXT). For each configuration: produce N records of
1 KiB with confluent-kafka (linger.ms=5, large batches, acks=1, no compression), then
consume them back (assign, offset 0), timed; MB/s counts record value bytes (10**6 B).
Ratios are against PLAINTEXT on the unencrypted broker, measured in the same run. Client
and brokers share the machine's CPUs; take the best of ``--rounds``.

    python benchmarks/security_throughput.py            # 200,000 records per case
    python benchmarks/security_throughput.py --quick    # 50,000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: F401  (puts the repository on sys.path)
from confluent_kafka import Consumer, Producer, TopicPartition
from tests.integration.security.pki import make_pki
from tests.support.broker_process import BrokerProcess, free_port

SIZE = 1024


def produce(conf: dict[str, Any], topic: str, n: int) -> float:
    p = Producer(conf | {"linger.ms": 5, "batch.size": 1_000_000, "acks": 1,
                         "queue.buffering.max.messages": 2_000_000,
                         "queue.buffering.max.kbytes": 2_000_000})
    value = os.urandom(SIZE)
    start = time.perf_counter()
    for _ in range(n):
        while True:
            try:
                p.produce(topic, value)
                break
            except BufferError:
                p.poll(0.01)
    assert p.flush(120) == 0
    return time.perf_counter() - start


def consume(conf: dict[str, Any], topic: str, n: int) -> float:
    c = Consumer(conf | {"group.id": "bench", "enable.auto.commit": False,
                         "fetch.max.bytes": 50 << 20, "max.partition.fetch.bytes": 50 << 20,
                         "queued.max.messages.kbytes": 2_000_000})
    start = time.perf_counter()
    c.assign([TopicPartition(topic, 0, 0)])
    got = 0
    while got < n:
        for msg in c.consume(10_000, 1.0):
            assert msg.error() is None, msg.error()
            got += 1
    elapsed = time.perf_counter() - start
    c.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    n = 50_000 if args.quick else args.records
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pki = make_pki(root / "pki")
        data = root / "secure"
        subprocess.run(
            [sys.executable, "-m", "riverhead", "user", "create", "bench", "--password", "pw",
             "--data-dir", str(data / "logs")], check=True, capture_output=True,
        )
        ports = {name: free_port() for name in ("PLAINTEXT", "SSL", "SASL_SSL")}
        secure = BrokerProcess(data, port=ports["PLAINTEXT"], settings={
            "listeners": ",".join(f"{k}://127.0.0.1:{v}" for k, v in ports.items()),
            "ssl.keystore.location": str(pki.server),
        })
        key = root / "key"
        key.write_bytes(os.urandom(32))
        encrypted = BrokerProcess(root / "enc", settings={"log.encryption.key.file": str(key)})
        secure.start()
        encrypted.start()
        try:
            base = {"bootstrap.servers": ""}
            cases: dict[str, dict[str, Any]] = {
                "PLAINTEXT": base | {"bootstrap.servers": f"127.0.0.1:{ports['PLAINTEXT']}"},
                "SSL": base | {"bootstrap.servers": f"127.0.0.1:{ports['SSL']}",
                               "security.protocol": "SSL", "ssl.ca.location": str(pki.ca)},
                "SASL_SSL (SCRAM-SHA-512)": base | {
                    "bootstrap.servers": f"127.0.0.1:{ports['SASL_SSL']}",
                    "security.protocol": "SASL_SSL", "ssl.ca.location": str(pki.ca),
                    "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "bench",
                    "sasl.password": "pw"},
                "encryption at rest (PLAINTEXT)": base | {"bootstrap.servers": encrypted.bootstrap},
            }
            results: dict[str, tuple[float, float]] = {}
            for name, conf in cases.items():
                best_p = best_c = float("inf")
                for r in range(args.rounds):
                    topic = f"bench-{abs(hash(name)) % 10_000}-{r}"
                    best_p = min(best_p, produce(conf, topic, n))
                    best_c = min(best_c, consume(conf, topic, n))
                results[name] = (best_p, best_c)
        finally:
            secure.stop()
            encrypted.stop()
    mb = n * SIZE / 1e6
    base_p, base_c = results["PLAINTEXT"]
    print(f"{n:,} records x {SIZE} B, best of {args.rounds} rounds")
    head = f"{'produce MB/s':>13} {'ratio':>6} {'consume MB/s':>13} {'ratio':>6}"
    print(f"{'configuration':34} {head}")
    for name, (p, c) in results.items():
        print(f"{name:34} {mb / p:13.1f} {base_p / p:6.2f} {mb / c:13.1f} {base_c / c:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
