"""Cluster health as a client sees it: the checks behind ``riverhead cluster health``.

The cluster is healthy when

* a controller exists (Metadata's ``controller_id`` >= 0);
* every broker answers: each broker in the metadata answers ApiVersions on its listener
  and, where it advertises a ``metrics.listener`` (DescribeConfigs of its broker
  resource; Riverhead brokers do), its ``/v1/status/ready`` says ready; and no broker
  named as a replica is missing from the metadata (a dead broker leaves ZooKeeper and
  so the metadata, but stays in the replica lists);
* every partition has a leader.

Under-replicated partitions are reported but do not fail the check (the cluster still
serves every partition). Everything here speaks the Kafka protocol, so it also works
against Apache Kafka (which has no readiness endpoint: that part is skipped).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from riverhead.cli.client import Settings, admin_client
from riverhead.cli.errors import CliError, from_kafka_error


@dataclass
class Check:
    """One line of the report: what was checked, ``ok`` or not, and why."""

    name: str
    ok: bool
    detail: str


@dataclass
class HealthReport:
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def reasons(self) -> list[str]:
        return [c.detail for c in self.checks if not c.ok]


def metrics_urls(admin: Any, brokers: dict[int, str], timeout: float) -> dict[int, str]:
    """Broker id -> base URL of its metrics endpoint, from DescribeConfigs
    (``metrics.listener``); brokers without one (Apache Kafka) are left out.
    ``brokers`` maps ids to their advertised host (used for a ``0.0.0.0`` listener)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource, ResourceType  # type: ignore[attr-defined]

    out: dict[int, str] = {}
    futures = {}
    for node in brokers:  # librdkafka allows one broker resource per call
        resource = ConfigResource(ResourceType.BROKER, str(node))
        try:
            futures[node] = admin.describe_configs([resource], request_timeout=timeout)[resource]
        except KafkaException:
            continue
    for node, future in futures.items():
        try:
            entries = future.result()
        except KafkaException:
            continue
        entry = entries.get("metrics.listener")
        if entry is None or not entry.value:
            continue
        url = str(entry.value).rstrip("/")
        out[node] = url.replace("0.0.0.0", brokers.get(node, "127.0.0.1"))
    return out


def readiness(url: str, timeout: float) -> str | None:
    """None when ``url``/v1/status/ready answers 200, else why not."""
    try:
        with urllib.request.urlopen(f"{url}/v1/status/ready", timeout=timeout) as response:
            response.read()
            return None
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("reason", exc.reason)
        except (ValueError, AttributeError):
            reason = exc.reason
        return f"not ready: {reason}"
    except (OSError, urllib.error.URLError) as exc:
        return f"readiness endpoint {url} unreachable: {getattr(exc, 'reason', exc)}"


def answers(host: str, port: int, settings: Settings) -> str | None:
    """None when the broker at host:port answers, else the error.

    Plaintext: one ApiVersions over a raw connection (fails fast). With a security
    protocol in ``--command-config``: a Metadata request through librdkafka bootstrapped
    at that broker alone, so TLS and SASL apply.
    """
    from riverhead.cluster.channel import Channel, ChannelError

    secured = dict(settings.client_config).get("security.protocol", "plaintext")
    if secured.lower() != "plaintext":
        from confluent_kafka import KafkaException

        one = Settings(f"{host}:{port}", settings.timeout, settings.client_config)
        try:
            admin_client(one).list_topics(timeout=settings.timeout)
        except (KafkaException, CliError) as exc:
            return f"does not answer: {exc}"
        return None
    from kio.schema.api_versions.v0.request import ApiVersionsRequest

    channel = Channel(host, port, "riverhead-health", settings.timeout)
    try:
        channel.request(18, 0, ApiVersionsRequest())
    except (ChannelError, ValueError) as exc:
        return str(exc)
    finally:
        channel.close()
    return None


def check_cluster(settings: Settings, expect_brokers: int | None = None) -> HealthReport:
    """Run every check against the cluster behind ``settings.brokers``.

    Raises :class:`CliError` only when no broker can be asked at all.
    """
    from confluent_kafka import KafkaException

    client = admin_client(settings)
    try:
        md = client.list_topics(timeout=settings.timeout)
    except KafkaException as exc:
        raise from_kafka_error(exc, settings.brokers) from None
    report = HealthReport()
    checks = report.checks
    live = {int(b.id): (str(b.host), int(b.port)) for b in md.brokers.values()}
    controller = int(md.controller_id)
    if controller >= 0 and controller in live:
        checks.append(Check("controller", True, f"broker {controller} is the controller"))
    else:
        checks.append(Check("controller", False, "no controller: none is elected"))

    replicas_of: dict[int, int] = {}
    offline: list[str] = []
    under: list[str] = []
    for name, tm in sorted(md.topics.items()):
        for pid, pm in sorted(tm.partitions.items()):
            for r in pm.replicas:
                replicas_of[int(r)] = replicas_of.get(int(r), 0) + 1
            label = f"{name}-{pid}"
            if int(pm.leader) < 0:
                offline.append(
                    f"partition {label} is offline: no leader "
                    f"(replicas {list(pm.replicas)}, ISR {list(pm.isrs)})"
                )
            elif len(pm.isrs) < len(pm.replicas):
                under.append(label)
    urls = metrics_urls(client, {b: h for b, (h, _) in live.items()}, settings.timeout)
    for node in sorted(set(live) | set(replicas_of)):
        if node not in live:
            checks.append(
                Check(
                    f"broker {node}",
                    False,
                    f"broker {node} is down: not registered, yet a replica of "
                    f"{replicas_of[node]} partition(s)",
                )
            )
            continue
        host, port = live[node]
        problem = answers(host, port, settings)
        if problem is None and node in urls:
            problem = readiness(urls[node], settings.timeout)
        if problem is None:
            ready = f", ready ({urls[node]}/v1/status/ready)" if node in urls else ""
            checks.append(Check(f"broker {node}", True, f"{host}:{port} answers{ready}"))
        else:
            checks.append(
                Check(f"broker {node}", False, f"broker {node} at {host}:{port} {problem}")
            )
    if expect_brokers is not None and len(live) < expect_brokers:
        checks.append(
            Check(
                "brokers",
                False,
                f"{len(live)} brokers registered, {expect_brokers} expected",
            )
        )
    if offline:
        checks.extend(Check("partitions", False, reason) for reason in offline)
    else:
        count = sum(len(tm.partitions) for tm in md.topics.values())
        checks.append(Check("partitions", True, f"all {count} partitions have a leader"))
    if under:
        shown = ", ".join(under[:10]) + (" ..." if len(under) > 10 else "")
        report.warnings.append(f"{len(under)} under-replicated partition(s): {shown}")
    return report


def unhealthy_error(report: HealthReport) -> CliError:
    reasons = report.reasons
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return CliError(
        "CLUSTER_UNHEALTHY",
        reasons[0] + more,
        "see the rows above; `riverhead cluster info` shows partitions and ISRs",
    )
