"""The broker's state shared by every handler: config, topics, partitions, purgatory.

:class:`BrokerState` owns the :class:`~riverhead.log.manager.LogManager`, the topic
registry and the served :class:`~riverhead.broker.partition.Partition` objects. Topic
changes (create, delete, add partitions, alter configs) are serialised by ``admin_lock``;
lookups of a partition are lock-free dictionary reads (safe under CPython), so the
produce/fetch paths never wait for an admin operation.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from riverhead.broker.config import BrokerConfig
from riverhead.broker.groups.coordinator import GroupCoordinator
from riverhead.broker.groups.store import TOPIC as OFFSETS_TOPIC
from riverhead.broker.groups.store import OffsetStore
from riverhead.broker.metrics import BrokerMetrics
from riverhead.broker.partition import Partition
from riverhead.broker.producer_state import SNAPSHOT_FILE, take_snapshots, write_snapshots
from riverhead.broker.purgatory import Purgatory
from riverhead.broker.topics import TopicInfo, TopicRegistry, topic_name_error
from riverhead.cluster.election import AssignmentError
from riverhead.cluster.model import TopicMetadata
from riverhead.cluster.node import ClusterNode, ClusterSettings, TopicExists
from riverhead.cluster.replicas import ReplicaSettings
from riverhead.cluster.zk import StateChanged
from riverhead.log.config import TOPIC_CONFIGS, InvalidConfig, LogConfig
from riverhead.log.manager import LogManager
from riverhead.logging_setup import event
from riverhead.protocol.errors import ErrorCode
from riverhead.security.manager import SecurityManager

log = logging.getLogger("riverhead.broker")


FILES_PER_PARTITION = 1  # the active segment's .log; indexes hold no fd (riverhead.log)
# Kept free: connections and housekeeping, plus the log's shared cache of read fds for
# rolled segments (riverhead.log.files, up to 1000 process-wide).
FILE_RESERVE = 256 + 1000


def open_file_budget() -> int:
    """How many more files this process may open, keeping :data:`FILE_RESERVE` free."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        return soft
    return soft - in_use - FILE_RESERVE


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class AdminResult:
    error: ErrorCode = ErrorCode.NONE
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.error == ErrorCode.NONE


