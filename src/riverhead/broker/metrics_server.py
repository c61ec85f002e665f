"""The broker's HTTP endpoint: Prometheus metrics and a readiness probe.

Configured by ``metrics.listener`` (``http://host:port``; port 0 picks a free port, which
the broker then reports through DescribeConfigs of its broker resource, so tools such as
the console find it through the Kafka protocol; empty turns the endpoint and the
hot-path counting off). Routes:

* ``GET /metrics`` — the Prometheus text format (``prometheus_client``'s exposition of
  :class:`riverhead.broker.metrics.BrokerCollector` plus the process collectors);
* ``GET /v1/status/ready`` — ``200 {"status": "ready"}`` once the broker serves clients
  (listening; in cluster mode also registered in ZooKeeper and knowing a controller),
  else ``503 {"status": "not ready", "reason": "..."}``;
* anything else — 404.

Served by a ``ThreadingHTTPServer`` on its own daemon threads: a slow scraper never holds
up the request engine. Thread-safe.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

log = logging.getLogger("riverhead.broker.metrics")

#: ``None`` when ready, else the reason it is not.
Readiness = Callable[[], str | None]


class MetricsError(ValueError):
    """``metrics.listener`` is not ``http://host:port``."""


def parse_listener(text: str) -> tuple[str, int] | None:
    """``http://host:port`` -> (host, port); empty -> None (metrics off)."""
    text = text.strip()
    if not text:
        return None
    parts = urlsplit(text if "://" in text else "http://" + text)
    if parts.scheme != "http" or parts.hostname is None or parts.port is None:
        raise MetricsError(
            f"metrics.listener {text!r} is not http://host:port: write e.g. "
            "http://127.0.0.1:9644, or leave it empty to turn metrics off"
        )
    return parts.hostname, parts.port


class MetricsServer:
    def __init__(self, registry: CollectorRegistry, readiness: Readiness) -> None:
        self.registry = registry
        self.readiness = readiness
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str, port: int) -> int:
        """Bind and serve in the background; returns the bound port."""
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(server_self.registry))
                elif path == "/v1/status/ready":
                    reason = server_self.readiness()
                    body: dict[str, Any] = {"status": "ready" if reason is None else "not ready"}
                    if reason is not None:
                        body["reason"] = reason
                    self._send(
                        200 if reason is None else 503,
                        "application/json",
                        json.dumps(body).encode(),
                    )
                else:
                    self._send(404, "text/plain", b"not found: try /metrics or /v1/status/ready\n")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # scrapes every few seconds would drown the broker's log

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="riverhead-metrics", daemon=True
        )
        self._thread.start()
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def broker_registry(collector: Any) -> CollectorRegistry:
    """A registry of the broker's collector plus process, platform and GC collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def readiness_of(broker: Any) -> str | None:
    """Why ``broker`` (a :class:`riverhead.broker.server.Broker`) is not ready, or None."""
    if not getattr(broker, "serving", False):
        return "starting: not serving clients yet"
    cluster = broker.state.cluster
    if cluster is None:
        return None
    if not cluster.store.client.connected:
        return "no ZooKeeper session"
    if cluster.broker_epoch < 0:
        return "not registered in ZooKeeper"
    if cluster.metadata.controller_id < 0:
        return "no controller elected"
    return None


def start_metrics(broker: Any) -> MetricsServer | None:
    """Start the endpoint of ``metrics.listener`` for ``broker`` and turn counting on.

    Called by the broker before its request engine starts. With port 0 the bound port is
    written back into ``broker.config`` (and the state's), so DescribeConfigs reports the
    address actually served. Returns None when ``metrics.listener`` is empty.
    """
    from riverhead.broker.config import ConfigError
    from riverhead.broker.metrics import BrokerCollector, BrokerMetrics

    config = broker.config
    try:
        address = parse_listener(config.get("metrics.listener"))
    except MetricsError as exc:
        raise ConfigError(str(exc)) from None
    if address is None:
        return None
    metrics = BrokerMetrics(partition_series_max=config.get_int("metrics.partition.series.max"))
    broker.state.metrics = metrics
    broker.engine.on_busy = metrics.busy
    registry = broker_registry(BrokerCollector(broker.state, metrics, broker.engine))
    server = MetricsServer(registry, lambda: readiness_of(broker))
    host, port = address
    bound = server.start(host, port)
    url = f"http://{host}:{bound}"
    if bound != port:
        broker.config = config.with_overrides({"metrics.listener": url})
        broker.state.config = broker.config
    log.info("metrics on %s/metrics, readiness on %s/v1/status/ready", url, url)
    return server
