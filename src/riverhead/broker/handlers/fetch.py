"""Fetch (key 1), v4-12: read record batches, long-polling until min_bytes or max_wait.

Records go out as the file bytes of the log (``sendfile``), never decoded. Limits follow
Kafka: ``partition_max_bytes`` per partition and ``max_bytes`` per response, except that
the first batch of the first partition with data is returned whole even when it is
larger (KIP-74), so a consumer can always make progress. No fetch sessions: the response
carries session_id 0, which every client accepts as "sessionless". read_committed reads
up to the last stable offset, which equals the high watermark (no transactions).

If fewer than ``min_bytes`` are available and ``max_wait_ms`` > 0, the connection parks on
a :class:`DelayedFetch` in the purgatory, completed by the next append (or high watermark
move) on one of the fetched partitions or by the deadline, whichever comes first.

Replication (cluster mode): only the leader serves fetches (others answer
NOT_LEADER_OR_FOLLOWER); a ``current_leader_epoch`` older than the leader's gets
FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH (KIP-320). Consumers read below the
high watermark; a follower (``replica_id`` >= 0) reads up to the log end, its fetch offset
is recorded as its log end (which may move the high watermark and the ISR), and if its
``last_fetched_epoch`` ends earlier on the leader than its fetch offset — or is unknown to
the leader — the answer carries ``DivergingEpoch`` and no records (KIP-595/fetch v12).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from riverhead.broker.engine import PARKED
from riverhead.broker.partition import Partition
from riverhead.broker.purgatory import DelayedOperation
from riverhead.broker.request import Body, Reply, Request
from riverhead.broker.state import BrokerState
from riverhead.cluster.replica import diverging_epoch
from riverhead.log.partition import OffsetOutOfRange
from riverhead.protocol.errors import ErrorCode
from riverhead.protocol.fetch import FetchPartition, encode_response
from riverhead.protocol.messages import millis
from riverhead.security.checks import cluster_denied, enabled, topic_denied
from riverhead.security.throttle import hold, throttle_ms


def _check_leader(part: Partition, p: Any) -> ErrorCode:
    if not part.is_leader:
        return ErrorCode.NOT_LEADER_OR_FOLLOWER
    current = int(getattr(p, "current_leader_epoch", -1))
    if current >= 0 and current != part.leader_epoch:
        if current < part.leader_epoch:
            return ErrorCode.FENCED_LEADER_EPOCH
        return ErrorCode.UNKNOWN_LEADER_EPOCH
    return ErrorCode.NONE


def _diverging(part: Partition, p: Any) -> tuple[int, int] | None:
    """A follower's divergence from this leader's log, as (epoch, end offset), or None."""
    plog = part.log
    return diverging_epoch(
        part.epochs,
        plog.log_start_offset,
        plog.log_end_offset,
        int(getattr(p, "last_fetched_epoch", -1)),
        int(p.fetch_offset),
    )


def replica_id(req: Any) -> int:
    state = getattr(req, "replica_state", None)
    if state is not None:
        return int(state.replica_id)
    return int(getattr(req, "replica_id", -1))


def read(
    state: BrokerState, req: Any, *, record: bool = False
) -> tuple[list[tuple[str, list[FetchPartition]]], int, bool]:
    """Read every requested partition; returns (topics, bytes of records, any error).

    ``record``: a follower's fetch is recorded (its log end) — only on the first read of
    a request, not when a delayed fetch re-reads.
    """
    follower = replica_id(req)
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
            upper: int | None = None
            if part.replicated:
                problem = _check_leader(part, p)
                if problem:
                    result.error_code = problem
                    error = True
                    continue
                if follower >= 0:
                    diverging = _diverging(part, p)
                    if diverging is not None:
                        result.diverging_epoch = diverging
                        error = True
                        continue
                    if record and state.cluster is not None:
                        state.cluster.replicas.on_follower_fetch(
                            part, follower, int(p.fetch_offset)
                        )
                    upper = plog.log_end_offset
            result.high_watermark = result.last_stable_offset = plog.high_watermark
            result.log_start_offset = plog.log_start_offset
            limit = min(int(p.partition_max_bytes), remaining)
            if limit <= 0 and total > 0:
                continue
            try:
                chunk = plog.read(
                    p.fetch_offset, max(limit, 0), upper_bound=upper, min_one_batch=total == 0
                )
            except OffsetOutOfRange:
                result.error_code = ErrorCode.OFFSET_OUT_OF_RANGE
                error = True
                continue
            if chunk is not None and chunk.size:  # otherwise records stay empty (b"")
                # Encrypted at rest: decrypted here, so no zero-copy (riverhead.security).
                result.records = chunk if plog.cipher is None else plog.cipher.open(chunk.read())
                total += chunk.size
                remaining -= chunk.size
    return topics, total, error


def _count_out(state: BrokerState, topics: list[tuple[str, list[FetchPartition]]]) -> None:
    """Bytes out per topic, for metrics: once per response, not per readiness check."""
    metrics = state.metrics
    if metrics is None:
        return
    for name, parts in topics:
        size = 0
        for p in parts:
            records = p.records
            if records is not None:
                size += len(records) if isinstance(records, bytes) else records.size
        if size:
            metrics.fetched(name, size)


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
        _count_out(self.state, topics)
        self.request.complete(_body(self.request.version, topics))


def _blocked(state: BrokerState, request: Request, req: Any) -> set[str]:
    """Topics this fetch may not read: Read on each topic; a follower's fetch needs
    ClusterAction (Kafka answers TOPIC_AUTHORIZATION_FAILED per partition either way)."""
    if replica_id(req) >= 0:
        if cluster_denied(state, request, "CLUSTER_ACTION"):
            return {t.topic for t in req.topics}
        return set()
    return {t.topic for t in req.topics if topic_denied(state, request, "READ", t.topic)}


def _answer_blocked(state: BrokerState, request: Request, req: Any, blocked: set[str]) -> Reply:
    """Read the allowed topics at once (no long poll) and fail the others."""
    kept = tuple(t for t in req.topics if t.topic not in blocked)
    allowed = dataclasses.replace(req, topics=kept)
    topics, _, _ = read(state, allowed, record=True)
    for t in req.topics:
        if t.topic in blocked:
            failed = [FetchPartition(p.partition) for p in t.partitions]
            for f in failed:
                f.error_code = ErrorCode.TOPIC_AUTHORIZATION_FAILED
            topics.append((t.topic, failed))
    _count_out(state, topics)
    return _body(request.version, topics)


def handle(state: BrokerState, request: Request) -> Reply:
    req = request.decode()
    if enabled(state):
        blocked = _blocked(state, request, req)
        if blocked:
            return _answer_blocked(state, request, req, blocked)
    topics, total, error = read(state, req, record=True)
    wait_ms = millis(req.max_wait)
    if error or total >= req.min_bytes or wait_ms <= 0:
        _count_out(state, topics)
        quota = state.security.fetch_quota  # quota.consumer.default (riverhead.security)
        if quota is not None and total and replica_id(req) < 0:
            throttle = throttle_ms(quota, request, total)
            if throttle:
                held, size = encode_response(request.version, topics, throttle_time_ms=throttle)
                return hold(state, request, Body(held, size), throttle)  # type: ignore[arg-type]
        return _body(request.version, topics)
    for _, parts in topics:  # release file chunks read for nothing
        for p in parts:
            p.records = b""
    state.purgatory.watch(DelayedFetch(state, request, req, time.monotonic() + wait_ms / 1000.0))
    return PARKED
