"""Produce (key 0), v0-9 advertised, v3-9 served: append one batch per partition.

acks=0 gets no response at all; acks=1 is answered once the batch is in the leader's log.
acks=-1 ("all") is refused with NOT_ENOUGH_REPLICAS, before anything is appended, while
the ISR is smaller than ``min.insync.replicas``; otherwise, once appended, it waits in the
purgatory (:class:`DelayedProduce`) until the high watermark passes the batch — every
ISR replica has it — and is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank
below the minimum meanwhile, or REQUEST_TIMED_OUT after the request's ``timeout_ms``.
With one broker the leader is the whole ISR and the high watermark follows the log end,
so acks=all is answered at once. A replica that is not the leader answers
NOT_LEADER_OR_FOLLOWER. Requests v0-v2 (message format v0/v1) are advertised
only so that old librdkafka enables compression, and are answered with
UNSUPPORTED_VERSION per partition.
Produce never creates topics (Metadata does, when auto creation is on).
"""

from __future__ import annotations

import time

from riverhead.broker.engine import PARKED
from riverhead.broker.partition import Partition
from riverhead.broker.purgatory import DelayedOperation
from riverhead.broker.request import NO_RESPONSE, Reply, Request
from riverhead.broker.state import BrokerState, now_ms
from riverhead.broker.validation import Invalid, validate
from riverhead.protocol.errors import ErrorCode
from riverhead.protocol.produce import PartitionResult, decode_request, encode_response
from riverhead.security.checks import topic_denied
from riverhead.security.throttle import hold, throttle_ms

_VALID_ACKS = (-1, 0, 1)

Waiting = tuple[PartitionResult, Partition, int, int]  # result, partition, offset, min ISR


def _committed(part: Partition, offset: int) -> bool:
    return part.log.high_watermark > offset


class DelayedProduce(DelayedOperation):
    """acks=all: answer once every appended batch is below its high watermark."""

    def __init__(
        self,
        request: Request,
        results: list[tuple[str, list[PartitionResult]]],
        waiting: list[Waiting],
        deadline: float,
    ) -> None:
        super().__init__(deadline, [(p.topic, p.index) for _, p, _, _ in waiting])
        self.request = request
        self.results = results
        self.waiting = waiting

    def ready(self) -> bool:
        return all(_committed(p, off) or not p.is_leader for _, p, off, _ in self.waiting)

    def on_complete(self) -> None:
        for result, part, offset, min_isr in self.waiting:
            if not part.is_leader:
                result.error_code = ErrorCode.NOT_LEADER_OR_FOLLOWER
            elif not _committed(part, offset):
                result.error_code = ErrorCode.REQUEST_TIMED_OUT
            elif len(part.isr) < min_isr:
                result.error_code = ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
            if result.error_code != ErrorCode.NONE:
                result.base_offset = -1
        self.request.complete(encode_response(self.request.version, self.results))


def handle(state: BrokerState, request: Request) -> Reply:
    version = request.version
    req = decode_request(request.frame, request.header.size, version)
    now = now_ms()
    results: list[tuple[str, list[PartitionResult]]] = []
    appended: list[tuple[str, int]] = []
    waiting: list[Waiting] = []
    authz = state.security.authorizer  # None: no ACLs to check (riverhead.security)
    produced = 0  # bytes appended, for quota.producer.default
    for topic in req.topics:
        out: list[PartitionResult] = []
        config = state.log_configs.get(topic.name)  # None: no such topic
        denied = authz is not None and topic_denied(state, request, "WRITE", topic.name)
        for pdata in topic.partitions:
            result = PartitionResult(pdata.index)
            out.append(result)
            if denied:
                result.error_code = ErrorCode.TOPIC_AUTHORIZATION_FAILED
                continue
            if version < 3:
                result.error_code = ErrorCode.UNSUPPORTED_VERSION
                continue
            if req.acks not in _VALID_ACKS:
                result.error_code = ErrorCode.INVALID_REQUIRED_ACKS
                continue
            part = state.partition(topic.name, pdata.index) if config is not None else None
            if part is None or config is None:
                result.error_code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                continue
            if not part.is_leader:
                result.error_code = ErrorCode.NOT_LEADER_OR_FOLLOWER
                continue
            isr_size = len(part.isr)
            if req.acks == -1 and config.min_insync_replicas > isr_size:
                result.error_code = ErrorCode.NOT_ENOUGH_REPLICAS
                result.error_message = (
                    f"min.insync.replicas={config.min_insync_replicas} but the in-sync replica "
                    f"set has {isr_size} broker{'s' if isr_size != 1 else ''}"
                )
                continue
            if pdata.records is None:
                result.error_code = ErrorCode.CORRUPT_MESSAGE
                result.error_message = "records are null"
                continue
            # A writable view into the connection's buffer: appended without a copy.
            checked = validate(pdata.records, config, version, now)
            if isinstance(checked, Invalid):
                result.error_code = checked.error
                result.error_message = checked.message
                result.record_errors = [(0, checked.message)]
                continue
            data, header = checked
            outcome = part.append(data, header, now)
            produced += len(data)
            result.error_code = outcome.error
            result.base_offset = outcome.base_offset
            result.log_append_time_ms = outcome.log_append_time
            result.log_start_offset = outcome.log_start_offset
            if outcome.error == ErrorCode.NONE:
                appended.append((topic.name, pdata.index))
                if state.metrics is not None:
                    state.metrics.produced(topic.name, header.records_count, len(data))
                if part.replicated:  # with the leader as the only ISR member: committed now
                    part.maybe_advance_hw(config.min_insync_replicas)
                last = outcome.last_offset if outcome.last_offset >= 0 else outcome.base_offset
                if req.acks == -1 and not _committed(part, last):
                    waiting.append((result, part, last, config.min_insync_replicas))
        results.append((topic.name, out))
    for key in appended:
        state.purgatory.notify(key)
    if req.acks == 0:
        return NO_RESPONSE
    if waiting:
        deadline = time.monotonic() + max(req.timeout_ms, 0) / 1000.0
        state.purgatory.watch(DelayedProduce(request, results, waiting, deadline))
        return PARKED
    quota = state.security.produce_quota  # quota.producer.default (riverhead.security)
    if quota is not None and produced:
        throttle = throttle_ms(quota, request, produced)
        if throttle:
            return hold(state, request, encode_response(version, results, throttle), throttle)
    return encode_response(version, results)
