"""The controller: one broker, elected through ZooKeeper, that owns partition leadership.

Events (broker set changed, topics created or deleted, ISR change requests from leaders,
controlled-shutdown requests, the preferred-leader check) are queued and handled one at a
time on the controller's own thread, as Kafka's ``ControllerEventManager`` does, so the
controller's view (live brokers, assignments, partition states) needs no locks of its own.

Every write goes through :meth:`ZkStore.fenced`; when that raises
:class:`~riverhead.cluster.zk.ControllerMoved` the controller stops at once. Brokers learn
their roles from the partition states the controller writes (see
:mod:`riverhead.cluster.node`), so there is no separate LeaderAndIsr push: a state znode
is the LeaderAndIsr record, with the controller epoch and leader epoch in it.

Rules (Kafka's ZooKeeper-era controller):

* new topic: leader = first live replica, ISR = live replicas, leader epoch 0;
* broker loss (or a broker that came back with a new epoch): it leaves every ISR, and
  every partition it led elects the first replica in assignment order that is alive and
  in the ISR — never outside the ISR unless ``unclean.leader.election.enable``; with no
  candidate the partition goes offline (leader -1) keeping its last ISR, and is elected
  again when an ISR replica returns. Each of these changes bumps the leader epoch;
* AlterPartition: compare-and-set on (leader epoch, partition epoch), new members must
  be live brokers not shutting down; the leader epoch is not bumped (as in KRaft);
* controlled shutdown: leadership moves to the next live ISR replica, the broker leaves
  the ISRs (a partition that has no other ISR replica keeps it);
* preferred leader: every ``leader.imbalance.check.interval.seconds`` partitions whose
  first replica is alive and in the ISR but not leading move back to it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from riverhead.cluster.election import controlled_shutdown_leader, elect_leader
from riverhead.cluster.model import (
    NO_LEADER,
    BrokerInfo,
    PartitionState,
    TopicAssignment,
    config_path,
    state_path,
    topic_path,
)
from riverhead.cluster.zk import (
    DELETE_TOPICS,
    PARTITION_CHANGES,
    SHUTDOWN,
    ControllerLease,
    ControllerMoved,
    StateChanged,
    ZkStore,
)
from riverhead.protocol.errors import ErrorCode

log = logging.getLogger("riverhead.cluster")

TP = tuple[str, int]
_BATCH = 200  # znode writes per ZooKeeper transaction


@dataclass
class IsrChange:
    """One partition of an AlterPartition request."""

    topic: str
    partition: int
    leader_epoch: int
    partition_epoch: int
    new_isr: tuple[int, ...]


@dataclass
class IsrResult:
    error: ErrorCode
    state: PartitionState | None = None


@dataclass
class _View:
    live: dict[int, BrokerInfo] = field(default_factory=dict)
    assignments: dict[str, TopicAssignment] = field(default_factory=dict)
    states: dict[TP, PartitionState] = field(default_factory=dict)
    shutting: set[int] = field(default_factory=set)


class Controller:
    """Active while this broker holds the controller lease; see the module docstring."""

    def __init__(
        self,
        store: ZkStore,
        lease: ControllerLease,
        *,
        unclean: bool,
        preferred_interval_s: float,
        on_resign: Callable[[], None],
    ) -> None:
        self.store = store
        self.lease = lease
        self.unclean = unclean
        self.preferred_interval_s = preferred_interval_s
        self._on_resign = on_resign
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._view = _View()
        self._active = True
        self._thread = threading.Thread(
            target=self._run, name=f"riverhead-controller-{lease.epoch}", daemon=True
        )

    @property
    def epoch(self) -> int:
        return self.lease.epoch

    @property
    def active(self) -> bool:
        return self._active

    def start(self) -> None:
        self._thread.start()
        self.store.watch_brokers(lambda: self.post("brokers"))
        self.store.watch_topics(lambda _t: self.post("topics"))
        self.store.watch_delete_requests(lambda: self.post("deletes"))
        self.store.watch_shutdown_requests(lambda: self.post("shutdowns"))
        self.store.watch_partition_changes(lambda: self.post("partitions"))

    def stop(self) -> None:
        """Stop acting (session suspended or lost, or the broker stops). Idempotent."""
        if not self._active:
            return
        self._active = False
        self._events.put(("stop", None))

    def post(self, kind: str, payload: Any = None) -> None:
        if self._active:
            self._events.put((kind, payload))

    def alter_partition(
        self, broker_id: int, broker_epoch: int, changes: list[IsrChange]
    ) -> Future[list[IsrResult]]:
        future: Future[list[IsrResult]] = Future()
        if not self._active:
            future.set_result([IsrResult(ErrorCode.NOT_CONTROLLER) for _ in changes])
        else:
            self._events.put(("alter", (broker_id, broker_epoch, changes, future)))
        return future

    # ---- the event loop ---------------------------------------------------------------
    def _run(self) -> None:
        handlers: dict[str, Callable[[Any], None]] = {
            "brokers": lambda _p: self._on_brokers(),
            "topics": lambda _p: self._on_topics(),
            "deletes": lambda _p: self._on_deletes(),
            "shutdowns": lambda _p: self._on_shutdowns(),
            "partitions": lambda _p: self._on_partition_changes(),
            "alter": self._on_alter,
        }
        next_preferred = time.monotonic() + self.preferred_interval_s
        try:
            self._load()
            while self._active:
                timeout = max(0.0, next_preferred - time.monotonic())
                try:
                    kind, payload = self._events.get(timeout=timeout)
                except queue.Empty:
                    self._preferred_election()
                    next_preferred = time.monotonic() + self.preferred_interval_s
                    continue
                if kind == "stop":
                    break
                handlers[kind](payload)
        except ControllerMoved as exc:
            log.warning("controller epoch %d fenced: %s", self.epoch, exc)
        except Exception:
            log.exception("controller epoch %d failed; resigning", self.epoch)
            try:
                self.store.resign(self.lease)
            except Exception as exc:
                log.warning("resigning failed: %s", exc)
        finally:
            self._active = False
            self._fail_pending()
            self._on_resign()

    def _fail_pending(self) -> None:
        while True:
            try:
                kind, payload = self._events.get_nowait()
            except queue.Empty:
                return
            if kind == "alter":
                changes, future = payload[2], payload[3]
                future.set_result([IsrResult(ErrorCode.NOT_CONTROLLER) for _ in changes])

    # ---- loading and writing ----------------------------------------------------------
    def _load(self) -> None:
        view = self._view
        view.live = self.store.live_brokers()
        for topic in self.store.topics():
            self._load_topic(topic)
        log.info(
            "controller epoch %d active: brokers %s, %d topics, %d partitions",
            self.epoch,
            sorted(view.live),
            len(view.assignments),
            len(view.states),
        )
        self._on_topics()
        self._reelect(set())
        self._on_deletes()
        self._on_shutdowns()

    def _load_topic(self, topic: str) -> None:
        assignment = self.store.read_assignment(topic)
        if assignment is None:
            return
        self._view.assignments[topic] = assignment
        for p in assignment.replicas:
            state = self.store.read_state(topic, p)
            if state is not None:
                self._view.states[(topic, p)] = state

    def _write(
        self, states: dict[TP, PartitionState], extra: Callable[[Any], None] | None = None
    ) -> None:
        """Write new partition states (CAS on each znode version) and update the view."""
        items = sorted(states.items())
        if not items and extra is None:
            return
        for start in range(0, max(len(items), 1), _BATCH):
            chunk = items[start : start + _BATCH]
            for (topic, p), _ in chunk:
                if (topic, p) not in self._view.states:
                    self.store.client.ensure_path(f"{topic_path(topic)}/partitions/{p}")

            def ops(
                txn: Any, chunk: list[tuple[TP, PartitionState]] = chunk, first: bool = start == 0
            ) -> None:
                for (topic, p), new in chunk:
                    old = self._view.states.get((topic, p))
                    data = replace(new, controller_epoch=self.epoch).to_json()
                    if old is None:
                        txn.create(state_path(topic, p), data)
                    else:
                        txn.set_data(state_path(topic, p), data, version=old.partition_epoch)
                if extra is not None and first:
                    extra(txn)

            try:
                self.store.fenced(self.lease, ops, sorted({t for (t, _), _ in chunk}))
            except StateChanged:
                for topic in {t for (t, _), _ in chunk}:
                    self._load_topic(topic)
                raise
            for (topic, p), new in chunk:
                old = self._view.states.get((topic, p))
                epoch = 0 if old is None else old.partition_epoch + 1
                self._view.states[(topic, p)] = replace(
                    new, controller_epoch=self.epoch, partition_epoch=epoch
                )
                log.info(
                    "%s-%d: leader %d epoch %d isr %s",
                    topic,
                    p,
                    new.leader,
                    new.leader_epoch,
                    list(new.isr),
                )

    # ---- events -----------------------------------------------------------------------
    def _on_brokers(self) -> None:
        view = self._view
        before = view.live
        now = self.store.live_brokers()
        # A broker back with a new epoch restarted: treat it as lost, then new (KAFKA-7235).
        bounced = {b for b in now if b in before and now[b].epoch != before[b].epoch}
        lost = (set(before) - set(now)) | bounced
        new = (set(now) - set(before)) | bounced
        view.live = now
        view.shutting &= set(now)
        if lost or new:
            log.info("brokers: lost %s, new %s, live %s", sorted(lost), sorted(new), sorted(now))
        self._reelect(lost)

    def _reelect(self, lost: set[int]) -> None:
        """Drop ``lost`` brokers from ISRs and elect leaders where none is live (offline
        partitions included, so a returning ISR replica takes over)."""
        view = self._view
        live = set(view.live) - lost
        candidates = live - view.shutting
        changes: dict[TP, PartitionState] = {}
        for tp, st in view.states.items():
            assignment = view.assignments.get(tp[0])
            if assignment is None:
                continue
            replicas = assignment.replicas.get(tp[1], ())
            isr = tuple(b for b in st.isr if b not in lost)
            leader_gone = st.leader == NO_LEADER or st.leader in lost or st.leader not in live
            if leader_gone:
                leader = elect_leader(replicas, isr, candidates, unclean=self.unclean)
                if leader == NO_LEADER:
                    # Offline: keep the last ISR (never empty) so its return can lead.
                    kept = isr or st.isr
                    if st.leader != NO_LEADER or kept != st.isr:
                        changes[tp] = replace(
                            st, leader=NO_LEADER, leader_epoch=st.leader_epoch + 1, isr=kept
                        )
                    continue
                if leader not in isr:  # unclean election
                    log.warning("%s-%d: unclean election of %d", tp[0], tp[1], leader)
                    isr = (leader,)
                changes[tp] = replace(st, leader=leader, leader_epoch=st.leader_epoch + 1, isr=isr)
            elif isr != st.isr:
                changes[tp] = replace(st, leader_epoch=st.leader_epoch + 1, isr=isr)
        self._write(changes)

    def _on_topics(self) -> None:
        view = self._view
        current = set(self.store.topics())
        for gone in set(view.assignments) - current:
            view.assignments.pop(gone, None)
            for tp in [tp for tp in view.states if tp[0] == gone]:
                view.states.pop(tp)
        changes: dict[TP, PartitionState] = {}
        live = set(view.live) - view.shutting
        for topic in sorted(current):
            assignment = self.store.read_assignment(topic)
            if assignment is None:
                continue
            view.assignments[topic] = assignment
            for p, replicas in assignment.replicas.items():
                if (topic, p) in view.states:
                    continue
                state = self.store.read_state(topic, p)
                if state is not None:
                    view.states[(topic, p)] = state
                    continue
                isr = tuple(r for r in replicas if r in view.live) or tuple(replicas)
                leader = next((r for r in isr if r in live), NO_LEADER)
                changes[(topic, p)] = PartitionState(leader, 0, isr, self.epoch)
        self._write(changes)

    def _on_partition_changes(self) -> None:
        """Partitions were added to assignments: give them states, then drop the requests."""
        requests = self.store.partition_change_requests()
        if not requests:
            return
        self._on_topics()

        def ops(txn: Any) -> None:
            for name in requests:
                txn.delete(f"{PARTITION_CHANGES}/{name}")

        topics = sorted({name.rsplit("-", 1)[0] for name in requests})
        self.store.fenced(self.lease, ops, topics)

    def _on_deletes(self) -> None:
        for topic in self.store.delete_requests():
            assignment = self._view.assignments.get(topic) or self.store.read_assignment(topic)
            partitions = sorted(assignment.replicas) if assignment else []

            def ops(txn: Any, topic: str = topic, partitions: list[int] = partitions) -> None:
                for p in partitions:
                    if self.store.exists(state_path(topic, p)):
                        txn.delete(state_path(topic, p))
                    if self.store.exists(f"{topic_path(topic)}/partitions/{p}"):
                        txn.delete(f"{topic_path(topic)}/partitions/{p}")
                if self.store.exists(f"{topic_path(topic)}/partitions"):
                    txn.delete(f"{topic_path(topic)}/partitions")
                if self.store.exists(topic_path(topic)):
                    txn.delete(topic_path(topic))
                if self.store.exists(config_path(topic)):
                    txn.delete(config_path(topic))
                txn.delete(f"{DELETE_TOPICS}/{topic}")

            self.store.fenced(self.lease, ops, [topic])
            self._view.assignments.pop(topic, None)
            for p in partitions:
                self._view.states.pop((topic, p), None)
            log.info("deleted topic %s", topic)

    def _on_shutdowns(self) -> None:
        view = self._view
        requests = self.store.shutdown_requests()
        for broker, epoch in sorted(requests.items()):
            info = view.live.get(broker)
            if info is not None and info.epoch != epoch:
                log.warning("ignoring shutdown request of broker %d: stale epoch", broker)
            else:
                view.shutting.add(broker)
            candidates = set(view.live) - view.shutting
            changes: dict[TP, PartitionState] = {}
            for tp, st in view.states.items():
                assignment = view.assignments.get(tp[0])
                replicas = assignment.replicas.get(tp[1], ()) if assignment else ()
                if st.leader == broker:
                    leader = controlled_shutdown_leader(replicas, st.isr, candidates, view.shutting)
                    if leader == NO_LEADER:
                        continue  # no one else can lead: it goes offline when the broker stops
                    isr = tuple(b for b in st.isr if b != broker)
                    changes[tp] = replace(
                        st, leader=leader, leader_epoch=st.leader_epoch + 1, isr=isr
                    )
                elif broker in st.isr and len(st.isr) > 1:
                    isr = tuple(b for b in st.isr if b != broker)
                    changes[tp] = replace(st, leader_epoch=st.leader_epoch + 1, isr=isr)

            def done(txn: Any, broker: int = broker) -> None:
                txn.delete(f"{SHUTDOWN}/{broker}")

            self._write(changes, extra=done)
            log.info("controlled shutdown of broker %d: moved %d partitions", broker, len(changes))

    def _on_alter(self, payload: tuple[int, int, list[IsrChange], Future[list[IsrResult]]]) -> None:
        broker_id, broker_epoch, changes, future = payload
        view = self._view
        results: list[IsrResult] = []
        writes: dict[TP, PartitionState] = {}
        info = view.live.get(broker_id)
        for change in changes:
            tp = (change.topic, change.partition)
            st = view.states.get(tp)
            if info is None or info.epoch != broker_epoch:
                results.append(IsrResult(ErrorCode.STALE_BROKER_EPOCH))
            elif st is None:
                results.append(IsrResult(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
            elif st.leader != broker_id:
                results.append(IsrResult(ErrorCode.NOT_LEADER_OR_FOLLOWER, st))
            elif change.leader_epoch != st.leader_epoch:
                results.append(IsrResult(ErrorCode.FENCED_LEADER_EPOCH, st))
            elif change.partition_epoch != st.partition_epoch:
                results.append(IsrResult(ErrorCode.INVALID_UPDATE_VERSION, st))
            elif broker_id not in change.new_isr or any(
                b not in view.live or (b in view.shutting and b not in st.isr)
                for b in change.new_isr
            ):
                results.append(IsrResult(ErrorCode.INELIGIBLE_REPLICA, st))
            else:
                writes[tp] = replace(st, isr=tuple(change.new_isr))
                results.append(IsrResult(ErrorCode.NONE))
        try:
            self._write(writes)
        except StateChanged:
            results = [
                IsrResult(ErrorCode.INVALID_UPDATE_VERSION) if r.error == ErrorCode.NONE else r
                for r in results
            ]
        except ControllerMoved:
            future.set_result([IsrResult(ErrorCode.NOT_CONTROLLER) for _ in changes])
            raise
        for change, result in zip(changes, results, strict=True):
            if result.error == ErrorCode.NONE:
                result.state = view.states[(change.topic, change.partition)]
        future.set_result(results)

    def _preferred_election(self) -> None:
        view = self._view
        candidates = set(view.live) - view.shutting
        changes: dict[TP, PartitionState] = {}
        for tp, st in view.states.items():
            assignment = view.assignments.get(tp[0])
            replicas = assignment.replicas.get(tp[1], ()) if assignment else ()
            if not replicas:
                continue
            preferred = replicas[0]
            if st.leader != preferred and preferred in st.isr and preferred in candidates:
                changes[tp] = replace(st, leader=preferred, leader_epoch=st.leader_epoch + 1)
        if changes:
            log.info("preferred leader election moves %d partitions", len(changes))
        self._write(changes)
