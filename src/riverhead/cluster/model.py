"""Cluster records as ZooKeeper stores them (Kafka's ZooKeeper-era layout, JSON bodies).

=============================================  =========  =====================================
znode                                          kind       body
=============================================  =========  =====================================
``/brokers/ids/<id>``                          ephemeral  ``{"host", "port", "rack"}``; its
                                                          creation zxid is the broker epoch
``/controller``                                ephemeral  ``{"brokerid": N}``
``/controller_epoch``                          persistent ``N``; its znode version fences
                                                          every controller write
``/brokers/topics/<T>``                        persistent ``{"topic_id", "partitions":
                                                          {"0": [1, 2, 3]}}``
``/brokers/topics/<T>/partitions/<P>/state``   persistent ``{"leader", "leader_epoch", "isr",
                                                          "controller_epoch"}``; its znode
                                                          version is the partition epoch
``/config/topics/<T>``                         persistent ``{"config": {...}}``
``/riverhead/metadata``                        persistent ``{"topics": [...]}``: the topics a
                                                          controller write changed; brokers
                                                          watch it (see ``riverhead.cluster``)
``/admin/delete_topics/<T>``                   persistent deletion request
``/riverhead/shutdown/<id>``                   persistent controlled-shutdown request
=============================================  =========  =====================================

Frozen dataclasses; pure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

NO_LEADER = -1


@dataclass(frozen=True)
class BrokerInfo:
    node_id: int
    host: str
    port: int
    epoch: int = -1  # czxid of the registration znode (KIP-380)
    rack: str | None = None
    # Every advertised listener as NAME://host:port (Kafka's "endpoints"); host/port above
    # are the inter-broker listener's (riverhead.security.listeners).
    endpoints: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        body: dict[str, object] = {"host": self.host, "port": self.port, "rack": self.rack}
        if self.endpoints:
            body["endpoints"] = list(self.endpoints)
        return json.dumps(body).encode()

    @classmethod
    def from_json(cls, node_id: int, data: bytes, epoch: int) -> BrokerInfo:
        body = json.loads(data)
        endpoints = tuple(str(e) for e in body.get("endpoints", ()))
        return cls(
            node_id, str(body["host"]), int(body["port"]), epoch, body.get("rack"), endpoints
        )


@dataclass(frozen=True)
class PartitionState:
    """Leader and ISR of one partition; ``partition_epoch`` is the state znode's version."""

    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    controller_epoch: int
    partition_epoch: int = 0

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": 1,
                "leader": self.leader,
                "leader_epoch": self.leader_epoch,
                "isr": list(self.isr),
                "controller_epoch": self.controller_epoch,
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes, partition_epoch: int) -> PartitionState:
        body = json.loads(data)
        return cls(
            int(body["leader"]),
            int(body["leader_epoch"]),
            tuple(int(b) for b in body["isr"]),
            int(body["controller_epoch"]),
            partition_epoch,
        )


@dataclass(frozen=True)
class TopicAssignment:
    name: str
    topic_id: str
    replicas: dict[int, tuple[int, ...]] = field(default_factory=dict)  # partition -> brokers

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": 3,
                "topic_id": self.topic_id,
                "partitions": {str(p): list(r) for p, r in sorted(self.replicas.items())},
            }
        ).encode()

    @classmethod
    def from_json(cls, name: str, data: bytes) -> TopicAssignment:
        body = json.loads(data)
        replicas = {int(p): tuple(int(b) for b in r) for p, r in body["partitions"].items()}
        return cls(name, str(body["topic_id"]), replicas)


@dataclass(frozen=True)
class TopicMetadata:
    """A topic as a broker's metadata cache holds it: assignment, configs, states."""

    assignment: TopicAssignment
    configs: dict[str, str]
    states: dict[int, PartitionState]


def topic_path(topic: str) -> str:
    return f"/brokers/topics/{topic}"


def state_path(topic: str, partition: int) -> str:
    return f"/brokers/topics/{topic}/partitions/{partition}/state"


def config_path(topic: str) -> str:
    return f"/config/topics/{topic}"
