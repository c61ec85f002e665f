"""Run a single-node ZooKeeper server for development clusters and tests.

Uses Debian's ``zookeeper`` package (jars under ``/usr/share/java``, a Java runtime on
the PATH); ``ZOOKEEPER_CLASSPATH`` overrides the jar list. The server binds 127.0.0.1
only, keeps its data under ``data_dir``, has the AdminServer off (it would bind :8080
on every interface) and ``tickTime`` 500 ms so short sessions (1-6 s) are allowed.
It is stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

JARS = ("zookeeper", "zookeeper-jute", "slf4j-api", "slf4j-simple", "commons-io", "metrics-core")
JAVA_DIR = Path("/usr/share/java")
MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"


class ZooKeeperUnavailable(RuntimeError):
    """ZooKeeper or Java is not installed; the message says how to install it."""


def classpath() -> str:
    override = os.environ.get("ZOOKEEPER_CLASSPATH")
    if override:
        return override
    jars = [JAVA_DIR / f"{name}.jar" for name in JARS]
    missing = [j.name for j in jars if not j.exists()]
    if missing:
        raise ZooKeeperUnavailable(
            f"ZooKeeper jars not found ({', '.join(missing)}): install Debian's zookeeper "
            "package (apt-get install zookeeper) or set ZOOKEEPER_CLASSPATH"
        )
    return ":".join(str(j) for j in jars)


def ruok(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"ruok")
            return sock.recv(4) == b"imok"
    except OSError:
        return False


@dataclass
class ZooKeeperServer:
    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def connect(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ZooKeeperServer:
        java = shutil.which("java")
        if java is None:
            raise ZooKeeperUnavailable("java not found: install a Java runtime (default-jre)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.data_dir / "zoo.cfg"
        cfg.write_text(
            "\n".join(
                [
                    "tickTime=500",
                    f"dataDir={self.data_dir / 'data'}",
                    f"clientPort={self.port}",
                    "clientPortAddress=127.0.0.1",
                    "admin.enableServer=false",
                    "4lw.commands.whitelist=ruok,srvr,stat,mntr",
                    "minSessionTimeout=1000",
                    "maxSessionTimeout=60000",
                    "",
                ]
            )
        )
        log = (self.data_dir / "zookeeper.log").open("ab")
        self.proc = subprocess.Popen(
            [java, "-Xmx256m", "-cp", classpath(), MAIN, str(cfg)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ZooKeeperUnavailable(
                    f"ZooKeeper exited with {self.proc.returncode}; "
                    f"see {self.data_dir}/zookeeper.log"
                )
            if ruok(self.port):
                return self
            time.sleep(0.1)
        self.stop()
        raise ZooKeeperUnavailable(f"ZooKeeper did not answer on port {self.port} in {timeout}s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
