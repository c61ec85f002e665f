"""DeleteRecords (key 21), v0-2: advance a partition's log start offset.

Offset -1 means the high watermark. Offsets past the high watermark get
OFFSET_OUT_OF_RANGE, as in Kafka.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import topic_denied


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    topics = []
    for topic in req.topics:
        partitions = []
        denied = topic_denied(state, request, "DELETE", topic.name)
        for p in topic.partitions:
            if denied:
                partitions.append(
                    {"partition_index": p.partition_index, "low_watermark": -1,
                     "error_code": denied}
                )
                continue
            out: dict[str, Any] = {
                "partition_index": p.partition_index,
                "low_watermark": -1,
                "error_code": 0,
            }
            part = state.partition(topic.name, p.partition_index)
            offset = int(p.offset)
            if part is None:
                out["error_code"] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            else:
                hw = part.log.high_watermark
                if offset == -1:
                    offset = hw
                if offset < 0 or offset > hw:
                    out["error_code"] = ErrorCode.OFFSET_OUT_OF_RANGE
                else:
                    out["low_watermark"] = part.log.delete_records_before(offset)
            partitions.append(out)
        topics.append({"name": topic.name, "partitions": partitions})
    return {"throttle_time_ms": 0, "topics": topics}
