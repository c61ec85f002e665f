"""Run a broker: wire state, dispatcher and request engine; stop gracefully on SIGTERM.

Graceful shutdown (SIGTERM or SIGINT): stop accepting and serving, snapshot producer
state, flush every log and write the clean-shutdown marker, so the next start skips
recovery. A second signal while shutting down exits at once.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import threading
from types import FrameType

from riverhead.broker.config import BrokerConfig, ConfigError
from riverhead.broker.dispatch import Dispatcher
from riverhead.broker.engine import RequestEngine
from riverhead.broker.metrics_server import MetricsServer, start_metrics
from riverhead.broker.state import BrokerState
from riverhead.cluster.channel import Channel
from riverhead.logging_setup import configure
from riverhead.security import wiring as security_wiring
from riverhead.security.client import ClientSecurity, inter_broker_endpoint
from riverhead.security.quotas import ConnectionLimiter

log = logging.getLogger("riverhead.broker")


class Broker:
    """A running broker (also usable in-process by tests and benchmarks)."""

    def __init__(self, config: BrokerConfig) -> None:
        # Listener names, protocols and TLS contexts are checked before anything opens.
        self.listener_factories = security_wiring.factories(config, sessions=False)
        self.client_security = ClientSecurity.inter_broker(config)  # to reach peers
        self.config = config
        self.state = BrokerState(config)
        self.dispatcher = Dispatcher(self.state)
        self.engine = RequestEngine(
            self.dispatcher,
            threads=config.get_int("num.io.threads"),
            max_request_bytes=config.get_int("socket.request.max.bytes"),
            max_connections=config.get_int("max.connections"),
        )
        self.dispatcher.resume = self.engine.resume
        self.engine.limiter = ConnectionLimiter.from_config(config)
        self.ports: list[int] = []
        self._stopped = threading.Event()
        self.metrics_server: MetricsServer | None = None
        self.serving = False  # readiness (riverhead.broker.metrics_server)

    def start(self) -> None:
        self.state.start()
        for spec, factory in self.listener_factories:
            self.ports.append(self.engine.listen(spec.host, spec.port, factory=factory))
        if any(lst.port == 0 for lst in self.config.listeners):
            # Port 0 asks the OS for a free port: advertise the one actually bound.
            bound = ",".join(
                f"{lst.name}://{lst.host}:{port}"
                for lst, port in zip(self.config.listeners, self.ports, strict=True)
            )
            self.config = self.config.with_overrides({"listeners": bound})
            self.state.config = self.config
        self.metrics_server = start_metrics(self)  # may set the bound metrics port in config
        self.engine.start()
        # Peers reach this broker through the inter-broker listener; clients through the
        # endpoint of the listener they came in on (riverhead.security.listeners).
        host, port = inter_broker_endpoint(self.config)
        endpoints = tuple(str(lst) for lst in self.config.advertised_listeners)
        Channel.default_security = self.client_security
        self.state.start_cluster(host, port, endpoints)
        log.info(
            "broker %d serving on %s (log.dirs=%s)",
            self.state.node_id,
            ", ".join(str(lst) for lst in self.config.listeners),
            ",".join(str(d) for d in self.config.log_dirs),
        )
        self.serving = True

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        log.info("shutting down")
        self.serving = False
        if self.metrics_server is not None:
            self.metrics_server.stop()
        self.engine.stop()
        self.state.shutdown()
        log.info("shut down cleanly")

    def wait(self) -> None:
        self._stopped.wait()


def configure_logging(level: str | None = None, fmt: str = "text") -> None:
    """Text or JSON lines on stderr (``logger.format``; see riverhead.logging_setup)."""
    configure(level or os.environ.get("RIVERHEAD_LOG_LEVEL", "INFO"), fmt)


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (every partition holds open files,
    as in Kafka); returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
    return soft


def run_broker(config: BrokerConfig) -> int:
    """Start a broker and block until SIGTERM/SIGINT; returns the process exit code."""
    configure_logging(fmt=config.get("logger.format"))
    log.info("open-file limit: %d", raise_open_file_limit())
    try:
        broker = Broker(config)
    except ConfigError as exc:  # TLS files, listener map, security settings
        log.error("invalid configuration: %s", exc)
        return 2
    stop_requested = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop_requested.is_set():
            log.warning("second signal: exiting without a clean shutdown")
            os._exit(1)
        log.info("received %s", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        broker.start()
    except OSError as exc:
        log.error("cannot start: %s", exc)
        broker.stop()
        return 1
    while not stop_requested.wait(1.0):
        pass
    broker.stop()
    return 0
