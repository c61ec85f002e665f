"""``riverhead cluster up|down|status|info``: a local development cluster, and a view of any.

``up`` starts ZooKeeper (Debian's package) and N brokers on loopback as background
processes, waits until every broker is registered and a controller elected, and records
them in ``<dir>/cluster.json`` (default ``~/.riverhead/cluster``, or ``--dir``)::

    {"zookeeper": {"pid": 1234, "port": 2181},
     "brokers": [{"id": 1, "pid": 1240, "port": 9092, "data_dir": "..."}, ...]}

``down`` stops the brokers with SIGTERM (controlled shutdown) and then ZooKeeper, by PID.
``status`` says which of those processes are alive. ``info`` asks the brokers named by
``-X`` for the brokers, the controller and, per partition, the leader, replicas, ISR,
log start and high watermark, and each replica's lag behind the high watermark
(DescribeLogDirs' ``offset_lag``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from riverhead.cli.client import Settings, admin_client, fetch_topics, probe
from riverhead.cli.errors import CliError
from riverhead.cli.options import FormatOption
from riverhead.cli.output import Format, print_json, print_line, print_section, print_table

app = typer.Typer(name="cluster", help="Run and inspect a cluster.", no_args_is_help=True)

DirOption = Annotated[
    Path | None,
    typer.Option("--dir", metavar="DIR", help="Where the cluster keeps its data and state."),
]


def _dir(directory: Path | None) -> Path:
    if directory is not None:
        return directory
    home = Path(os.environ.get("RIVERHEAD_HOME", Path.home() / ".riverhead"))
    return home / "cluster"


def _state_path(directory: Path) -> Path:
    return directory / "cluster.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours is not alive.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (OSError, IndexError):
        return True
    return status != "Z"


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@app.command("up")
def up(
    brokers: Annotated[int, typer.Option("--brokers", min=1, max=9, help="How many.")] = 3,
    base_port: Annotated[
        int, typer.Option("--base-port", help="First broker port (then +1, +2...).")
    ] = 9092,
    zk_port: Annotated[int, typer.Option("--zk-port", help="ZooKeeper client port.")] = 2181,
    metrics_base_port: Annotated[
        int,
        typer.Option(
            "--metrics-base-port",
            help="First broker's /metrics port (then +1...); 0: any free port each.",
        ),
    ] = 0,
    directory: DirOption = None,
) -> None:
    """Start ZooKeeper and N brokers on 127.0.0.1 in the background."""
    from riverhead.cluster.zkserver import ZooKeeperServer, ZooKeeperUnavailable

    root = _dir(directory)
    state_file = _state_path(root)
    if state_file.exists():
        raise CliError(
            "CLUSTER_RUNNING",
            f"{state_file} exists",
            "stop it with `riverhead cluster down` (or pick another --dir)",
        )
    ports = [base_port + i for i in range(brokers)]
    metrics_ports = [metrics_base_port + i if metrics_base_port else 0 for i in range(brokers)]
    busy = [p for p in [zk_port, *ports, *metrics_ports] if p and not _port_free(p)]
    if busy:
        raise CliError(
            "PORT_IN_USE",
            f"port(s) {', '.join(map(str, busy))} on 127.0.0.1 are taken",
            "choose others with --base-port / --zk-port",
        )
    root.mkdir(parents=True, exist_ok=True)
    try:
        zk = ZooKeeperServer(root / "zookeeper", zk_port).start()
    except ZooKeeperUnavailable as exc:
        raise CliError("ZOOKEEPER_UNAVAILABLE", str(exc)) from None
    assert zk.proc is not None
    record: dict[str, Any] = {"zookeeper": {"pid": zk.proc.pid, "port": zk_port}, "brokers": []}
    for node, port in enumerate(ports, start=1):
        data = root / f"broker-{node}"
        data.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "riverhead", "broker", "start"]
        for key, value in {
            "broker.id": str(node),
            "listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "log.dirs": str(data / "logs"),
            "zookeeper.connect": zk.connect,
            "zookeeper.session.timeout.ms": "6000",
            "default.replication.factor": str(min(3, brokers)),
            "metrics.listener": f"http://127.0.0.1:{metrics_ports[node - 1]}",
        }.items():
            args += ["--set", f"{key}={value}"]
        with (data / "broker.log").open("ab") as log:
            proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        record["brokers"].append({"id": node, "pid": proc.pid, "port": port, "data_dir": str(data)})
    state_file.write_text(json.dumps(record, indent=1))
    bootstrap = ",".join(f"127.0.0.1:{p}" for p in ports)
    if not _wait_for_cluster(bootstrap, brokers, 60.0):
        raise CliError(
            "CLUSTER_NOT_READY",
            f"the brokers did not all register within 60 s (logs in {root}/broker-*/broker.log)",
            "stop it with `riverhead cluster down`",
        )
    print_line(f"cluster up: ZooKeeper 127.0.0.1:{zk_port}, {brokers} brokers")
    print_line(f"bootstrap: {bootstrap}")
    if metrics_base_port:
        print_line("metrics: " + ", ".join(f"http://127.0.0.1:{p}/metrics" for p in metrics_ports))


def _wait_for_cluster(bootstrap: str, count: int, timeout: float) -> bool:
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            md = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(
                timeout=2
            )
            if len(md.brokers) == count and md.controller_id > 0:
                return True
        except Exception:  # not up yet
            pass
        time.sleep(0.3)
    return False


@app.command("down")
def down(directory: DirOption = None) -> None:
    """Stop the brokers (controlled shutdown), then ZooKeeper."""
    root = _dir(directory)
    record = _read_state(root)
    pids = [b["pid"] for b in record["brokers"]]
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
    _wait_gone(pids, 30.0)
    zk_pid = record["zookeeper"]["pid"]
    if _alive(zk_pid):
        os.kill(zk_pid, signal.SIGTERM)
        _wait_gone([zk_pid], 10.0)
    _state_path(root).unlink()
    print_line(f"cluster down ({len(pids)} brokers and ZooKeeper stopped)")


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            for p in pids:
                if _alive(p):
                    os.kill(p, signal.SIGKILL)
            return
        time.sleep(0.1)


def _read_state(root: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(_state_path(root).read_text())
    except FileNotFoundError:
        raise CliError(
            "NO_CLUSTER", f"no cluster recorded in {root}", "start one with `riverhead cluster up`"
        ) from None
    return data


@app.command("status")
def status(directory: DirOption = None, fmt: FormatOption = Format.table) -> None:
    """Which processes of the local cluster are running."""
    record = _read_state(_dir(directory))
    rows: list[tuple[Any, ...]] = [
        ("zookeeper", record["zookeeper"]["pid"], record["zookeeper"]["port"])
    ]
    rows += [(f"broker {b['id']}", b["pid"], b["port"]) for b in record["brokers"]]
    states = [
        (name, pid, port, "running" if _alive(pid) else "stopped") for name, pid, port in rows
    ]
    if fmt is Format.json:
        print_json([dict(zip(("process", "pid", "port", "state"), s, strict=True)) for s in states])
    else:
        print_table(["PROCESS", "PID", "PORT", "STATE"], states)
    if any(s[3] != "running" for s in states):
        raise typer.Exit(1)


@app.command("info")
def info(ctx: typer.Context, fmt: FormatOption = Format.table) -> None:
    """Brokers, controller, and every partition's leader, replicas, ISR and offsets."""
    from riverhead.cli.topic import fetch_offsets

    s: Settings = ctx.obj
    probe(s)
    client = admin_client(s)
    md = client.list_topics(timeout=s.timeout)
    topics = fetch_topics(client, s)
    errors: list[CliError] = []
    lags = replica_lags({b.id: (b.host, b.port) for b in md.brokers.values()}, s.timeout)
    brokers = sorted(md.brokers.values(), key=lambda b: b.id)
    partitions: list[dict[str, Any]] = []
    for topic in topics:
        offsets = fetch_offsets(client, s, topic, errors) if topic.partitions else {}
        for p in topic.partitions:
            off = offsets.get(p.id)
            partitions.append(
                {
                    "topic": topic.name,
                    "partition": p.id,
                    "leader": p.leader,
                    "replicas": list(p.replicas),
                    "isr": list(p.isr),
                    "log_start": off.log_start if off else None,
                    "high_watermark": off.high_watermark if off else None,
                    "replica_lag": {r: lags.get((r, topic.name, p.id)) for r in p.replicas},
                }
            )
    if fmt is Format.json:
        print_json(
            {
                "controller": md.controller_id,
                "brokers": [{"id": b.id, "host": b.host, "port": b.port} for b in brokers],
                "partitions": partitions,
            }
        )
    else:
        print_section("brokers", first=True)
        print_table(
            ["ID", "HOST", "PORT", "CONTROLLER"],
            [(b.id, b.host, b.port, "yes" if b.id == md.controller_id else "") for b in brokers],
        )
        print_section("partitions")
        print_table(
            [
                "TOPIC",
                "PARTITION",
                "LEADER",
                "REPLICAS",
                "ISR",
                "LOG-START",
                "HIGH-WATERMARK",
                "LAG",
            ],
            [
                (
                    p["topic"],
                    p["partition"],
                    p["leader"] if p["leader"] >= 0 else None,
                    ",".join(map(str, p["replicas"])),
                    ",".join(map(str, p["isr"])),
                    p["log_start"],
                    p["high_watermark"],
                    " ".join(
                        f"{r}:{'?' if lag is None else lag}" for r, lag in p["replica_lag"].items()
                    ),
                )
                for p in partitions
            ],
        )
    if errors:
        raise errors[0]


