"""The narrow interface between Riverhead and ZooKeeper (through kazoo).

Everything the cluster keeps in ZooKeeper goes through :class:`ZkStore`; the znode layout
is in :mod:`riverhead.cluster.model`. Two kinds of writes:

* **Any broker** registers itself (an ephemeral node whose creation zxid is its broker
  epoch), writes new topic assignments (as Kafka's admin path did) and files deletion and
  controlled-shutdown requests.
* **The controller** writes partition states. Every such write is one ZooKeeper
  transaction that starts with ``check(/controller_epoch, version)`` (Kafka's KAFKA-6082
  fencing): a deposed controller — kazoo keeps running its code for seconds after its
  session expired — fails atomically with :class:`ControllerMoved` and changes nothing.
  The same transaction bumps ``/riverhead/metadata`` with the names of the topics it
  changed, which every broker watches.

Thread-safe: kazoo's client is; watch callbacks run on kazoo's event thread and must
only hand work off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
)
from kazoo.protocol.states import ZnodeStat

from riverhead.cluster.model import (
    BrokerInfo,
    PartitionState,
    TopicAssignment,
    config_path,
    state_path,
    topic_path,
)

log = logging.getLogger("riverhead.cluster")

BROKERS = "/brokers/ids"
TOPICS = "/brokers/topics"
CONTROLLER = "/controller"
CONTROLLER_EPOCH = "/controller_epoch"
METADATA = "/riverhead/metadata"
DELETE_TOPICS = "/admin/delete_topics"
SHUTDOWN = "/riverhead/shutdown"
PARTITION_CHANGES = "/admin/partition_changes"
PREFERRED = "/admin/preferred_replica_election"


class ControllerMoved(Exception):
    """A fenced write failed: this broker is no longer the controller (or lost a race)."""


class TopicExists(Exception):
    pass


class StateChanged(Exception):
    """A compare-and-set on a partition state lost: its znode version moved on."""


@dataclass(frozen=True)
class ControllerLease:
    """Proof of controllership: the epoch and the ``/controller_epoch`` znode version."""

    broker_id: int
    epoch: int
    zk_version: int


class ZkStore:
    def __init__(self, connect: str, session_timeout_ms: int) -> None:
        self.client = KazooClient(
            hosts=connect,
            timeout=session_timeout_ms / 1000.0,
            connection_retry={"max_tries": -1, "max_delay": 1.0},
            command_retry={"max_tries": 3, "max_delay": 1.0},
        )
        self._session_listeners: list[Callable[[str], None]] = []
        self._started = False
        self.client.add_listener(self._on_state)

    # ---- life cycle -------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> None:
        """Connect and create the fixed znodes (idempotent)."""
        if self._started:
            return
        self._started = True
        self.client.start(timeout=timeout)
        for path in (BROKERS, TOPICS, "/config/topics", DELETE_TOPICS, SHUTDOWN, PARTITION_CHANGES):
            self.client.ensure_path(path)
        for path, value in ((CONTROLLER_EPOCH, b"0"), (METADATA, b'{"topics": []}')):
            with contextlib.suppress(NodeExistsError):
                self.client.create(path, value, makepath=True)

    def stop(self) -> None:
        """Close the session (ephemeral nodes go at once) and the connection."""
        try:
            self.client.stop()
            self.client.close()
        except Exception as exc:  # already gone: nothing left to release
            log.debug("closing the ZooKeeper client: %s", exc)

    def on_session_event(self, callback: Callable[[str], None]) -> None:
        """``callback("SUSPENDED" | "LOST" | "CONNECTED")`` on kazoo's thread."""
        self._session_listeners.append(callback)

    def _on_state(self, state: str) -> None:
        name = {KazooState.SUSPENDED: "SUSPENDED", KazooState.LOST: "LOST"}.get(state, "CONNECTED")
        for callback in self._session_listeners:
            callback(name)

    # ---- brokers ----------------------------------------------------------------------
    def register_broker(self, info: BrokerInfo, wait_s: float) -> int:
        """Create ``/brokers/ids/<id>``; returns the broker epoch (the node's czxid).

        After a kill -9 the previous incarnation's node lives until its session expires:
        wait up to ``wait_s`` for it to go, as Kafka does.
        """
        path = f"{BROKERS}/{info.node_id}"
        deadline = time.monotonic() + wait_s
        while True:
            try:
                created = self.client.create(path, info.to_json(), ephemeral=True)
                _, stat = self.client.get(created)
                return int(stat.czxid)
            except NodeExistsError:
                if time.monotonic() > deadline:
                    raise
                log.info("broker id %d is still registered (old session): waiting", info.node_id)
                time.sleep(0.25)

    def live_brokers(self) -> dict[int, BrokerInfo]:
        out: dict[int, BrokerInfo] = {}
        for child in self.client.get_children(BROKERS):
            try:
                data, stat = self.client.get(f"{BROKERS}/{child}")
            except NoNodeError:
                continue
            out[int(child)] = BrokerInfo.from_json(int(child), data, int(stat.czxid))
        return out

    def watch_brokers(self, callback: Callable[[], None]) -> None:
        self.client.ChildrenWatch(BROKERS, lambda _children: callback())

    # ---- controller -------------------------------------------------------------------
    def controller_id(self) -> int:
        try:
            data, _ = self.client.get(CONTROLLER)
        except NoNodeError:
            return -1
        return int(json.loads(data)["brokerid"])

    def watch_controller(self, callback: Callable[[], None]) -> None:
        self.client.DataWatch(CONTROLLER, lambda _data, _stat: callback())

    def try_become_controller(self, broker_id: int) -> ControllerLease | None:
        """Kafka's ``registerControllerAndIncrementControllerEpoch`` as one transaction:
        create the ephemeral ``/controller`` and bump ``/controller_epoch`` by CAS."""
        data, stat = self.client.get(CONTROLLER_EPOCH)
        epoch = int(data) + 1
        txn = self.client.transaction()
        body = json.dumps({"version": 2, "brokerid": broker_id, "timestamp": time.time()})
        txn.create(CONTROLLER, body.encode(), ephemeral=True)
        txn.set_data(CONTROLLER_EPOCH, str(epoch).encode(), version=stat.version)
        results = txn.commit()
        if any(isinstance(r, Exception) for r in results):
            return None
        return ControllerLease(broker_id, epoch, stat.version + 1)

    def resign(self, lease: ControllerLease) -> None:
        txn = self.client.transaction()
        txn.check(CONTROLLER_EPOCH, lease.zk_version)
        txn.delete(CONTROLLER)
        txn.commit()

    def fenced(
        self, lease: ControllerLease, ops: Callable[[Any], None], changed_topics: list[str]
    ) -> list[Any]:
        """Run controller writes as one transaction guarded by the controller epoch.

        ``ops(txn)`` adds the writes. Raises :class:`ControllerMoved` if the epoch check
        failed, :class:`StateChanged` if another versioned write in it lost.
        """
        txn = self.client.transaction()
        txn.check(CONTROLLER_EPOCH, lease.zk_version)
        ops(txn)
        notice = json.dumps({"topics": sorted(set(changed_topics))}).encode()
        txn.set_data(METADATA, notice)
        results = txn.commit()
        if results and isinstance(results[0], (BadVersionError, NoNodeError)):
            raise ControllerMoved(f"controller epoch {lease.epoch} is no longer current")
        failures = [r for r in results if isinstance(r, Exception)]
        real = [r for r in failures if not isinstance(r, RolledBackError)]
        if real:
            raise StateChanged(f"controller write rolled back: {real[0]!r}")
        return list(results)

    # ---- topics -----------------------------------------------------------------------
    def create_topic(self, assignment: TopicAssignment, configs: dict[str, str]) -> None:
        """Write a new topic's assignment and configs (any broker; the controller reacts)."""
        txn = self.client.transaction()
        txn.create(config_path(assignment.name), json.dumps({"config": configs}).encode())
        txn.create(topic_path(assignment.name), assignment.to_json())
        results = txn.commit()
        if any(isinstance(r, NodeExistsError) for r in results):
            raise TopicExists(assignment.name)
        failures = [r for r in results if isinstance(r, Exception)]
        if failures:
            raise failures[0]

    def add_partitions(self, topic: str, new: dict[int, tuple[int, ...]]) -> None:
        """Add partitions to a topic's assignment (CAS on the znode) and ask the controller
        to give them states. Raises :class:`StateChanged` if the topic changed meanwhile."""
        data, stat = self.client.get(topic_path(topic))
        assignment = TopicAssignment.from_json(topic, data)
        merged = TopicAssignment(topic, assignment.topic_id, {**assignment.replicas, **new})
        txn = self.client.transaction()
        txn.set_data(topic_path(topic), merged.to_json(), version=stat.version)
        txn.create(f"{PARTITION_CHANGES}/{topic}-", b"", sequence=True)
        results = txn.commit()
        if any(isinstance(r, Exception) for r in results):
            raise StateChanged(f"topic {topic!r} changed while adding partitions")

    def partition_change_requests(self) -> list[str]:
        return sorted(self.client.get_children(PARTITION_CHANGES))

    def watch_partition_changes(self, callback: Callable[[], None]) -> None:
        self.client.ChildrenWatch(PARTITION_CHANGES, lambda _children: callback())

    def set_topic_configs(self, topic: str, configs: dict[str, str]) -> None:
        """Write a topic's configs and tell every broker (a notice needs no fencing)."""
        txn = self.client.transaction()
        txn.set_data(config_path(topic), json.dumps({"config": configs}).encode())
        txn.set_data(METADATA, json.dumps({"topics": [topic]}).encode())
        txn.commit()

    def topics(self) -> list[str]:
        return sorted(self.client.get_children(TOPICS))

    def watch_topics(self, callback: Callable[[list[str]], None]) -> None:
        self.client.ChildrenWatch(TOPICS, lambda children: callback(sorted(children)))

    def read_assignment(self, topic: str) -> TopicAssignment | None:
        try:
            data, _ = self.client.get(topic_path(topic))
        except NoNodeError:
            return None
        return TopicAssignment.from_json(topic, data)

    def read_configs(self, topic: str) -> dict[str, str]:
        try:
            data, _ = self.client.get(config_path(topic))
        except NoNodeError:
            return {}
        return {str(k): str(v) for k, v in json.loads(data).get("config", {}).items()}

    def read_state(self, topic: str, partition: int) -> PartitionState | None:
        try:
            data, stat = self.client.get(state_path(topic, partition))
        except NoNodeError:
            return None
        return PartitionState.from_json(data, int(stat.version))

    # ---- requests to the controller ---------------------------------------------------
    def request_delete(self, topic: str) -> None:
        with contextlib.suppress(NodeExistsError):
            self.client.create(f"{DELETE_TOPICS}/{topic}", b"")

    def delete_requests(self) -> list[str]:
        return sorted(self.client.get_children(DELETE_TOPICS))

    def watch_delete_requests(self, callback: Callable[[], None]) -> None:
        self.client.ChildrenWatch(DELETE_TOPICS, lambda _children: callback())

    def request_shutdown(self, broker_id: int, broker_epoch: int) -> str:
        path = f"{SHUTDOWN}/{broker_id}"
        try:
            self.client.create(path, str(broker_epoch).encode())
        except NodeExistsError:
            self.client.set(path, str(broker_epoch).encode())
        return path

    def shutdown_requests(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for child in self.client.get_children(SHUTDOWN):
            try:
                data, _ = self.client.get(f"{SHUTDOWN}/{child}")
            except NoNodeError:
                continue
            out[int(child)] = int(data or b"-1")
        return out

    def watch_shutdown_requests(self, callback: Callable[[], None]) -> None:
        self.client.ChildrenWatch(SHUTDOWN, lambda _children: callback())

    def allocate_producer_ids(self, count: int) -> int:
        """Reserve ``count`` producer ids cluster-wide (CAS on ``/latest_producer_id_block``,
        as Kafka's ZooKeeper mode did); returns the first."""
        path = "/latest_producer_id_block"
        while True:
            try:
                data, stat = self.client.get(path)
            except NoNodeError:
                try:
                    self.client.create(path, json.dumps({"end": count}).encode(), makepath=True)
                    return 0
                except NodeExistsError:
                    continue
            start = int(json.loads(data)["end"])
            try:
                self.client.set(path, json.dumps({"end": start + count}).encode(), stat.version)
                return start
            except BadVersionError:
                continue

    def cluster_id(self, proposed: str) -> str:
        """The cluster id kept in ``/cluster/id`` (the first broker's proposal wins)."""
        with contextlib.suppress(NodeExistsError):
            self.client.create("/cluster/id", proposed.encode(), makepath=True)
        data, _ = self.client.get("/cluster/id")
        return bytes(data).decode()

    def exists(self, path: str) -> bool:
        return self.client.exists(path) is not None

    # ---- metadata notices -------------------------------------------------------------
    def watch_metadata(self, callback: Callable[[list[str] | None, int], None]) -> None:
        """``callback(changed topics, version)`` after each controller write. Versions
        may skip (ZooKeeper watches coalesce): a gap means "re-read everything"."""

        def on_change(data: bytes | None, stat: ZnodeStat | None) -> None:
            if data is None or stat is None:
                return
            try:
                topics = [str(t) for t in json.loads(data).get("topics", [])]
            except ValueError:
                topics = None
            callback(topics, int(stat.version))

        self.client.DataWatch(METADATA, on_change)
