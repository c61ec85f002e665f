"""A broker's membership in a ZooKeeper-coordinated cluster.

:class:`ClusterNode` registers the broker (ephemeral ``/brokers/ids/<id>``, whose
creation zxid is the broker epoch), runs for controller whenever ``/controller`` is empty,
keeps the broker's :class:`MetadataCache` in step with ZooKeeper, and feeds partition
states to the :class:`~riverhead.cluster.replicas.ReplicaManager`.

Metadata flow (Kafka 4's pull model over ZooKeeper): the controller's fenced
transactions also rewrite ``/riverhead/metadata`` with the topics they touched; each
broker watches it and re-reads those topics (all topics if it missed a version, as
watches coalesce). So a broker learns its role from exactly the records the controller
committed, with the controller and leader epochs inside; stale epochs are ignored by the
replica manager. Kafka 4 removed the LeaderAndIsr/UpdateMetadata RPCs from its protocol,
and kio (our schema library) follows Kafka 4, so the push RPCs are not used.

Session events: on SUSPENDED the controller (if this broker is it) stops acting at once
(Curator's advice; its writes are fenced anyway); after a LOST session the broker
re-registers with a new epoch and reloads everything.

Thread-safety: watch callbacks only queue work for the node's own thread.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from riverhead.cluster.alter_partition import decode_results, encode_request
from riverhead.cluster.channel import Channel, ChannelError
from riverhead.cluster.controller import Controller, IsrChange, IsrResult
from riverhead.cluster.election import assign_replicas
from riverhead.cluster.model import BrokerInfo, PartitionState, TopicAssignment, TopicMetadata
from riverhead.cluster.replicas import ReplicaHost, ReplicaManager, ReplicaSettings
from riverhead.cluster.zk import TopicExists, ZkStore
from riverhead.logging_setup import event
from riverhead.protocol.errors import ErrorCode

log = logging.getLogger("riverhead.cluster")

__all__ = ["ClusterNode", "ClusterSettings", "MetadataCache", "TopicExists"]


@dataclass
class ClusterSettings:
    connect: str
    session_timeout_ms: int = 18_000
    unclean_election: bool = False
    preferred_interval_s: float = 300.0
    auto_leader_rebalance: bool = True
    controlled_shutdown: bool = True
    replica: ReplicaSettings = field(default_factory=ReplicaSettings)


class MetadataCache:
    """Live brokers, controller and every topic's state; replaced wholesale (lock-free reads)."""

    def __init__(self) -> None:
        self.brokers: dict[int, BrokerInfo] = {}
        self.controller_id = -1
        self.topics: dict[str, TopicMetadata] = {}
        self.version = -1
        self.changed = threading.Condition()

    def topic(self, name: str) -> TopicMetadata | None:
        return self.topics.get(name)

    def state(self, topic: str, index: int) -> PartitionState | None:
        meta = self.topics.get(topic)
        return meta.states.get(index) if meta is not None else None

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def touch(self) -> None:
        with self.changed:
            self.changed.notify_all()


