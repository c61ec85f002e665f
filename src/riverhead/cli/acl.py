"""``riverhead acl``: create, list and delete ACLs (CreateAcls, DescribeAcls, DeleteAcls).

Shaped like ``kafka-acls``/``rpk acl``::

    riverhead acl create --allow-principal User:alice --operation read --operation describe \\
        --topic orders [--pattern prefixed] [--host 10.0.0.1]
    riverhead acl create --deny-principal User:bob --operation write --topic orders
    riverhead acl create --allow-principal User:alice --operation read --group billing
    riverhead acl create --allow-principal User:ops --operation alter --cluster
    riverhead acl list [--topic orders] [--principal User:alice] [--format json]
    riverhead acl delete --principal User:bob --topic orders [--operation write]

``list`` and ``delete`` take filters: anything not given matches everything; ``--pattern
match`` finds the ACLs that apply to a name (literal, ``*`` and prefixes). The broker must
run an authorizer (``authorizer.class.name``), else SECURITY_DISABLED; the caller needs
Describe (list) or Alter (create, delete) on the cluster, or to be a super user
(credentials through ``--command-config``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from riverhead.cli.client import Settings, admin_client
from riverhead.cli.errors import CliError, from_kafka_error
from riverhead.cli.options import FormatOption, settings
from riverhead.cli.output import Format, print_json, print_line, print_table

app = typer.Typer(help="Manage ACLs (needs an authorizer on the broker).", no_args_is_help=True)

OPERATIONS = (
    "all",
    "read",
    "write",
    "create",
    "delete",
    "alter",
    "describe",
    "cluster_action",
    "describe_configs",
    "alter_configs",
    "idempotent_write",
)

TopicOpt = Annotated[str | None, typer.Option("--topic", help="A topic name (or prefix).")]
GroupOpt = Annotated[str | None, typer.Option("--group", help="A consumer group id.")]
ClusterOpt = Annotated[bool, typer.Option("--cluster", help="The cluster resource.")]
TxnOpt = Annotated[str | None, typer.Option("--transactional-id", help="A transactional id.")]
OpOpt = Annotated[
    list[str] | None,
    typer.Option("--operation", "-o", help=f"Repeatable: {', '.join(OPERATIONS)}."),
]
HostOpt = Annotated[str, typer.Option("--host", help="Client host the ACL applies to.")]
PrincipalFilterOpt = Annotated[str | None, typer.Option("--principal")]
PatternFilterOpt = Annotated[
    str, typer.Option("--pattern", help="any, match, literal, prefixed.")
]


def _resource(
    topic: str | None, group: str | None, cluster: bool, txn: str | None
) -> tuple[str, str] | None:
    chosen = [
        (t, n) for t, n in (("TOPIC", topic), ("GROUP", group), ("TRANSACTIONAL_ID", txn)) if n
    ]
    if cluster:
        chosen.append(("BROKER", "kafka-cluster"))
    if len(chosen) > 1:
        raise CliError(
            "INVALID_ARGUMENT",
            "name one resource: --topic, --group, --cluster or --transactional-id",
        )
    return chosen[0] if chosen else None


def _operation(name: str) -> str:
    op = name.strip().lower().replace("-", "_")
    if op not in OPERATIONS:
        raise CliError(
            "INVALID_ARGUMENT", f"unknown operation {name!r}", f"use one of {', '.join(OPERATIONS)}"
        )
    return op.upper()


def _pattern(name: str, allowed: tuple[str, ...]) -> str:
    p = name.strip().upper()
    if p not in allowed:
        raise CliError(
            "INVALID_ARGUMENT",
            f"unknown pattern type {name!r}",
            f"use one of {', '.join(a.lower() for a in allowed)}",
        )
    return p


def _admin_call(s: Settings, what: str, call: Any) -> Any:
    from confluent_kafka import KafkaException

    try:
        return call()
    except KafkaException as exc:
        raise from_kafka_error(exc, s.brokers, what) from None


@app.command("create")
def create(
    ctx: typer.Context,
    allow: Annotated[
        list[str] | None, typer.Option("--allow-principal", help="Repeatable.")
    ] = None,
    deny: Annotated[list[str] | None, typer.Option("--deny-principal", help="Repeatable.")] = None,
    operation: OpOpt = None,
    topic: TopicOpt = None,
    group: GroupOpt = None,
    cluster: ClusterOpt = False,
    transactional_id: TxnOpt = None,
    pattern: Annotated[str, typer.Option("--pattern", help="literal or prefixed.")] = "literal",
    host: HostOpt = "*",
) -> None:
    """Create ACLs: every principal x every operation on one resource."""
    from confluent_kafka.admin._acl import AclBinding

    resource = _resource(topic, group, cluster, transactional_id)
    if resource is None:
        raise CliError(
            "INVALID_ARGUMENT",
            "no resource given",
            "add --topic, --group, --cluster or --transactional-id",
        )
    if not operation or not (allow or deny):
        raise CliError(
            "INVALID_ARGUMENT", "need --operation and --allow-principal or --deny-principal"
        )
    ptype = _pattern(pattern, ("LITERAL", "PREFIXED"))
    bindings = [
        AclBinding(resource[0], resource[1], ptype, principal, host, _operation(op), perm)
        for perm, principals in (("ALLOW", allow or []), ("DENY", deny or []))
        for principal in principals
        for op in operation
    ]
    s = settings(ctx)
    admin = admin_client(s)
    futures = _admin_call(s, "acl", lambda: admin.create_acls(bindings, request_timeout=s.timeout))
    failed = False
    for binding, future in futures.items():
        perm, op = binding.permission_type.name, binding.operation.name
        label = f"{perm} {binding.principal} {op} {resource[0]}:{resource[1]}"
        try:
            future.result()
            print_line(f"{label}: OK")
        except Exception as exc:  # each binding reports its own error
            failed = True
            print_line(f"{label}: {from_kafka_error(exc, s.brokers).name}: {exc}")
    if failed:
        raise typer.Exit(1)


def _filter(
    topic: str | None,
    group: str | None,
    cluster: bool,
    txn: str | None,
    principal: str | None,
    operation: list[str] | None,
    pattern: str,
    host: str | None,
    permission: str | None,
) -> list[Any]:
    from confluent_kafka.admin._acl import AclBindingFilter

    resource = _resource(topic, group, cluster, txn)
    rtype, name = resource if resource is not None else ("ANY", None)
    ptype = _pattern(pattern, ("ANY", "MATCH", "LITERAL", "PREFIXED"))
    perm = (permission or "any").upper()
    if perm not in ("ANY", "ALLOW", "DENY"):
        raise CliError(
            "INVALID_ARGUMENT", f"unknown permission {permission!r}", "use allow or deny"
        )
    ops = [_operation(o) for o in operation] if operation else ["ANY"]
    # confluent-kafka takes None for "any name / principal / host" (its stubs say str).
    return [
        AclBindingFilter(rtype, name, ptype, principal, host, op, perm)  # type: ignore[arg-type]
        for op in ops
    ]


def _rows(bindings: list[Any]) -> list[tuple[str, ...]]:
    return sorted(
        (
            b.principal,
            b.host,
            b.operation.name,
            b.permission_type.name,
            "CLUSTER" if b.restype.name == "BROKER" else b.restype.name,
            b.name,
            b.resource_pattern_type.name,
        )
        for b in bindings
    )


HEADERS = ["PRINCIPAL", "HOST", "OPERATION", "PERMISSION", "RESOURCE", "NAME", "PATTERN"]


def _print(rows: list[tuple[str, ...]], fmt: Format) -> None:
    if fmt == Format.json:
        print_json([dict(zip([h.lower() for h in HEADERS], r, strict=True)) for r in rows])
    else:
        print_table(HEADERS, rows)


@app.command("list")
def list_acls(
    ctx: typer.Context,
    topic: TopicOpt = None,
    group: GroupOpt = None,
    cluster: ClusterOpt = False,
    transactional_id: TxnOpt = None,
    principal: PrincipalFilterOpt = None,
    pattern: PatternFilterOpt = "any",
    format: FormatOption = Format.table,
) -> None:
    """List ACLs matching the filter (everything by default)."""
    s = settings(ctx)
    (flt,) = _filter(topic, group, cluster, transactional_id, principal, None, pattern, None, None)
    admin = admin_client(s)
    found = _admin_call(
        s, "acl", lambda: admin.describe_acls(flt, request_timeout=s.timeout).result()
    )
    _print(_rows(found), format)


@app.command("delete")
def delete(
    ctx: typer.Context,
    topic: TopicOpt = None,
    group: GroupOpt = None,
    cluster: ClusterOpt = False,
    transactional_id: TxnOpt = None,
    principal: PrincipalFilterOpt = None,
    operation: OpOpt = None,
    permission: Annotated[str | None, typer.Option("--permission", help="allow or deny.")] = None,
    pattern: PatternFilterOpt = "any",
    host: Annotated[str | None, typer.Option("--host")] = None,
    format: FormatOption = Format.table,
) -> None:
    """Delete the ACLs matching the filter; prints what was deleted."""
    if not any((topic, group, cluster, transactional_id, principal, operation, permission)):
        raise CliError(
            "INVALID_ARGUMENT",
            "refusing to delete every ACL",
            "narrow it with --topic, --principal, ...",
        )
    s = settings(ctx)
    filters = _filter(
        topic, group, cluster, transactional_id, principal, operation, pattern, host, permission
    )
    admin = admin_client(s)
    futures = _admin_call(s, "acl", lambda: admin.delete_acls(filters, request_timeout=s.timeout))
    removed: list[Any] = []
    for future in futures.values():
        removed += _admin_call(s, "acl", future.result)
    _print(_rows(removed), format)
