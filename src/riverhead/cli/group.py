"""``riverhead group``: list, describe, seek and delete consumer groups.

Commands gather data through the admin client (ListGroups, DescribeGroups, OffsetFetch,
ListOffsets, OffsetCommit, DeleteGroups), compute rows with :mod:`riverhead.cli.rows` and
print them with :mod:`riverhead.cli.output`.

``seek`` only previews unless ``--execute`` is given, and commits only to a group without
members (Kafka accepts offsets from outside the group only then); ``delete`` prints one
row per group, ``OK`` or ``ERROR_NAME: hint``, and exits 1 after every row if any failed.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from riverhead.cli.client import (
    Settings,
    TopicPartitionKey,
    admin_client,
    fetch_committed,
    fetch_group,
    fetch_topic,
    fetch_topics,
    group_not_found,
    group_state_name,
    list_offsets,
)
from riverhead.cli.errors import CliError, from_kafka_error
from riverhead.cli.offsets import OFFSET_HINT, OffsetSpec, parse_offset
from riverhead.cli.options import FormatOption, settings
from riverhead.cli.output import (
    Format,
    print_error,
    print_json,
    print_line,
    print_section,
    print_table,
)
from riverhead.cli.rows import (
    GroupListing,
    ItemStatus,
    OffsetRange,
    SeekTarget,
    any_failed,
    group_describe_json,
    group_list_json,
    group_list_table,
    group_partition_table,
    group_partitions,
    group_summary_table,
    seek_json,
    seek_table,
    seek_targets,
    status_list_json,
    status_table,
)

STOP_CONSUMERS_HINT = "stop the group's consumers first"

app = typer.Typer(
    name="group",
    help="List, describe, seek and delete consumer groups.",
    no_args_is_help=True,
)


@app.command("list")
def list_groups(ctx: typer.Context, fmt: FormatOption = Format.table) -> None:
    """List consumer groups with their state and protocol type."""
    from confluent_kafka import KafkaException

    s = settings(ctx)
    client = admin_client(s)
    try:
        result = client.list_consumer_groups(request_timeout=s.timeout).result()
    except KafkaException as exc:
        raise from_kafka_error(exc, s.brokers, "listing groups") from None
    groups = sorted(
        (
            GroupListing(
                group=str(g.group_id),
                state=group_state_name(getattr(g, "state", None)),
                # librdkafka only says whether the protocol type is empty ("simple").
                protocol_type=None if g.is_simple_consumer_group else "consumer",
            )
            for g in result.valid
        ),
        key=lambda g: g.group,
    )
    if fmt is Format.json:
        print_json(group_list_json(groups))
    else:
        print_table(*group_list_table(groups))
    if result.errors:
        for failure in result.errors:
            print_error(from_kafka_error(failure, s.brokers, "listing groups"))
        raise typer.Exit(1)


@app.command("describe")
def describe(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(metavar="GROUP", help="Group to describe.")],
    fmt: FormatOption = Format.table,
) -> None:
    """Show a group's state and members, and per partition its committed offset and lag."""
    s = settings(ctx)
    client = admin_client(s)
    info = fetch_group(client, s, group)
    committed = fetch_committed(client, s, group)
    if not info.exists and not committed:
        raise group_not_found(group)
    errors: list[CliError] = []
    assigned = [tp for m in info.members for tp in m.assignment]
    # Partitions of deleted topics keep their committed offsets; show them without offsets.
    existing = {(t.name, p.id) for t in fetch_topics(client, s) for p in t.partitions}
    wanted = sorted((set(committed) | set(assigned)) & existing)
    offsets = _watermarks(client, s, wanted, errors)
    parts = group_partitions(info, committed, offsets)
    if fmt is Format.json:
        print_json(group_describe_json(info, parts))
    else:
        print_section("summary", first=True)
        print_table(*group_summary_table(info, parts))
        print_section("partitions")
        print_table(*group_partition_table(parts))
    if errors:
        for err in errors:
            print_error(err)
        raise typer.Exit(1)


