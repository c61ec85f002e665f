"""``riverhead topic produce``: records from stdin, one per line (formats in
:mod:`riverhead.cli.records`).

The topic is looked up first, so an unknown topic is a prompt one-line error rather than
a delivery timeout (a broker with ``auto.create.topics.enable=true`` creates it, as Kafka
does for any producer). Records are sent as lines arrive, so interactive use works; on a
malformed line the records before it are still delivered, then the command fails naming
the line. Prints a one-line summary to stdout, exits 1 if any record failed.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, TextIO

import typer

from riverhead.cli.client import Settings, fetch_topic, producer
from riverhead.cli.errors import CliError, from_kafka_error
from riverhead.cli.options import settings
from riverhead.cli.output import print_line
from riverhead.cli.records import (
    OutRecord,
    ProduceDefaults,
    parse_json_line,
    parse_key_values,
    parse_text_line,
)
from riverhead.tracing import TraceContext, from_headers, with_traceparent


class Acks(StrEnum):
    none = "0"
    leader = "1"
    all = "all"


class Compression(StrEnum):
    none = "none"
    gzip = "gzip"
    snappy = "snappy"
    lz4 = "lz4"
    zstd = "zstd"


class InputFormat(StrEnum):
    text = "text"
    json = "json"


@dataclass
class DeliveryTally:
    """Delivery reports collected by the producer callback."""

    delivered: Counter[int] = field(default_factory=Counter)
    failed: int = 0
    first_error: Any = None

    def on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failed += 1
            if self.first_error is None:
                self.first_error = err
        else:
            self.delivered[int(msg.partition())] += 1

    @property
    def count(self) -> int:
        return sum(self.delivered.values())


def summary_line(topic: str, tally: DeliveryTally) -> str:
    """``produced 3 records to "t" (partition 0: 2, partition 1: 1)``."""
    noun = "record" if tally.count == 1 else "records"
    parts = ", ".join(f"partition {p}: {n}" for p, n in sorted(tally.delivered.items()))
    return f"produced {tally.count} {noun} to {topic!r}" + (f" ({parts})" if parts else "")


def produce(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(metavar="NAME", help="Topic to produce to.")],
    key: Annotated[
        str | None,
        typer.Option("-k", "--key", help="Key for every record (a JSON line may set its own)."),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("-H", "--header", metavar="KEY=VALUE", help="Header; repeatable."),
    ] = None,
    partition: Annotated[
        int | None,
        typer.Option("-p", "--partition", min=0, help="Partition (default: by key hash)."),
    ] = None,
    acks: Annotated[Acks, typer.Option("--acks", help="Acknowledgements: 0, 1 or all.")] = Acks.all,
    compression: Annotated[
        Compression, typer.Option("--compression", help="Batch compression codec.")
    ] = Compression.none,
    fmt: Annotated[
        InputFormat,
        typer.Option("--format", help="Input format: text (a value per line) or json."),
    ] = InputFormat.text,
    traceparent: Annotated[
        str | None,
        typer.Option(
            "--traceparent",
            metavar="TRACEPARENT",
            help="Continue this W3C trace (each record gets a child span).",
        ),
    ] = None,
    trace: Annotated[
        bool,
        typer.Option("--trace/--no-trace", help="Add a W3C traceparent header to each record."),
    ] = True,
) -> None:
    """Produce records read from stdin, one per line.

    Each record carries a ``traceparent`` header (W3C Trace Context): a new trace per
    record, or a child span of ``--traceparent``; a record that already has one (from
    ``-H`` or a JSON line) keeps it. ``--no-trace`` adds none.
    """
    s = settings(ctx)
    parent = TraceContext.parse(traceparent) if traceparent is not None else None
    if traceparent is not None and parent is None:
        raise CliError(
            "INVALID_ARGUMENT",
            f"--traceparent {traceparent!r} is not a W3C traceparent",
            "write 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>",
        )
    defaults = ProduceDefaults(key, parse_key_values(header or [], "-H"), partition)
    client = producer(s, {"acks": acks.value, "compression.type": compression.value})
    info = fetch_topic(client, s, topic)
    count = len(info.partitions)
    tally = DeliveryTally()
    bad_line: CliError | None = None
    try:
        for record in read_records(sys.stdin, fmt, defaults):
            if record.partition is not None and record.partition >= count:
                raise CliError(
                    "UNKNOWN_TOPIC_OR_PARTITION",
                    f"topic {topic!r} has no partition {record.partition}",
                    f"it has partitions 0..{count - 1}",
                )
            send(client, topic, traced(record, parent) if trace else record, tally)
    except CliError as exc:
        bad_line = exc
    remaining = client.flush(s.timeout)
    if bad_line is not None:
        raise bad_line
    _report(topic, tally, remaining, s)


def read_records(stream: TextIO, fmt: InputFormat, defaults: ProduceDefaults) -> Any:
    """Yield records from ``stream`` as lines arrive (a generator, for interactive use)."""
    for lineno, line in enumerate(stream, 1):
        if fmt is InputFormat.json:
            record = parse_json_line(line, lineno, defaults)
            if record is not None:
                yield record
        else:
            yield parse_text_line(line, defaults)


def traced(record: OutRecord, parent: TraceContext | None) -> OutRecord:
    """``record`` with a ``traceparent`` header: kept if it has a valid one, else a child
    of ``parent``, else a new trace."""
    if from_headers(record.headers) is not None:
        return record
    context = parent.child() if parent is not None else TraceContext.new()
    headers = [(k, v) for k, v in with_traceparent(record.headers, context)]
    return dataclasses.replace(record, headers=headers)  # type: ignore[arg-type]


def send(client: Any, topic: str, record: OutRecord, tally: DeliveryTally) -> None:
    """Queue one record, waiting for room when librdkafka's queue is full."""
    kwargs: dict[str, Any] = {
        "value": record.value,
        "key": record.key,
        "on_delivery": tally.on_delivery,
    }
    if record.headers:
        kwargs["headers"] = record.headers
    if record.partition is not None:
        kwargs["partition"] = record.partition
    if record.timestamp is not None:
        kwargs["timestamp"] = record.timestamp
    while True:
        try:
            client.produce(topic, **kwargs)
            break
        except BufferError:
            client.poll(0.1)
    client.poll(0)


def _report(topic: str, tally: DeliveryTally, undelivered: int, s: Settings) -> None:
    if tally.first_error is not None:
        err = from_kafka_error(tally.first_error, s.brokers, f"topic {topic!r}")
        raise CliError(
            err.name,
            f"{tally.failed} record(s) failed, {tally.count} delivered: {err.message}",
            err.hint,
        )
    if undelivered:
        raise CliError(
            "REQUEST_TIMED_OUT",
            f"{undelivered} record(s) not acknowledged within {s.timeout:g}s",
            "the broker did not answer in time; retry or raise --timeout",
        )
    print_line(summary_line(topic, tally))
