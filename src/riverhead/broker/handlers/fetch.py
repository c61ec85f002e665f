"""Fetch (key 1), v4-12: read record batches, long-polling until min_bytes or max_wait.

Records go out as the file bytes of the log (``sendfile``), never decoded. Limits follow
Kafka: ``partition_max_bytes`` per partition and ``max_bytes`` per response, except that
the first batch of the first partition with data is returned whole even when it is
larger (KIP-74), so a consumer can always make progress. No fetch sessions: the response
carries session_id 0, which every client accepts as "sessionless". read_committed reads
up to the last stable offset, which equals the high watermark (no transactions).

If fewer than ``min_bytes`` are available and ``max_wait_ms`` > 0, the connection parks on
a :class:`DelayedFetch` in the purgatory, completed by the next append to one of the
fetched partitions or by the deadline, whichever comes first.
"""

from __future__ import annotations

import time
from typing import Any

from riverhead.broker.engine import PARKED
from riverhead.broker.purgatory import DelayedOperation
from riverhead.broker.request import Body, Reply, Request
from riverhead.broker.state import BrokerState
from riverhead.log.partition import OffsetOutOfRange
from riverhead.protocol.errors import ErrorCode
from riverhead.protocol.fetch import FetchPartition, encode_response
from riverhead.protocol.messages import millis


def read(state: BrokerState, req: Any) -> tuple[list[tuple[str, list[FetchPartition]]], int, bool]:
    """Read every requested partition; returns (topics, bytes of records, any error)."""
    remaining = max(int(getattr(req, "max_bytes", 0x7FFFFFFF)), 0)
    total = 0
    error = False
    topics: list[tuple[str, list[FetchPartition]]] = []
    for topic in req.topics:
        name = topic.topic
        out: list[FetchPartition] = []
        topics.append((name, out))
        for p in topic.partitions:
            result = FetchPartition(p.partition)
            out.append(result)
            part = state.partition(name, p.partition)
            if part is None:
                result.error_code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                error = True
                continue
            plog = part.log
            result.high_watermark = result.last_stable_offset = plog.high_watermark
            result.log_start_offset = plog.log_start_offset
            limit = min(int(p.partition_max_bytes), remaining)
            if limit <= 0 and total > 0:
                continue
            try:
                chunk = plog.read(p.fetch_offset, max(limit, 0), min_one_batch=total == 0)
            except OffsetOutOfRange:
                result.error_code = ErrorCode.OFFSET_OUT_OF_RANGE
                error = True
                continue
            if chunk is not None and chunk.size:  # otherwise records stay empty (b"")
                result.records = chunk
                total += chunk.size
                remaining -= chunk.size
    return topics, total, error


def _body(version: int, topics: list[tuple[str, list[FetchPartition]]]) -> Body:
    parts, size = encode_response(version, topics)
    return Body(parts, size)  # type: ignore[arg-type]


class DelayedFetch(DelayedOperation):
    def __init__(self, state: BrokerState, request: Request, req: Any, deadline: float) -> None:
        keys = [(t.topic, p.partition) for t in req.topics for p in t.partitions]
        super().__init__(deadline, keys)
        self.state = state
        self.request = request
        self.req = req
        self.min_bytes = int(req.min_bytes)

    def ready(self) -> bool:
        _, total, error = read(self.state, self.req)
        return error or total >= self.min_bytes

    def on_complete(self) -> None:
        topics, _, _ = read(self.state, self.req)
        self.request.complete(_body(self.request.version, topics))


def handle(state: BrokerState, request: Request) -> Reply:
    req = request.decode()
    topics, total, error = read(state, req)
    wait_ms = millis(req.max_wait)
    if error or total >= req.min_bytes or wait_ms <= 0:
        return _body(request.version, topics)
    for _, parts in topics:  # release file chunks read for nothing
        for p in parts:
            p.records = b""
    state.purgatory.watch(DelayedFetch(state, request, req, time.monotonic() + wait_ms / 1000.0))
    return PARKED
