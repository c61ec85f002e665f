"""DescribeLogDirs (key 35), v1-4: the replicas this broker holds, per log directory.

Per partition: its size in bytes and ``offset_lag`` = max(0, high watermark - log end
offset): how far this replica's log end is behind the partition's high watermark (0 for
the leader; a follower uses the leader's high watermark from its last fetch response,
not its own, which never exceeds its log end). A null topic list means every partition. Used by
``riverhead cluster info`` and Kafka's ``kafka-log-dirs.sh``.
"""

from __future__ import annotations

import shutil
from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.security.checks import cluster_denied


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    denied = cluster_denied(state, request, "DESCRIBE")
    if denied:
        return {"throttle_time_ms": 0, "error_code": denied, "results": []}
    wanted: dict[str, set[int]] | None = None
    if req.topics is not None:
        wanted = {t.topic: {int(p) for p in t.partitions} for t in req.topics}
    by_dir: dict[str, dict[str, list[dict[str, Any]]]] = {str(d): {} for d in state.config.log_dirs}
    for (topic, index), part in sorted(state.partitions.items()):
        if wanted is not None and index not in wanted.get(topic, set()):
            continue
        plog = part.log
        directory = str(plog.directory.parent)
        by_dir.setdefault(directory, {}).setdefault(topic, []).append(
            {
                "partition_index": index,
                "partition_size": plog.size_bytes,
                "offset_lag": part.lag(),
                "is_future_key": False,
            }
        )
    results = []
    for directory, topics in by_dir.items():
        try:
            usage = shutil.disk_usage(directory)
            total, usable = usage.total, usage.free
        except OSError:
            total = usable = -1
        results.append(
            {
                "error_code": 0,
                "log_dir": directory,
                "topics": [{"name": t, "partitions": ps} for t, ps in topics.items()],
                "total_bytes": total,
                "usable_bytes": usable,
            }
        )
    return {"throttle_time_ms": 0, "error_code": 0, "results": results}
