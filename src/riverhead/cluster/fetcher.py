"""Follower fetchers: one thread per leader broker, pulling every partition this broker
follows from that leader with the Kafka Fetch API (v12, ``replica_id`` = this broker).

Per partition each request carries the follower's log end offset (which acknowledges
everything below it to the leader), the leader epoch it believes current, and the epoch
of its last fetched batch. The leader answers with batches, its high watermark, or a
``DivergingEpoch`` when the follower's log has diverged; the follower then truncates as
Kafka's ``AbstractFetcherThread`` does (never by high watermark, except when the leader
knows no epoch as old as the follower's):

* leader answers epoch E with end offset X; if the follower has epoch E it truncates to
  ``min(X, its own end of E)``; if not, to the end of its largest epoch below E, and the
  next fetch (with an older last-fetched epoch) narrows it further (KIP-279).

Errors such as NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH mean the metadata moved:
the partition waits for the replica manager to re-point it. Thread-safe interface
(:meth:`add`, :meth:`remove`, :meth:`stop`); the loop runs on its own thread.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from riverhead.cluster.channel import Channel, ChannelError
from riverhead.cluster.replica import truncation_point
from riverhead.protocol.errors import ErrorCode

if TYPE_CHECKING:
    from riverhead.broker.partition import Partition

log = logging.getLogger("riverhead.cluster")

FETCH_VERSION = 12
TP = tuple[str, int]


def _classes() -> tuple[Any, Any, Any]:
    from kio.schema.fetch.v12.request import FetchPartition, FetchRequest, FetchTopic

    return FetchRequest, FetchTopic, FetchPartition


def truncation_offset(part: Partition, epoch: int, end_offset: int) -> int:
    """Where a follower truncates after the leader reported ``DivergingEpoch(epoch, end)``."""
    return truncation_point(
        part.epochs, part.log.log_end_offset, part.log.high_watermark, epoch, end_offset
    )


class FetcherThread:
    """Fetches from one leader broker; ``endpoint()`` gives its (host, port) or None."""

    def __init__(
        self,
        node_id: int,
        leader_id: int,
        endpoint: Callable[[], tuple[str, int] | None],
        *,
        wait_ms: int,
        max_bytes: int,
        on_appended: Callable[[Partition], None],
    ) -> None:
        self.node_id = node_id
        self.leader_id = leader_id
        self._endpoint = endpoint
        self.wait_ms = wait_ms
        self.max_bytes = max_bytes
        self._on_appended = on_appended
        self._partitions: dict[TP, Partition] = {}
        self._lock = threading.Condition()
        self._running = True
        self._channel: Channel | None = None
        self._errors: dict[TP, int] = {}  # last error logged per partition
        self._thread = threading.Thread(
            target=self._run, name=f"riverhead-fetcher-{leader_id}", daemon=True
        )
        self._thread.start()

    def add(self, part: Partition) -> None:
        with self._lock:
            self._partitions[(part.topic, part.index)] = part
            self._lock.notify()

    def remove(self, tp: TP) -> None:
        with self._lock:
            self._partitions.pop(tp, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._partitions)

    def stop(self) -> None:
        with self._lock:
            self._running = False
            self._lock.notify()
        self._thread.join(timeout=5)
        if self._channel is not None:
            self._channel.close()

    def _run(self) -> None:
        backoff = 0.05
        while True:
            with self._lock:
                while self._running and not self._partitions:
                    self._lock.wait(1.0)
                if not self._running:
                    return
                parts = dict(self._partitions)
            try:
                self._fetch_once(parts)
                backoff = 0.05
            except ChannelError as exc:
                log.debug("fetch from broker %d failed: %s", self.leader_id, exc)
                if self._channel is not None:
                    self._channel.close()
                    self._channel = None
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            except Exception:
                log.exception("fetcher for leader %d failed; retrying", self.leader_id)
                time.sleep(0.5)

    def _fetch_once(self, parts: dict[TP, Partition]) -> None:
        endpoint = self._endpoint()
        if endpoint is None:
            time.sleep(0.2)
            return
        if self._channel is None or self._channel.address != endpoint:
            if self._channel is not None:
                self._channel.close()
            self._channel = Channel(
                endpoint[0], endpoint[1], f"replica-{self.node_id}", timeout=10.0
            )
        request_cls, topic_cls, part_cls = _classes()
        by_topic: dict[str, list[Any]] = {}
        for (topic, index), part in parts.items():
            by_topic.setdefault(topic, []).append(
                part_cls(
                    partition=index,
                    current_leader_epoch=part.leader_epoch,
                    fetch_offset=part.log.log_end_offset,
                    last_fetched_epoch=part.epochs.latest_epoch,
                    log_start_offset=part.log.log_start_offset,
                    partition_max_bytes=self.max_bytes,
                )
            )
        request = request_cls(
            cluster_id=None,
            replica_id=self.node_id,
            max_wait=datetime.timedelta(milliseconds=self.wait_ms),
            min_bytes=1,
            max_bytes=self.max_bytes * 4,
            isolation_level=0,
            session_id=0,
            session_epoch=-1,
            topics=tuple(topic_cls(topic=t, partitions=tuple(ps)) for t, ps in by_topic.items()),
            forgotten_topics_data=(),
            rack_id="",
        )
        response = self._channel.request(
            1, FETCH_VERSION, request, timeout=10.0 + self.wait_ms / 1000
        )
        stale = False
        for topic_resp in response.responses:
            for p in topic_resp.partitions:
                found = parts.get((topic_resp.topic, p.partition_index))
                if found is not None:
                    stale |= self._apply(found, p)
        if stale:
            time.sleep(0.1)  # metadata is moving; let the replica manager catch up

    def _apply(self, part: Partition, p: Any) -> bool:
        """Apply one partition of a fetch response; True if it reported stale metadata."""
        error = int(p.error_code)
        if error == ErrorCode.NONE:
            diverging = p.diverging_epoch
            # (-1, -1) is the field's default: no divergence. (-1, log start) means the
            # leader knows no epoch as old as ours: fall back to our high watermark.
            if diverging is not None and (int(diverging.epoch), int(diverging.end_offset)) != (
                -1,
                -1,
            ):
                target = truncation_offset(part, int(diverging.epoch), int(diverging.end_offset))
                log.info(
                    "%s-%d: diverging epoch %d end %d: truncating %d -> %d",
                    part.topic,
                    part.index,
                    diverging.epoch,
                    diverging.end_offset,
                    part.log.log_end_offset,
                    target,
                )
                part.truncate(target)
                return False
            records = p.records or b""
            try:
                part.append_as_follower(bytes(records), int(p.high_watermark))
            except ValueError as exc:  # offsets below our log end: metadata race
                log.warning("%s-%d: cannot append fetched data: %s", part.topic, part.index, exc)
                return True
            self._on_appended(part)
            self._errors.pop((part.topic, part.index), None)
            return False
        tp = (part.topic, part.index)
        if self._errors.get(tp) != error:  # log each change of error, not every retry
            self._errors[tp] = error
            log.info(
                "%s-%d: fetch from leader %d: %s",
                part.topic,
                part.index,
                self.leader_id,
                ErrorCode(error).name,
            )
        if error == ErrorCode.OFFSET_OUT_OF_RANGE:
            leo = part.log.log_end_offset
            if leo < int(p.log_start_offset):
                log.warning("%s-%d: restarting at the leader's log start", part.topic, part.index)
                part.truncate(0)
                part.log.truncate_to(int(p.log_start_offset))
            elif int(p.high_watermark) < leo:
                part.truncate(int(p.high_watermark))
            return False
        return True
