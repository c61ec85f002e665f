"""Storage: Kafka-style durable segmented logs, one per partition.

``LogManager`` owns the log dirs; ``PartitionLog`` is one partition (offsets, roll, read,
retention, recovery); ``LogSegment`` and the indexes are its parts. On-disk formats are
documented in each module and in ``docs/log-format.md``.
"""

from riverhead.log.config import InvalidConfig, LogConfig
from riverhead.log.index import OffsetIndex, TimeIndex
from riverhead.log.manager import CLEAN_SHUTDOWN_FILE, LogManager
from riverhead.log.partition import (
    AppendResult,
    FileSlice,
    OffsetOutOfRange,
    PartitionLog,
)
from riverhead.log.segment import LogSegment

__all__ = [
    "CLEAN_SHUTDOWN_FILE",
    "AppendResult",
    "FileSlice",
    "InvalidConfig",
    "LogConfig",
    "LogManager",
    "LogSegment",
    "OffsetIndex",
    "OffsetOutOfRange",
    "PartitionLog",
    "TimeIndex",
]
