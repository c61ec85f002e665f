"""``riverhead topic``: create, list, describe and delete topics (produce/consume live in
:mod:`riverhead.cli.produce` and :mod:`riverhead.cli.consume` and are registered here).

Commands gather data through the admin client, compute rows with :mod:`riverhead.cli.rows`
and print them with :mod:`riverhead.cli.output`. Multi-topic commands (``create``,
``delete``) print one row per topic, ``OK`` or ``ERROR_NAME: hint``, and exit 1 after
printing every row if any failed.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from riverhead.cli import consume as consume_cmd
from riverhead.cli import produce as produce_cmd
from riverhead.cli.client import Settings, TopicInfo, admin_client, fetch_topic, fetch_topics
from riverhead.cli.errors import CliError, from_kafka_error
from riverhead.cli.options import FormatOption, settings
from riverhead.cli.output import (
    Format,
    print_error,
    print_json,
    print_section,
    print_table,
)
from riverhead.cli.records import parse_key_values
from riverhead.cli.rows import (
    ConfigInfo,
    ItemStatus,
    OffsetRange,
    any_failed,
    config_table,
    describe_json,
    partition_table,
    status_list_json,
    status_table,
    summary_table,
    topic_list_json,
    topic_list_table,
    visible_topics,
)

app = typer.Typer(
    name="topic",
    help="Create, list, describe, delete, produce to and consume from topics.",
    no_args_is_help=True,
)


@app.command("create")
def create(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(metavar="NAME", help="Topics to create.")],
    partitions: Annotated[
        int,
        typer.Option(
            "-p", "--partitions", help="Partitions per topic (-1: broker's num.partitions)."
        ),
    ] = -1,
    replicas: Annotated[
        int,
        typer.Option(
            "-r", "--replicas", help="Replication factor (-1: broker's default.replication.factor)."
        ),
    ] = -1,
    config: Annotated[
        list[str] | None,
        typer.Option("-c", "--config", metavar="KEY=VALUE", help="Topic config; repeatable."),
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Create topics; prints one row per topic with OK or the error."""
    # confluent_kafka.admin re-exports these without __all__; mypy --strict wants it explicit.
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    s = settings(ctx)
    configs = dict(parse_key_values(config or [], "-c"))
    unique = list(dict.fromkeys(names))
    client = admin_client(s)
    new = [
        NewTopic(n, num_partitions=partitions, replication_factor=replicas, config=configs)
        for n in unique
    ]
    futures = client.create_topics(
        new, operation_timeout=s.timeout, request_timeout=s.timeout, validate_only=False
    )
    items = [ItemStatus(n, _future_error(futures[n], s, f"topic {n!r}")) for n in unique]
    _print_status(items, fmt)


@app.command("list")
def list_topics(
    ctx: typer.Context,
    internal: Annotated[
        bool, typer.Option("-i", "--internal", help="Include internal topics (__*).")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """List topics with their partition count and replication factor."""
    s = settings(ctx)
    topics = visible_topics(fetch_topics(admin_client(s), s), internal)
    if fmt is Format.json:
        print_json(topic_list_json(topics))
    else:
        print_table(*topic_list_table(topics))


@app.command("describe")
def describe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Topic to describe.")],
    fmt: FormatOption = Format.table,
) -> None:
    """Show a topic's partitions (leader, replicas, ISR, offsets) and configs."""
    s = settings(ctx)
    client = admin_client(s)
    topic = fetch_topic(client, s, name)
    errors: list[CliError] = []
    offsets = fetch_offsets(client, s, topic, errors)
    configs = _fetch_configs(client, s, name, errors)
    if fmt is Format.json:
        print_json(describe_json(topic, offsets, configs))
    else:
        print_section("summary", first=True)
        print_table(*summary_table(topic))
        if configs is not None:
            print_section("configs")
            print_table(*config_table(configs))
        print_section("partitions")
        print_table(*partition_table(topic, offsets))
    if errors:
        for err in errors:
            print_error(err)
        raise typer.Exit(1)


@app.command("delete")
def delete(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(metavar="NAME", help="Topics to delete.")],
    fmt: FormatOption = Format.table,
) -> None:
    """Delete topics; prints one row per topic with OK or the error."""
    s = settings(ctx)
    unique = list(dict.fromkeys(names))
    client = admin_client(s)
    futures = client.delete_topics(unique, operation_timeout=s.timeout, request_timeout=s.timeout)
    items = [ItemStatus(n, _future_error(futures[n], s, f"topic {n!r}")) for n in unique]
    _print_status(items, fmt)