def replica_lags(
    brokers: dict[int, tuple[str, int]], timeout: float
) -> dict[tuple[int, str, int], int]:
    """(broker, topic, partition) -> offset lag, from each broker's DescribeLogDirs."""
    from kio.schema.describe_log_dirs.v4.request import DescribeLogDirsRequest

    from riverhead.cluster.channel import Channel, ChannelError

    out: dict[tuple[int, str, int], int] = {}
    for node, (host, port) in brokers.items():
        channel = Channel(host, port, "riverhead-cli", timeout)
        try:
            response = channel.request(35, 4, DescribeLogDirsRequest(topics=None))
        except ChannelError:
            continue
        finally:
            channel.close()
        for result in response.results:
            for topic in result.topics:
                for p in topic.partitions:
                    out[(node, topic.name, int(p.partition_index))] = int(p.offset_lag)
    return out


@app.command("health")
def health(
    ctx: typer.Context,
    expect_brokers: Annotated[
        int | None,
        typer.Option("--expect-brokers", min=1, help="Fail unless this many brokers are up."),
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Pass only if a controller exists, every broker answers and every partition has a
    leader; otherwise exit 1 with the reason (see riverhead.cli.health)."""
    from riverhead.cli.health import check_cluster, unhealthy_error

    s: Settings = ctx.obj
    probe(s)
    report = check_cluster(s, expect_brokers)
    if fmt is Format.json:
        print_json(
            {
                "healthy": report.healthy,
                "checks": [
                    {"check": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks
                ],
                "warnings": report.warnings,
            }
        )
    else:
        print_table(
            ["CHECK", "STATUS", "DETAIL"],
            [(c.name, "OK" if c.ok else "FAIL", c.detail) for c in report.checks],
        )
        for warning in report.warnings:
            print_line(f"warning: {warning}")
    if not report.healthy:
        raise unhealthy_error(report)