class BrokerState:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.node_id = config.broker_id
        self.defaults = config.log_defaults()
        dirs = config.log_dirs
        self.topics = TopicRegistry(dirs[0], config.get("cluster.id"))
        self.logs = LogManager(dirs, self.defaults)
        self.partitions: dict[tuple[str, int], Partition] = {}
        self.log_configs: dict[str, LogConfig] = {}  # effective config of each topic
        self.purgatory = Purgatory()
        self.metrics: BrokerMetrics | None = None  # set by the server when metrics are on
        self.admin_lock = threading.RLock()
        self.auto_create = config.get_bool("auto.create.topics.enable")
        self.default_partitions = config.get_int("num.partitions")
        self.snapshot_path = dirs[0] / SNAPSHOT_FILE
        self.security = SecurityManager(config, dirs[0])  # credentials, SASL, authorizer
        self.cluster: ClusterNode | None = None
        self._snapshots: dict[str, dict[str, Any]] = {}
        if config.get("zookeeper.connect"):
            self.cluster = ClusterNode(self.node_id, cluster_settings(config), self)
            self.security.use_zookeeper(self.cluster.store.client)  # shared SCRAM users
            self.topics.allocate_block = self.cluster.store.allocate_producer_ids
            self._snapshots = take_snapshots(self.snapshot_path)
        else:
            self._load()
        self.groups = GroupCoordinator(
            OffsetStore(self, config.get_int("offsets.topic.num.partitions")),
            initial_rebalance_delay_ms=config.get_int("group.initial.rebalance.delay.ms"),
            offsets_retention_ms=config.get_int("offsets.retention.minutes") * 60_000,
            topic_exists=lambda topic, index: (topic, index) in self.partitions,
        )
        if self.cluster is None:
            self.groups.load()
        else:
            self.groups.owned = set()  # groups follow __consumer_offsets leadership

    def _load(self) -> None:
        snapshots = take_snapshots(self.snapshot_path)
        known = self.topics.all()
        names = {t.name for t in known}
        for (topic, _), _log in list(self.logs.partitions().items()):
            if topic not in names:
                log.warning("deleting partition directories of unknown topic %s", topic)
                self.logs.delete_topic(topic)
        for info in known:
            config = self.log_config(info)
            self.log_configs[info.name] = config
            self.logs.set_topic_config(info.name, config)
            for index in range(info.partitions):
                self._open_partition(
                    info.name, index, config, snapshots.get(f"{info.name}-{index}")
                )
        log.info("loaded %d topics, %d partitions", len(known), len(self.partitions))

    def _open_partition(
        self, topic: str, index: int, config: LogConfig, snapshot: dict[str, Any] | None = None
    ) -> Partition:
        plog = self.logs.get(topic, index) or self.logs.create(topic, index, config)
        self.security.encrypt_at_rest(plog, topic, index, config.cleanup_policy)
        part = Partition(
            topic, index, plog, snapshot, node_id=self.node_id, replicated=self.cluster is not None
        )
        self.partitions[(topic, index)] = part
        return part

    @staticmethod
    def _file_budget_error(new_partitions: int) -> AdminResult | None:
        needed = new_partitions * FILES_PER_PARTITION
        budget = open_file_budget()
        if needed <= budget:
            return None
        return AdminResult(
            ErrorCode.INVALID_PARTITIONS,
            f"{new_partitions} new partitions need {needed} open files but only {max(budget, 0)} "
            "are available: raise the open-file limit (ulimit -n) or use fewer partitions",
        )

    def _discard_partitions(self, topic: str, indexes: range) -> None:
        """Undo a partly failed creation: close and delete the partitions made so far."""
        for index in indexes:
            self.partitions.pop((topic, index), None)
            self.logs.delete_partition(topic, index)
        # A partition whose creation itself failed (say, out of file descriptors) is not
        # in the log manager; remove its directory now that the others freed their files.
        for log_dir in self.config.log_dirs:
            for index in indexes:
                shutil.rmtree(log_dir / f"{topic}-{index}", ignore_errors=True)

    def log_config(self, info: TopicInfo) -> LogConfig:
        return self.defaults.with_topic_configs(info.configs)

    def partition(self, topic: str, index: int) -> Partition | None:
        return self.partitions.get((topic, index))

    # ---- admin operations ---------------------------------------------------------
    def create_topic(
        self,
        name: str,
        partitions: int,
        configs: dict[str, str],
        *,
        replication_factor: int = 1,
        validate_only: bool = False,
    ) -> AdminResult:
        problem = topic_name_error(name)
        if problem:
            return AdminResult(ErrorCode.INVALID_TOPIC_EXCEPTION, problem)
        if partitions == -1:
            partitions = self.default_partitions
        if partitions < 1:
            return AdminResult(ErrorCode.INVALID_PARTITIONS, "number of partitions must be >= 1")
        if self.cluster is not None:
            return self._create_cluster_topic(
                name, partitions, configs, replication_factor, validate_only
            )
        if replication_factor not in (-1, 1):
            return AdminResult(
                ErrorCode.INVALID_REPLICATION_FACTOR,
                f"replication factor {replication_factor} is larger than the 1 available broker",
            )
        try:
            config = self.defaults.with_topic_configs(configs)
        except InvalidConfig as exc:
            return AdminResult(ErrorCode.INVALID_CONFIG, str(exc))
        with self.admin_lock:
            if self.topics.get(name) is not None:
                return AdminResult(ErrorCode.TOPIC_ALREADY_EXISTS, f"topic {name!r} already exists")
            collision = self._collision(name)
            if collision:
                return AdminResult(
                    ErrorCode.INVALID_TOPIC_EXCEPTION,
                    f"topic {name!r} collides with existing topic {collision!r} "
                    "('.' and '_' are interchangeable in metric names)",
                )
            too_many = self._file_budget_error(partitions)
            if too_many is not None:
                return too_many
            if validate_only:
                return AdminResult()
            self.logs.set_topic_config(name, config)
            try:
                for index in range(partitions):
                    self._open_partition(name, index, config)
            except OSError as exc:
                self._discard_partitions(name, range(partitions))
                log.error("creating topic %s failed: %s", name, exc)
                return AdminResult(
                    ErrorCode.UNKNOWN_SERVER_ERROR,
                    f"creating {partitions} partitions failed: {exc.strerror} "
                    "(raise the open-file limit, ulimit -n, or create fewer partitions)",
                )
            self.log_configs[name] = config
            self.topics.add(name, partitions, configs)  # visible to clients from here on
        log.info(
            "created topic %s with %d partitions %s",
            name,
            partitions,
            configs or "",
            extra=event("topic_created", topic=name, partitions=partitions, replication_factor=1),
        )
        return AdminResult()

    def _create_cluster_topic(
        self,
        name: str,
        partitions: int,
        configs: dict[str, str],
        replication_factor: int,
        validate_only: bool,
    ) -> AdminResult:
        assert self.cluster is not None
        if replication_factor == -1:
            replication_factor = self.config.get_int("default.replication.factor")
        try:
            self.defaults.with_topic_configs(configs)
        except InvalidConfig as exc:
            return AdminResult(ErrorCode.INVALID_CONFIG, str(exc))
        live = len(self.cluster.store.live_brokers())  # ZooKeeper's view, not the cache's
        if replication_factor < 1 or replication_factor > live:
            return AdminResult(
                ErrorCode.INVALID_REPLICATION_FACTOR,
                f"replication factor {replication_factor} is not between 1 and the {live} "
                "live brokers",
            )
        if self.cluster.metadata.topic(name) is not None:
            return AdminResult(ErrorCode.TOPIC_ALREADY_EXISTS, f"topic {name!r} already exists")
        if validate_only:
            return AdminResult()
        try:
            self.cluster.create_topic(name, partitions, replication_factor, configs)
        except TopicExists:
            return AdminResult(ErrorCode.TOPIC_ALREADY_EXISTS, f"topic {name!r} already exists")
        except AssignmentError as exc:
            return AdminResult(ErrorCode.INVALID_REPLICATION_FACTOR, str(exc))
        if not self.cluster.wait_for_leaders(name, 10.0):
            return AdminResult(
                ErrorCode.REQUEST_TIMED_OUT,
                f"topic {name!r} was created but its partitions have no state yet",
            )
        log.info(
            "created topic %s: %d partitions, RF %d",
            name,
            partitions,
            replication_factor,
            extra=event(
                "topic_created",
                topic=name,
                partitions=partitions,
                replication_factor=replication_factor,
            ),
        )
        return AdminResult()

    def _add_cluster_partitions(self, name: str, count: int, validate_only: bool) -> AdminResult:
        assert self.cluster is not None
        meta = self.cluster.metadata.topic(name)
        if meta is None:
            return AdminResult(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"no topic {name!r}")
        current = len(meta.assignment.replicas)
        if count <= current:
            return AdminResult(
                ErrorCode.INVALID_PARTITIONS,
                f"topic {name!r} has {current} partitions; the new count must be larger",
            )
        if validate_only:
            return AdminResult()
        try:
            self.cluster.add_partitions(name, count)
        except (StateChanged, AssignmentError) as exc:
            return AdminResult(ErrorCode.INVALID_PARTITIONS, str(exc))
        if not self.cluster.wait_for_partitions(name, count, 10.0):
            return AdminResult(ErrorCode.REQUEST_TIMED_OUT, "the new partitions have no state yet")
        log.info("topic %s now has %d partitions", name, count)
        return AdminResult()

    # ---- cluster mode: the replica manager's host (riverhead.cluster.replicas) -------
    def sync_topic(self, meta: TopicMetadata) -> None:
        name = meta.assignment.name
        topic_id = uuid.UUID(meta.assignment.topic_id)
        count = len(meta.assignment.replicas)
        with self.admin_lock:
            info = self.topics.get(name)
            if info is not None and info.topic_id != topic_id:
                log.warning("topic %s was re-created: deleting the old local data", name)
                self.close_topic(name)
                info = None
            if info is None:
                self.topics.add(name, count, meta.configs, topic_id)
            else:
                if info.partitions != count:
                    self.topics.set_partitions(name, count)
                if info.configs != meta.configs:
                    self.topics.set_configs(name, meta.configs)
            config = self.defaults.with_topic_configs(meta.configs)
            self.log_configs[name] = config
            self.logs.set_topic_config(name, config)

    def open_replica(self, topic: str, index: int) -> Partition:
        with self.admin_lock:
            part = self.partitions.get((topic, index))
            if part is None:
                config = self.log_configs[topic]
                snapshot = self._snapshots.pop(f"{topic}-{index}", None)
                part = self._open_partition(topic, index, config, snapshot)
            return part

    def close_topic(self, topic: str) -> None:
        with self.admin_lock:
            info = self.topics.remove(topic)
            self.log_configs.pop(topic, None)
            for tp in [tp for tp in self.partitions if tp[0] == topic]:
                self.partitions.pop(tp, None)
            self.logs.delete_topic(topic)
            if info is not None:
                log.info("deleted local data of topic %s", topic)

    def min_isr(self, topic: str) -> int:
        config = self.log_configs.get(topic)
        return config.min_insync_replicas if config is not None else 1

    def notify(self, tp: tuple[str, int]) -> None:
        self.purgatory.notify(tp)

    def on_leadership(self, tp: tuple[str, int], leader: bool) -> None:
        if tp[0] != OFFSETS_TOPIC:
            return
        if leader:
            self.groups.become_coordinator(tp[1])
        else:
            self.groups.resign_coordinator(tp[1])

    def offsets_replication_factor(self) -> int:
        """RF of ``__consumer_offsets``: 1 alone, else Kafka's setting capped by the
        live brokers (a development cluster may have fewer than 3)."""
        if self.cluster is None:
            return 1
        wanted = self.config.get_int("offsets.topic.replication.factor")
        return max(1, min(wanted, len(self.cluster.metadata.brokers)))

    def _collision(self, name: str) -> str | None:
        norm = name.replace(".", "_")
        for info in self.topics.all():
            if info.name.replace(".", "_") == norm and info.name != name:
                return info.name
        return None

    def auto_create_topic(self, name: str) -> TopicInfo | None:
        """Create ``name`` with broker defaults if auto creation is on; None otherwise."""
        if not self.auto_create or topic_name_error(name) or name.startswith("__"):
            return None
        result = self.create_topic(name, self.default_partitions, {})
        if not result.ok and result.error != ErrorCode.TOPIC_ALREADY_EXISTS:
            return None
        return self.topics.get(name)

    def delete_topic(self, name: str) -> AdminResult:
        if self.cluster is not None:
            if self.cluster.metadata.topic(name) is None:
                return AdminResult(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"no topic {name!r}")
            if not self.cluster.delete_topic(name, 10.0):
                return AdminResult(ErrorCode.REQUEST_TIMED_OUT, f"deleting {name!r} is pending")
            return AdminResult()
        with self.admin_lock:
            info = self.topics.get(name)
            if info is None:
                return AdminResult(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"no topic {name!r}")
            self.topics.remove(name)
            self.log_configs.pop(name, None)
            for index in range(info.partitions):
                self.partitions.pop((name, index), None)
            self.logs.delete_topic(name)
        log.info("deleted topic %s", name, extra=event("topic_deleted", topic=name))
        return AdminResult()

    def add_partitions(self, name: str, count: int, *, validate_only: bool) -> AdminResult:
        if self.cluster is not None:
            return self._add_cluster_partitions(name, count, validate_only)
        with self.admin_lock:
            info = self.topics.get(name)
            if info is None:
                return AdminResult(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"no topic {name!r}")
            if count <= info.partitions:
                return AdminResult(
                    ErrorCode.INVALID_PARTITIONS,
                    f"topic {name!r} has {info.partitions} partitions; the new count must be "
                    "larger",
                )
            too_many = self._file_budget_error(count - info.partitions)
            if too_many is not None:
                return too_many
            if validate_only:
                return AdminResult()
            config = self.log_config(info)
            try:
                for index in range(info.partitions, count):
                    self._open_partition(name, index, config)
            except OSError as exc:
                self._discard_partitions(name, range(info.partitions, count))
                log.error("adding partitions to %s failed: %s", name, exc)
                return AdminResult(
                    ErrorCode.UNKNOWN_SERVER_ERROR,
                    f"creating partitions failed: {exc.strerror} (raise the open-file limit)",
                )
            self.topics.set_partitions(name, count)
        log.info("topic %s now has %d partitions", name, count)
        return AdminResult()

    def alter_topic_configs(
        self, name: str, changes: list[tuple[str, int, str | None]], *, validate_only: bool
    ) -> AdminResult:
        """Apply IncrementalAlterConfigs operations: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT."""
        with self.admin_lock:
            info = self.topics.get(name)
            if info is None:
                return AdminResult(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"no topic {name!r}")
            configs = dict(info.configs)
            for key, op, value in changes:
                if key not in TOPIC_CONFIGS:
                    return AdminResult(ErrorCode.INVALID_CONFIG, f"unknown topic config {key!r}")
                current = configs.get(key, self.defaults.topic_value(key))
                items = [v for v in current.split(",") if v]
                if op == 0:
                    configs[key] = value or ""
                elif op == 1:
                    configs.pop(key, None)
                elif op == 2:
                    configs[key] = ",".join(items + [v for v in (value or "").split(",") if v])
                elif op == 3:
                    drop = set((value or "").split(","))
                    configs[key] = ",".join(v for v in items if v not in drop)
                else:
                    return AdminResult(ErrorCode.INVALID_REQUEST, f"unknown config operation {op}")
            try:
                config = self.defaults.with_topic_configs(configs)
            except InvalidConfig as exc:
                return AdminResult(ErrorCode.INVALID_CONFIG, str(exc))
            if validate_only:
                return AdminResult()
            if self.cluster is not None:
                self.cluster.store.set_topic_configs(name, configs)
            self.topics.set_configs(name, configs)
            self.log_configs[name] = config
            self.logs.set_topic_config(name, config)
        log.info("altered configs of topic %s: %s", name, configs)
        return AdminResult()

    # ---- life cycle ---------------------------------------------------------------
    def start(self) -> None:
        self.purgatory.start()
        self.groups.start()
        self.logs.start(
            self.config.get_int("log.retention.check.interval.ms"),
            self.config.get_int("log.flush.scheduler.interval.ms"),
        )

    def start_cluster(self, host: str, port: int, endpoints: tuple[str, ...] = ()) -> None:
        """Join the cluster (cluster mode only), once the listener's port is known.
        ``host``/``port``: the inter-broker listener; ``endpoints``: every listener."""
        if self.cluster is not None:
            self.topics.cluster_id = self.cluster_id_from_zk()
            self.cluster.start(host, port, endpoints)

    def cluster_id_from_zk(self) -> str:
        assert self.cluster is not None
        self.cluster.store.start()
        return self.cluster.store.cluster_id(self.topics.cluster_id)

    def shutdown(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        self.groups.stop()
        self.purgatory.stop()
        snapshots = {
            f"{part.topic}-{part.index}": part.producer_snapshot()
            for part in list(self.partitions.values())
        }
        try:
            write_snapshots(self.snapshot_path, snapshots)
        except OSError as exc:
            log.warning("producer state snapshot failed (a restart will replay): %s", exc)
        self.logs.shutdown()


def cluster_settings(config: BrokerConfig) -> ClusterSettings:
    return ClusterSettings(
        connect=config.get("zookeeper.connect"),
        session_timeout_ms=config.get_int("zookeeper.session.timeout.ms"),
        unclean_election=config.get_bool("unclean.leader.election.enable"),
        preferred_interval_s=config.get_int("leader.imbalance.check.interval.seconds"),
        auto_leader_rebalance=config.get_bool("auto.leader.rebalance.enable"),
        controlled_shutdown=config.get_bool("controlled.shutdown.enable"),
        replica=ReplicaSettings(
            lag_time_max_ms=config.get_int("replica.lag.time.max.ms"),
            fetch_wait_max_ms=config.get_int("replica.fetch.wait.max.ms"),
            fetch_max_bytes=config.get_int("replica.fetch.max.bytes"),
        ),
    )
