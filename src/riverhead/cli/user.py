"""``riverhead user``: create, delete and list SCRAM users.

Through a running broker (default): AlterUserScramCredentials and
DescribeUserScramCredentials, like ``kafka-configs --alter --add-config
'SCRAM-SHA-512=[password=...]'``; the client salts and iterates the password, so it never
crosses the wire in the clear. A secured broker needs ``--command-config`` with the admin's
own credentials.

Offline (``--data-dir`` = the broker's first log directory, or ``--zookeeper`` for a
cluster, whose brokers share ``/config/users``): writes the credential store directly —
how the first (admin, broker) users are created before anybody can log in; running
brokers see the change at the next authentication.

The password comes from ``--password``, or from standard input with ``--password-stdin``
(first line), so it need not appear in the shell history or the process list.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from riverhead.cli.client import Settings, admin_client
from riverhead.cli.errors import CliError, from_kafka_error
from riverhead.cli.options import FormatOption, settings
from riverhead.cli.output import Format, print_json, print_line, print_table

if TYPE_CHECKING:
    from riverhead.security.credentials import Credentials

app = typer.Typer(help="Manage SASL/SCRAM users.", no_args_is_help=True)

MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="Edit the credential store in this broker log directory instead of asking a broker.",
    ),
]
ZooKeeperOption = Annotated[
    str | None,
    typer.Option(
        "--zookeeper",
        metavar="HOST:PORT",
        help="Edit the cluster's users in ZooKeeper (/config/users) instead of asking a broker.",
    ),
]
MechanismOption = Annotated[
    str, typer.Option("--mechanism", "-m", help="SCRAM-SHA-256 or SCRAM-SHA-512.")
]


def _mechanism(name: str) -> str:
    upper = name.upper()
    if upper not in MECHANISMS:
        hint = "use SCRAM-SHA-256 or SCRAM-SHA-512"
        raise CliError("UNSUPPORTED_SASL_MECHANISM", f"unknown mechanism {name}", hint)
    return upper


@contextlib.contextmanager
def _offline(data_dir: Path | None, zookeeper: str | None) -> Iterator[Credentials | None]:
    """The store to edit directly (log dir or ZooKeeper), or None to go through a broker."""
    if data_dir is not None:
        from riverhead.security.credentials import CredentialStore

        yield CredentialStore.in_log_dir(data_dir)
    elif zookeeper:
        from kazoo.client import KazooClient
        from kazoo.handlers.threading import KazooTimeoutError

        from riverhead.security.zk_credentials import ZkCredentialStore

        client = KazooClient(hosts=zookeeper)
        try:
            client.start(timeout=10)
        except KazooTimeoutError:
            raise CliError(
                "BROKER_NOT_AVAILABLE",
                f"cannot connect to ZooKeeper at {zookeeper}",
                "is ZooKeeper running? check --zookeeper",
            ) from None
        try:
            yield ZkCredentialStore(client)
        finally:
            client.stop()
            client.close()
    else:
        yield None


def _password(password: str | None, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError(
            "INVALID_ARGUMENT", "no password given", "pass --password or --password-stdin"
        )
    return password


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name.")],
    password: Annotated[str | None, typer.Option("--password", help="The password.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    mechanism: MechanismOption = "SCRAM-SHA-512",
    iterations: Annotated[int, typer.Option("--iterations", help="PBKDF2 iterations.")] = 8192,
    data_dir: DataDirOption = None,
    zookeeper: ZooKeeperOption = None,
) -> None:
    """Create a user, or set a new password for an existing one."""
    mech = _mechanism(mechanism)
    secret = _password(password, password_stdin)
    if not name:
        raise CliError("INVALID_ARGUMENT", "the user name must not be empty")
    with _offline(data_dir, zookeeper) as store:
        if store is not None:
            from riverhead.security.scram import ScramError, make_credential

            try:
                credential = make_credential(mech, secret, iterations)
            except ScramError as exc:
                raise CliError("UNACCEPTABLE_CREDENTIAL", str(exc)) from None
            store.upsert(name, mech, credential)
        else:
            _alter(settings(ctx), name, mech, upsert=(secret, iterations))
    print_line(f"user {name}: {mech} credential set")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name.")],
    mechanism: MechanismOption = "SCRAM-SHA-512",
    data_dir: DataDirOption = None,
    zookeeper: ZooKeeperOption = None,
) -> None:
    """Delete a user's credential for one mechanism."""
    mech = _mechanism(mechanism)
    with _offline(data_dir, zookeeper) as store:
        if store is not None:
            if not store.delete(name, mech):
                raise CliError("RESOURCE_NOT_FOUND", f"user {name} has no {mech} credential")
        else:
            _alter(settings(ctx), name, mech, upsert=None)
    print_line(f"user {name}: {mech} credential deleted")


@app.command("list")
def list_users(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    zookeeper: ZooKeeperOption = None,
    format: FormatOption = Format.table,
) -> None:
    """List users and their mechanisms (never salts or keys)."""
    with _offline(data_dir, zookeeper) as store:
        users = store.describe() if store is not None else _describe(settings(ctx))
    if format == Format.json:
        print_json(
            [
                {
                    "user": u,
                    "mechanisms": [{"mechanism": m, "iterations": i} for m, i in ms.items()],
                }
                for u, ms in users.items()
            ]
        )
        return
    rows: list[Any] = [(u, m, i) for u, ms in sorted(users.items()) for m, i in sorted(ms.items())]
    print_table(["USER", "MECHANISM", "ITERATIONS"], rows)


def _alter(s: Settings, name: str, mech: str, upsert: tuple[str, int] | None) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin._scram import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialDeletion,
        UserScramCredentialUpsertion,
    )

    code = ScramMechanism.SCRAM_SHA_512 if mech == "SCRAM-SHA-512" else ScramMechanism.SCRAM_SHA_256
    change: Any
    if upsert is not None:
        change = UserScramCredentialUpsertion(
            name, ScramCredentialInfo(code, upsert[1]), upsert[0].encode()
        )
    else:
        change = UserScramCredentialDeletion(name, code)
    admin = admin_client(s)
    try:
        admin.alter_user_scram_credentials([change], request_timeout=s.timeout)[name].result()
    except KafkaException as exc:
        raise from_kafka_error(exc, s.brokers, f"user {name}") from None


def _describe(s: Settings) -> dict[str, dict[str, int]]:
    from confluent_kafka import KafkaException

    admin = admin_client(s)
    try:
        found = admin.describe_user_scram_credentials(request_timeout=s.timeout).result()
    except KafkaException as exc:
        raise from_kafka_error(exc, s.brokers, "users") from None
    return {
        user: {
            str(info.mechanism.name).replace("_", "-"): int(info.iterations)
            for info in desc.scram_credential_infos
        }
        for user, desc in found.items()
    }
