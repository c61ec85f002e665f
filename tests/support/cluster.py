"""A real Riverhead cluster for tests: one ZooKeeper and N broker processes on loopback.

Timeouts are scaled down so faults resolve in seconds (ZooKeeper tick 500 ms, session
``session_ms``, ``replica.lag.time.max.ms`` 2 s, follower long-poll 100 ms). Brokers are
:class:`BrokerProcess` es with ids 1..N; everything is stopped by PID.

With ``proxied=True`` every broker is reached through a :class:`FaultProxy` (it
advertises the proxy's port, so clients and peers all go through it) and reaches
ZooKeeper through one of its own: :meth:`Cluster.isolate` cuts a broker off from
ZooKeeper and from everyone who would connect to it, without privileges.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from riverhead.cluster.zkserver import ZooKeeperServer
from tests.support.broker_process import BrokerProcess, free_port
from tests.support.proxy import FaultProxy


@dataclass
class Cluster:
    root: Path
    size: int = 3
    session_ms: int = 3000
    settings: dict[str, str] = field(default_factory=dict)
    proxied: bool = False
    zk: ZooKeeperServer | None = None
    brokers: dict[int, BrokerProcess] = field(default_factory=dict)
    proxies: dict[int, FaultProxy] = field(default_factory=dict)  # in front of each broker
    zk_proxies: dict[int, FaultProxy] = field(default_factory=dict)  # each broker's way to ZK

    def start(self) -> Cluster:
        self.zk = ZooKeeperServer(self.root / "zk", free_port()).start()
        for node in range(1, self.size + 1):
            extra: dict[str, str] = {}
            port = free_port()
            connect = self.zk.connect
            if self.proxied:
                self.proxies[node] = FaultProxy(port)
                self.zk_proxies[node] = FaultProxy(self.zk.port)
                extra["advertised.listeners"] = f"PLAINTEXT://{self.proxies[node].address}"
                connect = self.zk_proxies[node].address
            self.brokers[node] = BrokerProcess(
                self.root / f"broker-{node}",
                port=port,
                settings={
                    "broker.id": str(node),
                    "zookeeper.connect": connect,
                    "zookeeper.session.timeout.ms": str(self.session_ms),
                    "replica.lag.time.max.ms": "2000",
                    "replica.fetch.wait.max.ms": "100",
                    "default.replication.factor": str(min(3, self.size)),
                    "offsets.topic.num.partitions": "4",
                    **extra,
                    **self.settings,
                },
            )
        for proc in self.brokers.values():
            proc.start()
        self.wait_for_brokers(self.size)
        return self

    def stop(self) -> None:
        for proc in self.brokers.values():
            proc.kill()
        if self.zk is not None:
            self.zk.stop()
        for proxy in [*self.proxies.values(), *self.zk_proxies.values()]:
            proxy.close()

    def isolate(self, node: int) -> None:
        """Cut ``node`` off from ZooKeeper, from every client and peer reaching it, and
        from the peers it reaches (its fetchers and its requests to the controller)."""
        self.zk_proxies[node].partition()
        self.proxies[node].partition()
        for other, proxy in self.proxies.items():
            if other != node:
                proxy.block_clients({f"replica-{node}", f"broker-{node}"})

    def heal(self, node: int) -> None:
        self.zk_proxies[node].heal()
        for proxy in self.proxies.values():
            proxy.heal()

    @property
    def bootstrap(self) -> str:
        return ",".join(
            self.proxies[n].address if self.proxied else p.bootstrap
            for n, p in self.brokers.items()
            if p.proc and p.proc.poll() is None
        )

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap})

    def metadata(self, timeout: float = 5.0) -> Any:
        return self.admin().list_topics(timeout=timeout)

    def wait_for_brokers(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                md = self.metadata()
                last = md
                if len(md.brokers) == count and md.controller_id > 0:
                    return
            except Exception as exc:  # broker still starting
                last = exc
            time.sleep(0.2)
        raise TimeoutError(f"cluster did not reach {count} brokers: {last}")

    def partition(self, topic: str, index: int = 0) -> Any:
        return self.metadata().topics[topic].partitions[index]

    def leader(self, topic: str, index: int = 0) -> int:
        return int(self.partition(topic, index).leader)

    def wait_until(self, predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except Exception:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"timed out waiting for {what}")

    def wait_for_isr(self, topic: str, size: int, index: int = 0, timeout: float = 30.0) -> None:
        self.wait_until(
            lambda: len(self.partition(topic, index).isrs) == size,
            timeout,
            f"{topic}-{index} ISR of {size}",
        )
