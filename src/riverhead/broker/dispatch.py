"""Route one request frame to its handler and frame the reply.

Never raises into the engine for anything a client sent: a frame whose header cannot be
parsed, an unknown API key, an unsupported version (except ApiVersions, which answers
UNSUPPORTED_VERSION in a v0 body as KIP-511 asks) or a body that does not decode closes
that connection — what Kafka does — and is logged with the client's address. A bug in a
handler is logged with its traceback and also closes only that connection.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

from riverhead.broker.connection import Connection, FileChunk
from riverhead.broker.engine import PARKED, Parts, _Parked
from riverhead.broker.handlers import (
    alter_configs,
    alter_partition,
    alter_user_scram_credentials,
    api_versions,
    create_acls,
    create_partitions,
    create_topics,
    delete_acls,
    delete_groups,
    delete_records,
    delete_topics,
    describe_acls,
    describe_configs,
    describe_groups,
    describe_log_dirs,
    describe_user_scram_credentials,
    fetch,
    find_coordinator,
    heartbeat,
    incremental_alter_configs,
    init_producer_id,
    join_group,
    leave_group,
    list_groups,
    list_offsets,
    metadata,
    offset_commit,
    offset_delete,
    offset_fetch,
    offset_for_leader_epoch,
    produce,
    sasl_authenticate,
    sasl_handshake,
    sync_group,
)
from riverhead.broker.metrics import BrokerMetrics
from riverhead.broker.request import Reply, Request, _NoResponse
from riverhead.broker.state import BrokerState
from riverhead.protocol.apis import ApiKey, api_name, is_supported
from riverhead.protocol.frames import FrameError, parse_request_header
from riverhead.protocol.messages import RequestDecodeError
from riverhead.protocol.produce import ProduceDecodeError
from riverhead.security import gate as sasl_gate

log = logging.getLogger("riverhead.broker.dispatch")

Handler = Callable[[BrokerState, Request], Reply]

HANDLERS: dict[int, Handler] = {
    ApiKey.PRODUCE: produce.handle,
    ApiKey.FETCH: fetch.handle,
    ApiKey.LIST_OFFSETS: list_offsets.handle,
    ApiKey.METADATA: metadata.handle,
    ApiKey.FIND_COORDINATOR: find_coordinator.handle,
    ApiKey.JOIN_GROUP: join_group.handle,
    ApiKey.SYNC_GROUP: sync_group.handle,
    ApiKey.HEARTBEAT: heartbeat.handle,
    ApiKey.LEAVE_GROUP: leave_group.handle,
    ApiKey.OFFSET_COMMIT: offset_commit.handle,
    ApiKey.OFFSET_FETCH: offset_fetch.handle,
    ApiKey.LIST_GROUPS: list_groups.handle,
    ApiKey.DESCRIBE_GROUPS: describe_groups.handle,
    ApiKey.DELETE_GROUPS: delete_groups.handle,
    ApiKey.OFFSET_DELETE: offset_delete.handle,
    ApiKey.API_VERSIONS: api_versions.handle,
    ApiKey.CREATE_TOPICS: create_topics.handle,
    ApiKey.DELETE_TOPICS: delete_topics.handle,
    ApiKey.DELETE_RECORDS: delete_records.handle,
    ApiKey.INIT_PRODUCER_ID: init_producer_id.handle,
    ApiKey.DESCRIBE_CONFIGS: describe_configs.handle,
    ApiKey.ALTER_CONFIGS: alter_configs.handle,
    ApiKey.CREATE_PARTITIONS: create_partitions.handle,
    ApiKey.INCREMENTAL_ALTER_CONFIGS: incremental_alter_configs.handle,
    ApiKey.OFFSET_FOR_LEADER_EPOCH: offset_for_leader_epoch.handle,
    ApiKey.DESCRIBE_LOG_DIRS: describe_log_dirs.handle,
    ApiKey.ALTER_PARTITION: alter_partition.handle,
    ApiKey.SASL_HANDSHAKE: sasl_handshake.handle,
    ApiKey.SASL_AUTHENTICATE: sasl_authenticate.handle,
    ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS: describe_user_scram_credentials.handle,
    ApiKey.ALTER_USER_SCRAM_CREDENTIALS: alter_user_scram_credentials.handle,
    ApiKey.DESCRIBE_ACLS: describe_acls.handle,
    ApiKey.CREATE_ACLS: create_acls.handle,
    ApiKey.DELETE_ACLS: delete_acls.handle,
}

Resume = Callable[[Connection, list[bytes | FileChunk] | None], None]


class Dispatcher:
    def __init__(self, state: BrokerState) -> None:
        self.state = state
        self.resume: Resume = lambda conn, parts: None  # set by the server to engine.resume

    def __call__(self, conn: Connection, frame: memoryview) -> Parts | _Parked | None:
        session = conn.session
        if session is not None and session.protocol.uses_sasl:  # riverhead.security.gate
            screened = sasl_gate.screen(conn, session, frame)
            if screened is not sasl_gate.PASS:
                return screened  # type: ignore[return-value]
        started = time.perf_counter_ns()
        try:
            header = parse_request_header(frame)
        except FrameError as exc:
            log.warning("closing %s: bad request header: %s", conn.addr, exc)
            return None
        if header.api_key == ApiKey.API_VERSIONS and not is_supported(
            header.api_key, header.api_version
        ):
            return list(api_versions.unsupported_version_reply(header))
        handler = HANDLERS.get(header.api_key)
        if handler is None or not is_supported(header.api_key, header.api_version):
            log.warning(
                "closing %s: %s v%d is not supported (client %s)",
                conn.addr,
                api_name(header.api_key),
                header.api_version,
                header.client_id,
            )
            return None
        metrics = self.state.metrics
        resume = self.resume
        if metrics is not None:  # a parked request is timed until its answer is queued
            resume = functools.partial(_timed_resume, resume, metrics, header.api_key, started)
        request = Request(header, frame, conn, resume)
        try:
            reply = handler(self.state, request)
        except (RequestDecodeError, ProduceDecodeError) as exc:
            log.warning(
                "closing %s: malformed %s v%d request: %s",
                conn.addr,
                api_name(header.api_key),
                header.api_version,
                exc,
            )
            return None
        except Exception:
            log.exception(
                "closing %s: %s v%d handler failed",
                conn.addr,
                api_name(header.api_key),
                header.api_version,
            )
            return None
        if isinstance(reply, _Parked):
            return PARKED
        if isinstance(reply, _NoResponse):
            if metrics is not None:
                metrics.request(header.api_key, time.perf_counter_ns() - started)
            return []
        try:
            parts = request.frame_reply(reply)
        except Exception:
            log.exception(
                "closing %s: cannot encode the %s v%d response",
                conn.addr,
                api_name(header.api_key),
                header.api_version,
            )
            return None
        if metrics is not None:
            metrics.request(header.api_key, time.perf_counter_ns() - started)
        return parts


def _timed_resume(
    resume: Resume,
    metrics: BrokerMetrics,
    api_key: int,
    started: int,
    conn: Connection,
    parts: list[bytes | FileChunk] | None,
) -> None:
    metrics.request(api_key, time.perf_counter_ns() - started)
    resume(conn, parts)
