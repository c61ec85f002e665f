"""Kafka clients for the CLI (confluent-kafka), and the settings every command shares.

The CLI is an ordinary Kafka client: it never imports broker internals (``broker start``
excepted). Clients are built from :class:`Settings` (``-X/--brokers``, ``--timeout``) with
librdkafka's own logging silenced, so the terminal only ever sees the CLI's output; set
``RIVERHEAD_CLI_DEBUG=1`` to let librdkafka's log lines through to stderr.

Before the first request, :func:`probe` opens a TCP connection to the bootstrap
addresses. librdkafka would retry a dead address until the request timeout; the probe
makes "no broker there" a prompt one-line error instead.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from riverhead.cli.errors import CliError, connection_error, from_kafka_error

DEFAULT_BROKERS = "127.0.0.1:9092"
DEFAULT_TIMEOUT = 10.0
INTERNAL_TOPIC_PREFIX = "__"
#: Environment variables the CLI reads; ``broker start`` hides them from the broker config,
#: which would otherwise read them as (unknown) ``RIVERHEAD_*`` config keys.
BROKERS_ENV = "RIVERHEAD_BROKERS"
DEBUG_ENV = "RIVERHEAD_CLI_DEBUG"
COMMAND_CONFIG_ENV = "RIVERHEAD_COMMAND_CONFIG"
CLI_ENV_VARS = frozenset({BROKERS_ENV, DEBUG_ENV, COMMAND_CONFIG_ENV})

_quiet = logging.getLogger("riverhead.cli.librdkafka")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


@dataclass(frozen=True)
class Settings:
    """Options shared by all client commands."""

    brokers: str = DEFAULT_BROKERS
    timeout: float = DEFAULT_TIMEOUT
    # librdkafka keys from --command-config (security.protocol, sasl.*, ssl.*...).
    client_config: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PartitionInfo:
    """One partition as metadata describes it (``leader`` is -1 when there is none)."""

    id: int
    leader: int
    replicas: list[int]
    isr: list[int]
    error: CliError | None = None


@dataclass(frozen=True)
class TopicInfo:
    """One topic as metadata describes it; ``error`` set when the broker reported one."""

    name: str
    partitions: list[PartitionInfo] = field(default_factory=list)
    error: CliError | None = None

    @property
    def internal(self) -> bool:
        return self.name.startswith(INTERNAL_TOPIC_PREFIX)

    @property
    def replication_factor(self) -> int:
        return max((len(p.replicas) for p in self.partitions), default=0)


def parse_brokers(text: str) -> list[tuple[str, int]]:
    """``host:port[,host:port...]`` (IPv6 as ``[::1]:9092``) -> ``[(host, port), ...]``."""
    out: list[tuple[str, int]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        host, colon, port = part.rpartition(":")
        if not colon or not port.isdigit() or not host:
            raise CliError(
                "INVALID_ARGUMENT",
                f"broker address {part!r} is not host:port",
                "write e.g. -X 127.0.0.1:9092",
            )
        out.append((host.strip("[]"), int(port)))
    if not out:
        raise CliError(
            "INVALID_ARGUMENT", "no broker address given", "write e.g. -X 127.0.0.1:9092"
        )
    return out


def probe(settings: Settings) -> None:
    """Raise ``BROKER_NOT_AVAILABLE`` unless some bootstrap address accepts a connection."""
    for host, port in parse_brokers(settings.brokers):
        try:
            with socket.create_connection((host, port), timeout=min(settings.timeout, 3.0)):
                return
        except OSError:
            continue
    raise connection_error(settings.brokers)


def base_config(settings: Settings) -> dict[str, Any]:
    """librdkafka settings common to every client the CLI creates."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.brokers,
        "client.id": "riverhead-cli",
        "socket.timeout.ms": int(settings.timeout * 1000),
    }
    if not os.environ.get(DEBUG_ENV):
        config["logger"] = _quiet
    config.update(settings.client_config)
    return config