app.command("produce")(produce_cmd.produce)
app.command("consume")(consume_cmd.consume)


# ---- helpers ----------------------------------------------------------------------------


def _print_status(items: list[ItemStatus], fmt: Format) -> None:
    if fmt is Format.json:
        print_json(status_list_json(items))
    else:
        print_table(*status_table(items))
    if any_failed(items):
        raise typer.Exit(1)


def _future_error(future: Any, s: Settings, context: str) -> CliError | None:
    """None when an admin future succeeded, else its error as a :class:`CliError`."""
    from confluent_kafka import KafkaException

    try:
        future.result()
    except KafkaException as exc:
        return from_kafka_error(exc, s.brokers, context)
    return None


def fetch_offsets(
    client: Any, s: Settings, topic: TopicInfo, errors: list[CliError]
) -> dict[int, OffsetRange]:
    """Log start offset and high watermark per partition (ListOffsets earliest/latest)."""
    from confluent_kafka import KafkaException, TopicPartition
    from confluent_kafka.admin import OffsetSpec  # type: ignore[attr-defined]

    if not topic.partitions:
        return {}
    specs: Any = OffsetSpec  # its factory methods are untyped
    found: dict[int, dict[str, int | None]] = {p.id: {} for p in topic.partitions}
    for label, spec in (("start", specs.earliest()), ("high", specs.latest())):
        request = {TopicPartition(topic.name, p.id): spec for p in topic.partitions}
        try:
            futures = client.list_offsets(request, request_timeout=s.timeout)
        except KafkaException as exc:
            errors.append(from_kafka_error(exc, s.brokers, "listing offsets"))
            break
        for tp, future in futures.items():
            try:
                found[tp.partition][label] = int(future.result().offset)
            except KafkaException as exc:
                err = from_kafka_error(exc, s.brokers, f"offsets of partition {tp.partition}")
                if err not in errors:
                    errors.append(err)
    return {
        pid: OffsetRange(values.get("start"), values.get("high")) for pid, values in found.items()
    }


def _fetch_configs(
    client: Any, s: Settings, name: str, errors: list[CliError]
) -> list[ConfigInfo] | None:
    """The topic's configs via DescribeConfigs; None (and an error noted) on failure."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (  # type: ignore[attr-defined]
        ConfigResource,
        ResourceType,
    )

    resource = ConfigResource(ResourceType.TOPIC, name)
    try:
        entries = client.describe_configs([resource], request_timeout=s.timeout)[resource].result()
    except KafkaException as exc:
        errors.append(from_kafka_error(exc, s.brokers, "describing configs"))
        return None
    return [
        ConfigInfo(
            name=str(e.name),
            value=None if e.value is None else str(e.value),
            source=_source_name(e.source),
            sensitive=bool(e.is_sensitive),
        )
        for e in entries.values()
    ]


def _source_name(source: Any) -> str:
    """A config source as Kafka names it (``DYNAMIC_TOPIC_CONFIG``...).

    confluent-kafka hands ``ConfigEntry.source`` over as a bare int, not the documented
    ``ConfigSource`` enum.
    """
    from confluent_kafka.admin import ConfigSource  # type: ignore[attr-defined]

    if hasattr(source, "name"):
        return str(source.name)
    try:
        return str(ConfigSource(source).name)
    except ValueError:
        return str(source)
