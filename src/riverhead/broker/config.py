"""Broker configuration with Apache Kafka's key names.

Sources, lowest precedence first:

1. built-in defaults (:data:`DEFAULTS`, Kafka's own defaults where Kafka has the key);
2. a Java-style ``.properties`` file (``key=value`` or ``key: value``, ``#``/``!`` comments);
3. ``RIVERHEAD_*`` environment variables: ``RIVERHEAD_LOG_DIRS=/data`` sets ``log.dirs``
   (upper case, dots written as underscores; ``__`` stands for a literal ``_``);
4. ``--set key=value`` overrides on the command line.

Unknown keys are rejected with a one-line error naming the closest known key, because a
misspelt ``log.retention.hour`` silently ignored would lose data later.

:class:`BrokerConfig` is immutable after :meth:`BrokerConfig.load`; it is safe to share
between threads.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from riverhead.log.config import LogConfig


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message is one line with a hint."""


# Broker keys and their defaults, as strings (the form they take in a properties file).
DEFAULTS: dict[str, str] = {
    "broker.id": "0",
    "node.id": "",
    "listeners": "PLAINTEXT://127.0.0.1:9092",
    "advertised.listeners": "",
    "log.dirs": "/tmp/riverhead-logs",
    "log.dir": "",
    "num.partitions": "1",
    "default.replication.factor": "1",
    "auto.create.topics.enable": "true",
    "delete.topic.enable": "true",
    "message.max.bytes": "1048588",
    "socket.request.max.bytes": "104857600",
    "socket.send.buffer.bytes": "102400",
    "socket.receive.buffer.bytes": "102400",
    "max.connections": "10000",
    "num.network.threads": "3",
    "num.io.threads": "2",
    "log.segment.bytes": "1073741824",
    "log.roll.ms": "",
    "log.roll.hours": "168",
    "log.index.size.max.bytes": "10485760",
    "log.index.interval.bytes": "4096",
    "log.retention.ms": "",
    "log.retention.minutes": "",
    "log.retention.hours": "168",
    "log.retention.bytes": "-1",
    "log.retention.check.interval.ms": "300000",
    "log.segment.delete.delay.ms": "60000",
    "log.flush.interval.messages": "9223372036854775807",
    "log.flush.interval.ms": "",
    "log.flush.scheduler.interval.ms": "1000",
    "log.cleanup.policy": "delete",
    "log.message.timestamp.type": "CreateTime",
    "log.preallocate": "false",
    "min.insync.replicas": "1",
    "compression.type": "producer",
    "producer.id.expiration.ms": "86400000",
    "transactional.id.expiration.ms": "604800000",
    "cluster.id": "",
    "group.initial.rebalance.delay.ms": "3000",
    "offsets.topic.num.partitions": "50",
    "offsets.topic.replication.factor": "3",
    "offsets.retention.minutes": "10080",
    "zookeeper.connect": "",
    "zookeeper.session.timeout.ms": "18000",
    "replica.lag.time.max.ms": "30000",
    "replica.fetch.wait.max.ms": "500",
    "replica.fetch.max.bytes": "1048576",
    "unclean.leader.election.enable": "false",
    "auto.leader.rebalance.enable": "true",
    "leader.imbalance.check.interval.seconds": "300",
    "controlled.shutdown.enable": "true",
    # Monitoring (riverhead.broker.metrics_server): http://host:port, port 0 = any free
    # port (reported by DescribeConfigs), empty = no endpoint and no counting.
    "metrics.listener": "http://127.0.0.1:0",
    "metrics.partition.series.max": "10000",
    "logger.format": "text",  # text or json (riverhead.logging_setup)
    # Security (riverhead.security, docs/security.md). Any ssl.*/sasl.* key may also be
    # scoped to one listener as listener.name.<name>.<key>.
    "listener.security.protocol.map": (
        "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"
    ),
    "inter.broker.listener.name": "",
    "security.inter.broker.protocol": "PLAINTEXT",
    "ssl.keystore.type": "PEM",
    "ssl.keystore.location": "",
    "ssl.key.password": "",
    "ssl.truststore.type": "PEM",
    "ssl.truststore.location": "",
    "ssl.client.auth": "none",
    "ssl.enabled.protocols": "TLSv1.2,TLSv1.3",
    "ssl.cipher.suites": "",
    "ssl.principal.mapping.rules": "DEFAULT",
    "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
    "sasl.server.max.receive.size": "524288",
    "connections.max.reauth.ms": "0",
    "connection.failed.authentication.delay.ms": "100",
    "authorizer.class.name": "",
    "super.users": "",
    "allow.everyone.if.no.acl.found": "false",
    "max.connections.per.ip": "2147483647",
    "max.connections.per.ip.overrides": "",
    "log.encryption.key.file": "",
    "log.encryption.old.key.files": "",
    "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
    "sasl.jaas.config": "",
    "quota.producer.default": "9223372036854775807",
    "quota.consumer.default": "9223372036854775807",
}