def load_command_config(path: str) -> tuple[tuple[str, str], ...]:
    """A client properties file (``key=value`` lines, ``#`` comments), as Kafka's tools'
    ``--command-config``: e.g. ``security.protocol=SASL_SSL``, ``sasl.mechanism=...``,
    ``sasl.username``/``sasl.password``, ``ssl.ca.location``."""
    try:
        text = open(path).read()  # noqa: SIM115 - small file, read at once
    except OSError as exc:
        raise CliError(
            "INVALID_CONFIG", f"cannot read --command-config {path}: {exc.strerror}"
        ) from None
    pairs: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise CliError("INVALID_CONFIG", f"--command-config line {line!r} is not key=value")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def admin_client(settings: Settings) -> Any:
    """An ``AdminClient`` that never auto-creates the topics it asks about."""
    from confluent_kafka.admin import AdminClient

    probe(settings)
    # An AdminClient is a producer inside librdkafka, and producers ask brokers to
    # auto-create the topics they request metadata for; `describe` must not.
    return AdminClient({**base_config(settings), "allow.auto.create.topics": False})


def producer(settings: Settings, extra: dict[str, Any]) -> Any:
    """A ``Producer``; ``extra`` adds e.g. ``acks`` and ``compression.type``."""
    from confluent_kafka import Producer

    probe(settings)
    config = {
        **base_config(settings),
        # Java's key hashing, so keys land on the same partitions as with Java clients.
        "partitioner": "murmur2_random",
        "linger.ms": 5,
        "message.timeout.ms": int(max(settings.timeout, 1.0) * 1000),
        **extra,
    }
    return Producer(config)


def consumer(settings: Settings) -> Any:
    """A ``Consumer`` used only with ``assign()``: it never joins a group or commits.

    confluent-kafka insists on a ``group.id``; with auto-commit off and no ``subscribe``
    the group is never joined, so the id is only a label.
    """
    from confluent_kafka import Consumer

    probe(settings)
    return Consumer(
        {
            **base_config(settings),
            "group.id": "riverhead-cli",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "allow.auto.create.topics": False,
        }
    )


def partition_from_metadata(pm: Any, brokers: str) -> PartitionInfo:
    error = None
    if pm.error is not None and pm.error.code() != 0:
        error = from_kafka_error(pm.error, brokers, f"partition {pm.id}")
    return PartitionInfo(
        id=int(pm.id),
        leader=int(pm.leader),
        replicas=[int(r) for r in pm.replicas],
        isr=[int(r) for r in pm.isrs],
        error=error,
    )


def topic_from_metadata(tm: Any, brokers: str) -> TopicInfo:
    """confluent-kafka ``TopicMetadata`` -> :class:`TopicInfo` (partitions sorted)."""
    error = None
    if tm.error is not None and tm.error.code() != 0:
        error = from_kafka_error(tm.error, brokers, f"topic {tm.topic!r}")
    partitions = [partition_from_metadata(pm, brokers) for pm in tm.partitions.values()]
    partitions.sort(key=lambda p: p.id)
    return TopicInfo(name=str(tm.topic), partitions=partitions, error=error)


def fetch_topics(client: Any, settings: Settings, topic: str | None = None) -> list[TopicInfo]:
    """Metadata for all topics, or for ``topic`` only (reported with its error if unknown)."""
    from confluent_kafka import KafkaException

    try:
        metadata = client.list_topics(topic=topic, timeout=settings.timeout)
    except KafkaException as exc:
        raise from_kafka_error(exc, settings.brokers) from None
    topics = [topic_from_metadata(tm, settings.brokers) for tm in metadata.topics.values()]
    return sorted(topics, key=lambda t: t.name)


def fetch_topic(client: Any, settings: Settings, name: str) -> TopicInfo:
    """Metadata for one topic; raises its error (e.g. ``UNKNOWN_TOPIC_OR_PARTITION``).

    ``LEADER_NOT_AVAILABLE`` (a topic being created, e.g. auto-created by this very request)
    is retried until ``settings.timeout``.
    """
    deadline = time.monotonic() + settings.timeout
    while True:
        found = [t for t in fetch_topics(client, settings, name) if t.name == name]
        info = found[0] if found else None
        if info is None:
            break
        if info.error is None and all(p.leader >= 0 for p in info.partitions):
            return info
        if info.error is not None and info.error.name != "LEADER_NOT_AVAILABLE":
            raise info.error
        if time.monotonic() >= deadline:
            if info.error is not None:
                raise info.error
            return info
        time.sleep(0.1)
    raise CliError(
        "UNKNOWN_TOPIC_OR_PARTITION",
        f"topic {name!r} does not exist",
        "list topics with `riverhead topic list`",
    )


# ---- consumer groups --------------------------------------------------------------------

TopicPartitionKey = tuple[str, int]

