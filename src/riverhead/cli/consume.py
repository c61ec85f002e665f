"""``riverhead topic consume``: read records and print them, one per line.

The consumer is *assigned* partitions (no group, no commits), each at an offset resolved
from ``-o`` (see :mod:`riverhead.cli.offsets`). Without ``-f/--follow`` it stops once every
partition reached the high watermark it had when the command started (or after
``-n`` records); with ``-f`` it waits for new records until ``-n`` records or Ctrl-C.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any

import typer

from riverhead.cli.client import Settings, TopicInfo, consumer, fetch_topic
from riverhead.cli.errors import CliError, from_kafka_error
from riverhead.cli.offsets import OFFSET_HINT, OffsetSpec, parse_offset, resolve
from riverhead.cli.options import settings
from riverhead.cli.output import print_line, to_json
from riverhead.cli.records import from_message, record_json, record_text


class RecordFormat(StrEnum):
    text = "text"
    json = "json"


def consume(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(metavar="NAME", help="Topic to consume from.")],
    num: Annotated[
        int | None, typer.Option("-n", "--num", min=1, help="Stop after N records.")
    ] = None,
    offset: Annotated[
        str, typer.Option("-o", "--offset", help=f"Where to start: {OFFSET_HINT}.")
    ] = "start",
    partition: Annotated[
        list[int] | None,
        typer.Option(
            "-p", "--partition", min=0, help="Partition to read; repeatable (default all)."
        ),
    ] = None,
    fmt: Annotated[
        RecordFormat,
        typer.Option("--format", help="text (values only) or json (one object per line)."),
    ] = RecordFormat.text,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep waiting for new records.")
    ] = False,
) -> None:
    """Consume records and print them, one per line."""
    s = settings(ctx)
    spec = parse_offset(offset)
    client = consumer(s)
    try:
        info = fetch_topic(client, s, topic)
        pids = select_partitions(info, partition)
        starts, highs = start_offsets(client, s, topic, pids, spec)
        client.assign(_topic_partitions(topic, starts))
        pending = {p for p in pids if starts[p] < highs[p]}
        stream(client, s, fmt, num, follow, pending, highs)
    finally:
        client.close()


def select_partitions(info: TopicInfo, wanted: list[int] | None) -> list[int]:
    """The partitions to read: all of the topic's, or those asked for (which must exist)."""
    have = [p.id for p in info.partitions]
    if not wanted:
        return have
    missing = sorted(set(wanted) - set(have))
    if missing:
        raise CliError(
            "UNKNOWN_TOPIC_OR_PARTITION",
            f"topic {info.name!r} has no partition {missing[0]}",
            f"it has partitions 0..{len(have) - 1}",
        )
    return sorted(set(wanted))


def start_offsets(
    client: Any, s: Settings, topic: str, pids: list[int], spec: OffsetSpec
) -> tuple[dict[int, int], dict[int, int]]:
    """Resolve ``spec`` per partition; returns (start offsets, high watermarks)."""
    from confluent_kafka import KafkaException, TopicPartition

    starts: dict[int, int] = {}
    highs: dict[int, int] = {}
    by_time: dict[int, int] = {}
    try:
        if spec.kind == "timestamp":
            lookups = [TopicPartition(topic, p, spec.value) for p in pids]
            for tp in client.offsets_for_times(lookups, timeout=s.timeout):
                by_time[tp.partition] = int(tp.offset)
        for p in pids:
            low, high = client.get_watermark_offsets(TopicPartition(topic, p), timeout=s.timeout)
            highs[p] = int(high)
            starts[p] = resolve(spec, int(low), int(high), by_time.get(p))
    except KafkaException as exc:
        raise from_kafka_error(exc, s.brokers, f"topic {topic!r}") from None
    return starts, highs


def _topic_partitions(topic: str, starts: dict[int, int]) -> list[Any]:
    from confluent_kafka import TopicPartition

    return [TopicPartition(topic, p, off) for p, off in sorted(starts.items())]


def stream(
    client: Any,
    s: Settings,
    fmt: RecordFormat,
    num: int | None,
    follow: bool,
    pending: set[int],
    highs: dict[int, int],
) -> None:
    """Print records until ``num`` are printed, or (without ``follow``) every pending
    partition reached its high watermark.

    Without ``follow``, ``s.timeout`` seconds without progress while records are known to
    remain is an error (``REQUEST_TIMED_OUT``), never a silent hang.
    """
    from confluent_kafka import KafkaError

    printed = 0
    last_progress = time.monotonic()
    while (follow or pending) and (num is None or printed < num):
        msg = client.poll(0.2)
        if msg is None:
            if not follow and time.monotonic() - last_progress > s.timeout:
                raise CliError(
                    "REQUEST_TIMED_OUT",
                    f"no records for {s.timeout:g}s from partition(s) "
                    f"{','.join(map(str, sorted(pending)))} though the high watermark is ahead",
                    "the broker did not answer in time; retry or raise --timeout",
                )
            continue
        last_progress = time.monotonic()
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                pending.discard(msg.partition())
                continue
            raise from_kafka_error(err, s.brokers, f"partition {msg.partition()}")
        record = from_message(msg)
        line = to_json(record_json(record)) if fmt is RecordFormat.json else record_text(record)
        print_line(line)
        printed += 1
        if record.offset + 1 >= highs.get(record.partition, 0):
            pending.discard(record.partition)