# Keys that may be scoped to one listener: listener.name.<listener>.<key>.
LISTENER_SCOPED_PREFIXES = ("ssl.", "sasl.")

# RIVERHEAD_* variables that are not broker config keys (tools' own settings).
NOT_CONFIG_ENV = frozenset({"RIVERHEAD_HOME", "RIVERHEAD_LOG_LEVEL", "RIVERHEAD_BROKERS"})

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _listener_scoped(key: str) -> bool:
    """``listener.name.<name>.<ssl.* or sasl.* key>`` (Kafka's per-listener override)."""
    if not key.startswith("listener.name."):
        return False
    _name, _, rest = key[len("listener.name.") :].partition(".")
    if rest.endswith(".sasl.jaas.config"):  # listener.name.<l>.<mechanism>.sasl.jaas.config
        return True
    return rest in DEFAULTS and rest.startswith(LISTENER_SCOPED_PREFIXES)


def parse_properties(text: str) -> dict[str, str]:
    """Parse Java properties text (the subset Kafka's config files use)."""
    out: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        sep = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if sep < 0:
            raise ConfigError(f"properties line {raw!r} has no '=': write key=value")
        out[line[:sep].strip()] = line[sep + 1 :].strip()
    return out


def env_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """Map ``RIVERHEAD_LOG_DIRS=x`` style variables to ``log.dirs=x``."""
    out: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith("RIVERHEAD_") or name in NOT_CONFIG_ENV:
            continue
        key = name[len("RIVERHEAD_") :].lower().replace("__", "\0").replace("_", ".")
        out[key.replace("\0", "_")] = value
    return out


def parse_set_flags(pairs: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r} is not key=value: write e.g. --set num.partitions=3")
        out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class Listener:
    name: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Listener:
        name, sep, rest = text.partition("://")
        host, colon, port = rest.rpartition(":")
        if not sep or not colon or not port.isdigit():
            raise ConfigError(
                f"listener {text!r} is not NAME://host:port: write e.g. PLAINTEXT://127.0.0.1:9092"
            )
        return cls(name.upper(), host.strip("[]") or "0.0.0.0", int(port))

    def __str__(self) -> str:
        return f"{self.name}://{self.host}:{self.port}"


