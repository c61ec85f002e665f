"""The topic registry of a single broker: names, ids, partition counts, topic configs.

Persisted as ``riverhead-metadata.json`` in the first log dir, rewritten atomically
(write to a temporary file, fsync, rename) on every change::

    {"version": 1, "cluster_id": "...", "next_producer_id": 1000,
     "topics": {"orders": {"id": "<uuid>", "partitions": 3, "configs": {"retention.ms": "1000"}}}}

``next_producer_id`` is the first id of the next block of producer ids: ids are handed out
from a block of :data:`PRODUCER_ID_BLOCK` reserved on disk before use, so a crash never
hands out an id twice.

Thread-safe: every method takes ``self.lock``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

METADATA_FILE = "riverhead-metadata.json"
PRODUCER_ID_BLOCK = 1000
MAX_TOPIC_NAME = 249
_LEGAL_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")


def topic_name_error(name: str) -> str | None:
    """Why ``name`` is not a legal Kafka topic name, or None if it is."""
    if not name:
        return "topic name is empty"
    if name in (".", ".."):
        return f"topic name cannot be {name!r}"
    if len(name) > MAX_TOPIC_NAME:
        return f"topic name is longer than {MAX_TOPIC_NAME} characters"
    if not _LEGAL_NAME.match(name):
        return f"topic name {name!r} may contain only ASCII letters, digits, '.', '_' and '-'"
    return None


@dataclass
class TopicInfo:
    name: str
    topic_id: uuid.UUID
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)

    @property
    def internal(self) -> bool:
        return self.name.startswith("__")


class TopicRegistry:
    def __init__(self, directory: Path, cluster_id: str = "") -> None:
        self.path = directory / METADATA_FILE
        self.lock = threading.RLock()
        self.topics: dict[str, TopicInfo] = {}
        self.cluster_id = cluster_id
        self._next_pid = 0
        self._pid_limit = 0
        # Cluster mode: reserves ``n`` ids cluster-wide and returns the first.
        self.allocate_block: Callable[[int], int] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self._load()
        if not self.cluster_id:
            self.cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            self._save()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return
        self.cluster_id = data.get("cluster_id") or self.cluster_id
        self._next_pid = self._pid_limit = int(data.get("next_producer_id", 0))
        for name, raw in data.get("topics", {}).items():
            self.topics[name] = TopicInfo(
                name, uuid.UUID(raw["id"]), int(raw["partitions"]), dict(raw.get("configs", {}))
            )

    def _save(self) -> None:
        data = {
            "version": 1,
            "cluster_id": self.cluster_id,
            "next_producer_id": self._pid_limit,
            "topics": {
                t.name: {"id": str(t.topic_id), "partitions": t.partitions, "configs": t.configs}
                for t in self.topics.values()
            },
        }
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)

    # ---- topics -------------------------------------------------------------------
    def get(self, name: str) -> TopicInfo | None:
        with self.lock:
            return self.topics.get(name)

    def by_id(self, topic_id: uuid.UUID) -> TopicInfo | None:
        with self.lock:
            return next((t for t in self.topics.values() if t.topic_id == topic_id), None)

    def all(self) -> list[TopicInfo]:
        with self.lock:
            return sorted(self.topics.values(), key=lambda t: t.name)

    def add(
        self,
        name: str,
        partitions: int,
        configs: dict[str, str],
        topic_id: uuid.UUID | None = None,
    ) -> TopicInfo:
        with self.lock:
            info = TopicInfo(name, topic_id or uuid.uuid4(), partitions, dict(configs))
            self.topics[name] = info
            self._save()
            return info

    def remove(self, name: str) -> TopicInfo | None:
        with self.lock:
            info = self.topics.pop(name, None)
            if info is not None:
                self._save()
            return info

    def set_partitions(self, name: str, count: int) -> None:
        with self.lock:
            self.topics[name].partitions = count
            self._save()

    def set_configs(self, name: str, configs: dict[str, str]) -> None:
        with self.lock:
            self.topics[name].configs = dict(configs)
            self._save()

    # ---- producer ids -------------------------------------------------------------
    def next_producer_id(self) -> int:
        """A producer id never handed out before (by this broker, or by any broker of the
        cluster once :attr:`allocate_block` reserves blocks in ZooKeeper)."""
        with self.lock:
            if self._next_pid >= self._pid_limit:
                if self.allocate_block is not None:
                    self._next_pid = self.allocate_block(PRODUCER_ID_BLOCK)
                self._pid_limit = self._next_pid + PRODUCER_ID_BLOCK
                self._save()
            pid = self._next_pid
            self._next_pid += 1
            return pid