class ClusterNode:
    def __init__(self, node_id: int, settings: ClusterSettings, host: ReplicaHost) -> None:
        self.node_id = node_id
        self.settings = settings
        self.store = ZkStore(settings.connect, settings.session_timeout_ms)
        self.metadata = MetadataCache()
        self.broker_epoch = -1
        self.info: BrokerInfo | None = None
        self.controller: Controller | None = None
        self.replicas = ReplicaManager(
            node_id, host, settings.replica, self.endpoint, self._send_alter_partition
        )
        self._work: queue.Queue[tuple[str, object]] = queue.Queue()
        self._running = False
        self._thread = threading.Thread(target=self._run, name="riverhead-cluster", daemon=True)
        self._controller_channel: Channel | None = None
        self._lost = False  # the ZooKeeper session expired: register again on reconnect
        self._channel_lock = threading.Lock()

    # ---- life cycle -------------------------------------------------------------------
    def start(self, host: str, port: int, endpoints: tuple[str, ...] = ()) -> None:
        self.info = BrokerInfo(self.node_id, host, port, endpoints=endpoints)
        self.store.start()
        self.store.on_session_event(lambda s: self._work.put(("session", s)))
        self._register()
        self._running = True
        self.replicas.start()
        self._reload_all()
        self._thread.start()
        self.store.watch_brokers(lambda: self._work.put(("brokers", None)))
        self.store.watch_controller(lambda: self._work.put(("controller", None)))
        self.store.watch_metadata(
            lambda topics, version: self._work.put(("metadata", (topics, version)))
        )

    def _register(self) -> None:
        assert self.info is not None
        wait = self.settings.session_timeout_ms / 1000.0 + 5.0
        self.broker_epoch = self.store.register_broker(self.info, wait)
        self.info = dataclasses.replace(self.info, epoch=self.broker_epoch)
        log.info("registered broker %d with epoch %d", self.node_id, self.broker_epoch)

    def stop(self) -> None:
        """Controlled shutdown (if enabled), then leave: close the ZooKeeper session."""
        if not self._running:
            return
        if self.settings.controlled_shutdown:
            self._controlled_shutdown(timeout=10.0)
        self._running = False
        self._work.put(("stop", None))
        if self.controller is not None:
            # Hand the role over now, not when the session closes after the fetchers stop.
            self.controller.stop()
            try:
                self.store.resign(self.controller.lease)
            except Exception as exc:  # deposed already: nothing to hand over
                log.info("resigning as controller: %s", exc)
        self.replicas.stop()
        self.store.stop()
        self._thread.join(timeout=5)

    def _controlled_shutdown(self, timeout: float) -> None:
        started = time.monotonic()
        try:
            path = self.store.request_shutdown(self.node_id, self.broker_epoch)
            deadline = started + timeout
            while self.store.exists(path) and time.monotonic() < deadline:
                time.sleep(0.02)
            # Wait until this broker's metadata shows it leads nothing that can move.
            self.metadata.wait_for(
                self._leads_nothing_movable, max(0.0, deadline - time.monotonic())
            )
        except Exception as exc:
            log.warning("controlled shutdown incomplete: %s", exc)
        log.info("controlled shutdown took %.3f s", time.monotonic() - started)

    def _leads_nothing_movable(self) -> bool:
        for meta in list(self.metadata.topics.values()):
            for st in meta.states.values():
                if st.leader == self.node_id and any(b != self.node_id for b in st.isr):
                    return False
        return True

    # ---- the node's thread ------------------------------------------------------------
    def _run(self) -> None:
        self._work.put(("controller", None))
        while self._running:
            kind, payload = self._work.get()
            if kind == "stop":
                return
            try:
                if kind == "session":
                    self._on_session(str(payload))
                elif kind == "brokers":
                    self.metadata.brokers = self.store.live_brokers()
                    self.metadata.touch()
                elif kind == "controller":
                    self._on_controller_change()
                elif kind == "metadata":
                    topics, version = cast(tuple[list[str] | None, int], payload)
                    self._on_metadata(topics, version)
            except Exception:
                log.exception("cluster event %s failed", kind)
                time.sleep(0.2)
                if kind in ("metadata", "controller"):
                    self._work.put((kind, payload))

    def _on_session(self, event: str) -> None:
        if event in ("SUSPENDED", "LOST") and self.controller is not None:
            log.warning("ZooKeeper session %s: stopping controller work", event.lower())
            self.controller.stop()
        if event == "LOST":
            self._lost = True
        elif event == "CONNECTED" and self._lost:
            self._lost = False
            log.warning("ZooKeeper session was lost: registering again")
            self._register()
            self._reload_all()
            self._work.put(("controller", None))

    def _on_controller_change(self) -> None:
        current = self.store.controller_id()
        self.metadata.controller_id = current
        if current == -1 and self._running:
            lease = self.store.try_become_controller(self.node_id)
            if lease is not None:
                log.info(
                    "broker %d is the controller (epoch %d)",
                    self.node_id,
                    lease.epoch,
                    extra=event("controller_elected", broker=self.node_id, epoch=lease.epoch),
                )
                interval = (
                    self.settings.preferred_interval_s
                    if self.settings.auto_leader_rebalance
                    else float("inf")
                )
                self.controller = Controller(
                    self.store,
                    lease,
                    unclean=self.settings.unclean_election,
                    preferred_interval_s=min(interval, 1e9),
                    on_resign=lambda: self._work.put(("controller", None)),
                )
                self.controller.start()
                self.metadata.controller_id = self.node_id
        elif current != self.node_id and self.controller is not None:
            self.controller.stop()
            self.controller = None
        self.metadata.touch()

    def _on_metadata(self, topics: list[str] | None, version: int) -> None:
        gap = version != self.metadata.version + 1
        self.metadata.version = max(version, self.metadata.version)
        if topics is None or gap:
            self._reload_all()
        else:
            for topic in topics:
                self._reload_topic(topic)
        self.metadata.touch()

    def _reload_all(self) -> None:
        self.metadata.brokers = self.store.live_brokers()
        self.metadata.controller_id = self.store.controller_id()
        names = set(self.store.topics())
        for gone in set(self.metadata.topics) - names:
            self._reload_topic(gone)
        for name in sorted(names):
            self._reload_topic(name)
        self.metadata.touch()

    def _reload_topic(self, topic: str) -> None:
        assignment = self.store.read_assignment(topic)
        if assignment is None:
            topics = dict(self.metadata.topics)
            existed = topics.pop(topic, None) is not None
            self.metadata.topics = topics
            if existed:
                self.replicas.apply(topic, None)
            return
        states = {}
        for index in assignment.replicas:
            state = self.store.read_state(topic, index)
            if state is not None:
                states[index] = state
        meta = TopicMetadata(assignment, self.store.read_configs(topic), states)
        self.metadata.topics = {**self.metadata.topics, topic: meta}
        self.replicas.apply(topic, meta)

    # ---- services for the broker ------------------------------------------------------
    def endpoint(self, broker_id: int) -> tuple[str, int] | None:
        info = self.metadata.brokers.get(broker_id)
        return (info.host, info.port) if info is not None else None

    def create_topic(
        self, name: str, partitions: int, replication_factor: int, configs: dict[str, str]
    ) -> TopicAssignment:
        """Write the assignment (raises TopicExists, AssignmentError)."""
        live = sorted(self.store.live_brokers())
        start = uuid.uuid4().int % max(len(live), 1)
        replicas = assign_replicas(live, partitions, replication_factor, start)
        assignment = TopicAssignment(name, str(uuid.uuid4()), replicas)
        self.store.create_topic(assignment, configs)
        return assignment

    def add_partitions(self, name: str, count: int) -> None:
        """Grow a topic to ``count`` partitions (raises StateChanged, AssignmentError)."""
        meta = self.metadata.topics[name]
        current = len(meta.assignment.replicas)
        rf = len(next(iter(meta.assignment.replicas.values())))
        live = sorted(self.store.live_brokers())
        spread = assign_replicas(live, count, rf, uuid.uuid4().int % max(len(live), 1))
        self.store.add_partitions(name, {p: spread[p] for p in range(current, count)})

    def wait_for_leaders(self, name: str, timeout: float) -> bool:
        def ready() -> bool:
            meta = self.metadata.topics.get(name)
            return meta is not None and len(meta.states) == len(meta.assignment.replicas)

        return self.metadata.wait_for(ready, timeout)

    def wait_for_partitions(self, name: str, count: int, timeout: float) -> bool:
        def ready() -> bool:
            meta = self.metadata.topics.get(name)
            return meta is not None and len(meta.states) >= count

        return self.metadata.wait_for(ready, timeout)

    def delete_topic(self, name: str, timeout: float) -> bool:
        self.store.request_delete(name)
        return self.metadata.wait_for(lambda: name not in self.metadata.topics, timeout)

    def _send_alter_partition(self, changes: list[IsrChange]) -> list[IsrResult]:
        controller = self.controller
        if controller is not None and controller.active:
            return controller.alter_partition(self.node_id, self.broker_epoch, changes).result(10)
        target = self.metadata.controller_id
        endpoint = self.endpoint(target)
        if endpoint is None:
            return [IsrResult(ErrorCode.NOT_CONTROLLER) for _ in changes]
        with self._channel_lock:
            channel = self._controller_channel
            if channel is None or channel.address != endpoint:
                if channel is not None:
                    channel.close()
                channel = Channel(endpoint[0], endpoint[1], f"broker-{self.node_id}", 10.0)
                self._controller_channel = channel
            topic_ids = {
                name: meta.assignment.topic_id for name, meta in self.metadata.topics.items()
            }
            try:
                response = channel.request(
                    56, 2, encode_request(self.node_id, self.broker_epoch, changes, topic_ids)
                )
            except ChannelError as exc:
                log.info("AlterPartition to controller %d failed: %s", target, exc)
                return [IsrResult(ErrorCode.NOT_CONTROLLER) for _ in changes]
        names = {meta.assignment.topic_id: name for name, meta in self.metadata.topics.items()}
        return decode_results(response, changes, names)
