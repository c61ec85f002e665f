"""Produce (key 0), v0-9 advertised, v3-9 served: append one batch per partition.

acks=0 gets no response at all; acks=1 and acks=-1 ("all") are answered once the batch
is in the log. With one broker the leader is the whole in-sync replica set, so the two are
the same — except that a topic with ``min.insync.replicas`` > 1 fails acks=all with
NOT_ENOUGH_REPLICAS, as Kafka does. Requests v0-v2 (message format v0/v1) are advertised
only so that old librdkafka enables compression, and are answered with
UNSUPPORTED_VERSION per partition.
Produce never creates topics (Metadata does, when auto creation is on).
"""

from __future__ import annotations

from riverhead.broker.request import NO_RESPONSE, Reply, Request
from riverhead.broker.state import BrokerState, now_ms
from riverhead.broker.validation import Invalid, validate
from riverhead.protocol.errors import ErrorCode
from riverhead.protocol.produce import PartitionResult, decode_request, encode_response

_VALID_ACKS = (-1, 0, 1)
ISR_SIZE = 1  # one broker: the leader is the whole in-sync replica set


def handle(state: BrokerState, request: Request) -> Reply:
    version = request.version
    req = decode_request(request.frame, request.header.size, version)
    now = now_ms()
    results: list[tuple[str, list[PartitionResult]]] = []
    appended: list[tuple[str, int]] = []
    for topic in req.topics:
        out: list[PartitionResult] = []
        config = state.log_configs.get(topic.name)  # None: no such topic
        for pdata in topic.partitions:
            result = PartitionResult(pdata.index)
            out.append(result)
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
            if req.acks == -1 and config.min_insync_replicas > ISR_SIZE:
                result.error_code = ErrorCode.NOT_ENOUGH_REPLICAS
                result.error_message = (
                    f"min.insync.replicas={config.min_insync_replicas} but the in-sync replica "
                    f"set has {ISR_SIZE} broker"
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
            result.error_code = outcome.error
            result.base_offset = outcome.base_offset
            result.log_append_time_ms = outcome.log_append_time
            result.log_start_offset = outcome.log_start_offset
            if outcome.error == ErrorCode.NONE:
                appended.append((topic.name, pdata.index))
        results.append((topic.name, out))
    for key in appended:
        state.purgatory.notify(key)
    return NO_RESPONSE if req.acks == 0 else encode_response(version, results)