@dataclass(frozen=True)
class BrokerConfig:
    """The broker's effective configuration; ``values`` holds every key as a string."""

    values: Mapping[str, str]
    sources: Mapping[str, str] = field(default_factory=dict)

    # ---- construction -------------------------------------------------------------
    @classmethod
    def load(
        cls,
        properties: Path | None = None,
        overrides: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> BrokerConfig:
        values = dict(DEFAULTS)
        sources = dict.fromkeys(DEFAULTS, "default")
        layers: list[tuple[str, Mapping[str, str]]] = []
        if properties is not None:
            try:
                text = properties.read_text()
            except OSError as exc:
                raise ConfigError(f"cannot read config file {properties}: {exc.strerror}") from exc
            layers.append((f"file:{properties}", parse_properties(text)))
        layers.append(("env", env_overrides(os.environ if environ is None else environ)))
        layers.append(("flag", dict(overrides or {})))
        for source, layer in layers:
            for key, value in layer.items():
                if key not in DEFAULTS and not _listener_scoped(key):
                    close = difflib.get_close_matches(key, DEFAULTS, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ConfigError(f"unknown broker config key {key!r} from {source}{hint}")
                values[key] = value
                sources[key] = source
        config = cls(values, sources)
        config.validate()
        return config

    def with_overrides(self, overrides: Mapping[str, str]) -> BrokerConfig:
        values = {**self.values, **overrides}
        sources = {**self.sources, **dict.fromkeys(overrides, "flag")}
        config = BrokerConfig(values, sources)
        config.validate()
        return config

    def validate(self) -> None:
        for key in ("broker.id", "num.partitions", "message.max.bytes", "log.segment.bytes"):
            self.get_int(key)
        self.listeners  # noqa: B018 - parse for errors
        if self.get_int("num.partitions") < 1:
            raise ConfigError("num.partitions must be >= 1")
        if self.get_int("log.segment.bytes") < 1024:
            raise ConfigError("log.segment.bytes must be >= 1024")
        if self.get("log.message.timestamp.type") not in ("CreateTime", "LogAppendTime"):
            raise ConfigError("log.message.timestamp.type must be CreateTime or LogAppendTime")
        if self.get("logger.format") not in ("text", "json"):
            raise ConfigError("logger.format must be text or json")

    # ---- typed access -------------------------------------------------------------
    def get(self, key: str) -> str:
        return self.values[key]

    def get_int(self, key: str) -> int:
        raw = self.values[key]
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{key}={raw!r} is not an integer") from None

    def get_optional_int(self, key: str) -> int | None:
        return self.get_int(key) if self.values[key] != "" else None

    def get_bool(self, key: str) -> bool:
        raw = self.values[key].lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise ConfigError(f"{key}={self.values[key]!r} is not a boolean: write true or false")

    @property
    def broker_id(self) -> int:
        node = self.get_optional_int("node.id")
        return node if node is not None else self.get_int("broker.id")

    @property
    def listeners(self) -> list[Listener]:
        return [Listener.parse(p.strip()) for p in self.get("listeners").split(",") if p.strip()]

    @property
    def advertised_listeners(self) -> list[Listener]:
        raw = self.get("advertised.listeners")
        if not raw:
            return [
                Listener(lst.name, "127.0.0.1" if lst.host == "0.0.0.0" else lst.host, lst.port)
                for lst in self.listeners
            ]
        return [Listener.parse(p.strip()) for p in raw.split(",") if p.strip()]

    @property
    def log_dirs(self) -> list[Path]:
        raw = self.get("log.dir") or self.get("log.dirs")
        return [Path(p.strip()) for p in raw.split(",") if p.strip()]

    def log_defaults(self) -> LogConfig:
        """Broker-level defaults for every topic's log (topic configs override them)."""
        roll_ms = self.get_optional_int("log.roll.ms")
        if roll_ms is None:
            roll_ms = self.get_int("log.roll.hours") * 3_600_000
        retention_ms = self.get_optional_int("log.retention.ms")
        if retention_ms is None:
            minutes = self.get_optional_int("log.retention.minutes")
            retention_ms = (
                minutes * 60_000
                if minutes is not None
                else self.get_int("log.retention.hours") * 3_600_000
            )
        flush_ms = self.get_optional_int("log.flush.interval.ms")
        return LogConfig(
            segment_bytes=self.get_int("log.segment.bytes"),
            segment_ms=roll_ms,
            segment_index_bytes=self.get_int("log.index.size.max.bytes"),
            index_interval_bytes=self.get_int("log.index.interval.bytes"),
            retention_ms=retention_ms,
            retention_bytes=self.get_int("log.retention.bytes"),
            flush_interval_messages=self.get_int("log.flush.interval.messages"),
            flush_interval_ms=flush_ms if flush_ms is not None else 2**63 - 1,
            file_delete_delay_ms=self.get_int("log.segment.delete.delay.ms"),
            cleanup_policy=self.get("log.cleanup.policy"),
            message_timestamp_type=self.get("log.message.timestamp.type"),
            max_message_bytes=self.get_int("message.max.bytes"),
            min_insync_replicas=self.get_int("min.insync.replicas"),
            compression_type=self.get("compression.type"),
            preallocate=self.get_bool("log.preallocate"),
        )