# confluent-kafka's ConsumerGroupState member names -> the state names Kafka's tools print.
_GROUP_STATES = {
    "PREPARING_REBALANCING": "PreparingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
    "STABLE": "Stable",
    "EMPTY": "Empty",
    "DEAD": "Dead",
}


@dataclass(frozen=True)
class GroupMember:
    """One member of a group and the partitions assigned to it."""

    member_id: str
    client_id: str
    host: str
    assignment: list[TopicPartitionKey] = field(default_factory=list)


@dataclass(frozen=True)
class GroupInfo:
    """A consumer group as DescribeGroups reports it (``Dead``: no such group)."""

    group: str
    state: str
    protocol: str | None = None
    coordinator: int | None = None
    members: list[GroupMember] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.state != "Dead"


def group_state_name(state: Any) -> str:
    """A confluent ``ConsumerGroupState`` as Kafka names it (``Stable``, ``Empty``...)."""
    name = str(getattr(state, "name", state))
    return _GROUP_STATES.get(name, "Unknown")


def group_not_found(group: str) -> CliError:
    return CliError(
        "GROUP_ID_NOT_FOUND",
        f"group {group!r} does not exist",
        "list groups with `riverhead group list`",
    )


def group_from_description(desc: Any) -> GroupInfo:
    """confluent-kafka ``ConsumerGroupDescription`` -> :class:`GroupInfo` (members sorted)."""
    members = [
        GroupMember(
            member_id=str(m.member_id),
            client_id=str(m.client_id),
            host=str(m.host),
            assignment=sorted(
                (str(tp.topic), int(tp.partition))
                for tp in (m.assignment.topic_partitions if m.assignment else None) or []
            ),
        )
        for m in desc.members or []
    ]
    coordinator = getattr(desc, "coordinator", None)
    return GroupInfo(
        group=str(desc.group_id),
        state=group_state_name(getattr(desc, "state", None)),
        protocol=str(desc.partition_assignor) if desc.partition_assignor else None,
        coordinator=int(coordinator.id) if coordinator is not None else None,
        members=sorted(members, key=lambda m: m.member_id),
    )


def fetch_group(client: Any, settings: Settings, group: str) -> GroupInfo:
    """DescribeGroups for one group; an unknown group comes back with state ``Dead``."""
    from confluent_kafka import KafkaException

    try:
        futures = client.describe_consumer_groups([group], request_timeout=settings.timeout)
        return group_from_description(futures[group].result())
    except KafkaException as exc:
        raise from_kafka_error(exc, settings.brokers, f"group {group!r}") from None


def fetch_committed(client: Any, settings: Settings, group: str) -> dict[TopicPartitionKey, int]:
    """The group's committed offsets (OffsetFetch of all partitions); none for unknown groups."""
    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException

    try:
        futures = client.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group)], request_timeout=settings.timeout
        )
        result = futures[group].result()
    except KafkaException as exc:
        raise from_kafka_error(exc, settings.brokers, f"group {group!r}") from None
    committed: dict[TopicPartitionKey, int] = {}
    for tp in result.topic_partitions or []:
        if tp.error is not None:
            context = f"group {group!r} offset of {tp.topic}/{tp.partition}"
            raise from_kafka_error(tp.error, settings.brokers, context)
        if int(tp.offset) >= 0:
            committed[(str(tp.topic), int(tp.partition))] = int(tp.offset)
    return committed


def list_offsets(
    client: Any,
    settings: Settings,
    partitions: list[TopicPartitionKey],
    spec: Any,
    errors: list[CliError],
) -> dict[TopicPartitionKey, int]:
    """ListOffsets of ``partitions`` for one confluent ``OffsetSpec`` (earliest, latest or a
    timestamp); partitions that failed are left out and their errors appended to ``errors``
    (once per topic and error)."""
    from confluent_kafka import KafkaException, TopicPartition

    if not partitions:
        return {}
    request = {TopicPartition(t, p): spec for t, p in partitions}
    found: dict[TopicPartitionKey, int] = {}
    try:
        futures = client.list_offsets(request, request_timeout=settings.timeout)
    except KafkaException as exc:
        errors.append(from_kafka_error(exc, settings.brokers, "listing offsets"))
        return found
    for tp, future in futures.items():
        try:
            found[(str(tp.topic), int(tp.partition))] = int(future.result().offset)
        except KafkaException as exc:
            err = from_kafka_error(exc, settings.brokers, f"topic {tp.topic!r}")
            if err not in errors:
                errors.append(err)
    return found