@app.command("seek")
def seek(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(metavar="GROUP", help="Group whose offsets to move.")],
    to: Annotated[
        str,
        typer.Option("--to", metavar="OFFSET", help=f"Where to move: {OFFSET_HINT}."),
    ],
    topics: Annotated[
        list[str] | None,
        typer.Option(
            "-t",
            "--topic",
            help="Topic to seek (every partition); repeatable (default: the group's topics).",
        ),
    ] = None,
    execute: Annotated[
        bool,
        typer.Option("--execute", help="Commit the new offsets (without it: preview only)."),
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Preview (or with --execute, commit) new committed offsets for a group."""
    spec = _parse_to(to)
    s = settings(ctx)
    client = admin_client(s)
    info = fetch_group(client, s, group)
    committed = fetch_committed(client, s, group)
    names = list(dict.fromkeys(topics or sorted({t for t, _ in committed})))
    if not names:
        if not info.exists:
            raise CliError(
                "GROUP_ID_NOT_FOUND",
                f"group {group!r} does not exist",
                "name the topics to seek with --topic, or list groups with `riverhead group list`",
            )
        raise CliError(
            "INVALID_ARGUMENT",
            f"group {group!r} has no committed offsets",
            "name the topics to seek with --topic",
        )
    if execute and info.members:
        raise CliError(
            "NON_EMPTY_GROUP",
            f"group {group!r} is {info.state} with {len(info.members)} active member(s)",
            STOP_CONSUMERS_HINT,
        )
    partitions = [(n, p.id) for n in names for p in fetch_topic(client, s, n).partitions]
    errors: list[CliError] = []
    offsets = _watermarks(client, s, partitions, errors)
    by_time: dict[TopicPartitionKey, int] = {}
    if spec.kind == "timestamp" and not errors:
        at_time = _offset_spec().for_timestamp(spec.value)
        by_time = list_offsets(client, s, partitions, at_time, errors)
    if errors:
        raise errors[0]
    targets = seek_targets(spec, partitions, committed, offsets, by_time)
    results = _commit(client, s, group, targets) if execute else None
    if fmt is Format.json:
        print_json(seek_json(targets, results))
    else:
        print_table(*seek_table(targets, results))
    if results is None:
        print_line("preview only: nothing committed; add --execute to commit", out=sys.stderr)
    elif any(err is not None for err in results.values()):
        raise typer.Exit(1)


@app.command("delete")
def delete(
    ctx: typer.Context,
    groups: Annotated[list[str], typer.Argument(metavar="GROUP", help="Groups to delete.")],
    fmt: FormatOption = Format.table,
) -> None:
    """Delete groups (and their committed offsets); one row per group with OK or the error."""
    from confluent_kafka import KafkaException

    s = settings(ctx)
    unique = list(dict.fromkeys(groups))
    client = admin_client(s)
    futures = client.delete_consumer_groups(unique, request_timeout=s.timeout)
    items = []
    for name in unique:
        error = None
        try:
            futures[name].result()
        except KafkaException as exc:
            error = from_kafka_error(exc, s.brokers, f"group {name!r}")
        items.append(ItemStatus(name, error))
    if fmt is Format.json:
        print_json(status_list_json(items, key="group"))
    else:
        print_table(*status_table(items, header="GROUP"))
    if any_failed(items):
        raise typer.Exit(1)


# ---- helpers ----------------------------------------------------------------------------


def _parse_to(text: str) -> OffsetSpec:
    try:
        return parse_offset(text)
    except CliError:
        raise CliError("INVALID_ARGUMENT", f"--to {text!r} is not an offset", OFFSET_HINT) from None


def _offset_spec() -> Any:
    from confluent_kafka.admin import OffsetSpec as ListOffsetSpec  # type: ignore[attr-defined]

    spec: Any = ListOffsetSpec  # its factory methods are untyped
    return spec


def _watermarks(
    client: Any, s: Settings, partitions: list[TopicPartitionKey], errors: list[CliError]
) -> dict[TopicPartitionKey, OffsetRange]:
    """Log start offset and log end offset (high watermark) per partition."""
    specs = _offset_spec()
    starts = list_offsets(client, s, partitions, specs.earliest(), errors)
    ends = list_offsets(client, s, partitions, specs.latest(), errors) if not errors else {}
    return {tp: OffsetRange(starts.get(tp), ends.get(tp)) for tp in partitions}


def _commit(
    client: Any, s: Settings, group: str, targets: list[SeekTarget]
) -> dict[TopicPartitionKey, CliError | None]:
    """AlterConsumerGroupOffsets (an OffsetCommit from outside the group); per partition
    None or its error."""
    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(t.topic, t.partition, t.new) for t in targets]
    )
    try:
        futures = client.alter_consumer_group_offsets([request], request_timeout=s.timeout)
        result = futures[group].result()
    except KafkaException as exc:
        raise _with_stop_hint(from_kafka_error(exc, s.brokers, f"group {group!r}")) from None
    results: dict[TopicPartitionKey, CliError | None] = {
        (t.topic, t.partition): None for t in targets
    }
    for tp in result.topic_partitions or []:
        if tp.error is not None:
            err = from_kafka_error(tp.error, s.brokers, f"{tp.topic}/{tp.partition}")
            results[(str(tp.topic), int(tp.partition))] = _with_stop_hint(err)
    return results


def _with_stop_hint(err: CliError) -> CliError:
    """Errors a commit from outside gets when the group gained members since we looked."""
    if err.name in ("UNKNOWN_MEMBER_ID", "ILLEGAL_GENERATION", "REBALANCE_IN_PROGRESS"):
        return CliError(err.name, err.message, STOP_CONSUMERS_HINT)
    return err
