"""A raw Kafka-protocol socket client for tests that must send bytes no real client would.

It speaks frames, not APIs: :meth:`RawClient.send_frame` writes a body with its size
prefix (or any bytes at all with :meth:`RawClient.send_raw`), :meth:`RawClient.read_frame`
reads one response frame with a timeout and reports a closed connection as
:data:`CLOSED` rather than raising. Request bodies for well-formed requests are encoded
with ``kio`` (:func:`encode_request`), so tests can start from valid bytes and mutate them.

Blocking sockets with timeouts; one client per thread.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import socket
import struct
import time
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Final

from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer

from riverhead.protocol.apis import is_flexible

_SIZE = struct.Struct(">i")
_HEADER = struct.Struct(">hhih")


class _Closed:
    def __repr__(self) -> str:
        return "CLOSED"


CLOSED: Final = _Closed()
"""What :meth:`RawClient.read_frame` returns when the peer closed (or reset) the socket."""


class ReadTimeout(AssertionError):
    """No complete response frame arrived in time (the broker neither answered nor closed)."""


def request_header(
    api_key: int, api_version: int, correlation_id: int, client_id: str | None = "raw-client"
) -> bytes:
    """Request header v1, or v2 (v1 + an empty tagged-field buffer) for flexible versions."""
    if client_id is None:
        head = _HEADER.pack(api_key, api_version, correlation_id, -1)
    else:
        raw = client_id.encode()
        head = _HEADER.pack(api_key, api_version, correlation_id, len(raw)) + raw
    if is_flexible(api_key, api_version):
        head += b"\x00"
    return head


def encode_body(api_key: int, api_version: int, **fields: Any) -> bytes:
    """A request body encoded by kio's schema for (api_key, api_version)."""
    cls = load_request_schema(api_key, api_version)
    out = io.BytesIO()
    entity_writer(cls)(out, cls(**fields))
    return out.getvalue()


def encode_request(
    api_key: int,
    api_version: int,
    correlation_id: int,
    client_id: str | None = "raw-client",
    **fields: Any,
) -> bytes:
    """Header + body (no size prefix) of a valid request."""
    return request_header(api_key, api_version, correlation_id, client_id) + encode_body(
        api_key, api_version, **fields
    )


def frame(body: bytes) -> bytes:
    """``body`` with its int32 size prefix."""
    return _SIZE.pack(len(body)) + body


@dataclass(frozen=True)
class Response:
    correlation_id: int
    body: bytes  # everything after the correlation id (incl. a v1 header's tag buffer)

    def decode(self, api_key: int, api_version: int) -> Any:
        """Decode the body with kio (response header v0 for ApiVersions, else v0/v1)."""
        pos = 1 if is_flexible(api_key, api_version) and api_key != 18 else 0
        obj, _ = entity_reader(load_response_schema(api_key, api_version))(self.body, pos)
        return obj


class RawClient:
    """One TCP connection to a broker; use as a context manager."""

    def __init__(self, bootstrap: str, timeout: float = 10.0) -> None:
        host, _, port = bootstrap.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self._buf = bytearray()
        self._next_correlation = 1

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def correlation_id(self) -> int:
        cid = self._next_correlation
        self._next_correlation += 1
        return cid

    # ---- sending ------------------------------------------------------------------
    def send_raw(self, data: bytes) -> bool:
        """Write bytes as they are; False if the peer has already closed the socket."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def send_frame(self, body: bytes) -> bool:
        return self.send_raw(frame(body))

    # ---- receiving ----------------------------------------------------------------
    def _fill(self, deadline: float) -> bool:
        """Read more bytes; False at EOF/reset. Raises ReadTimeout at the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise ReadTimeout("no response before the deadline")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 16)
        except TimeoutError:
            raise ReadTimeout("no response before the deadline") from None
        except OSError:  # ECONNRESET: the broker closed with unread input pending
            return False
        if not chunk:
            return False
        self._buf += chunk
        return True

    def read_frame(self, timeout: float | None = None) -> bytes | _Closed:
        """The next response frame's payload (size prefix removed), or CLOSED."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self._buf) < 4:
            if not self._fill(deadline):
                return CLOSED
        (size,) = _SIZE.unpack_from(self._buf, 0)
        assert 4 <= size < 1 << 30, f"response declares {size} bytes"
        while len(self._buf) < 4 + size:
            if not self._fill(deadline):
                return CLOSED
        payload = bytes(self._buf[4 : 4 + size])
        del self._buf[: 4 + size]
        return payload

    def read_response(self, timeout: float | None = None) -> Response | _Closed:
        payload = self.read_frame(timeout)
        if isinstance(payload, _Closed):
            return payload
        (cid,) = struct.unpack_from(">i", payload, 0)
        return Response(cid, payload[4:])

    def wait_closed(self, timeout: float | None = None) -> bool:
        """True if the broker closes the connection (any pending responses are skipped)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while self._fill(deadline):
                pass
        except ReadTimeout:
            return False
        return True

    # ---- convenience ----------------------------------------------------------------
    def call(self, api_key: int, api_version: int, **fields: Any) -> Any:
        """Send a valid kio-encoded request and decode its response (asserts no close)."""
        cid = self.correlation_id()
        self.send_frame(encode_request(api_key, api_version, cid, **fields))
        resp = self.read_response()
        assert not isinstance(resp, _Closed), f"broker closed the connection on api {api_key}"
        assert resp.correlation_id == cid, (resp.correlation_id, cid)
        return resp.decode(api_key, api_version)


def check_healthy(bootstrap: str, timeout: float = 10.0) -> None:
    """A fresh connection can do ApiVersions v0..3 and Metadata (all topics)."""
    with RawClient(bootstrap, timeout) as client:
        versions = client.call(18, 3, client_software_name="raw", client_software_version="1")
        assert int(versions.error_code) == 0, versions
        keys = {int(k.api_key) for k in versions.api_keys}
        assert {0, 1, 3, 18} <= keys, keys
        meta = client.call(3, 1, topics=None)
        assert len(meta.brokers) == 1, meta


def produce_body(
    topic: str, partition: int, records: bytes, *, acks: int = -1, version: int = 7
) -> bytes:
    """A Produce request body (kio) carrying one partition's record batch."""
    schema = import_module(f"kio.schema.produce.v{version}.request")
    return encode_body(
        0,
        version,
        transactional_id=None,
        acks=acks,
        timeout=datetime.timedelta(seconds=10),
        topic_data=(
            schema.TopicProduceData(
                name=topic,
                partition_data=(schema.PartitionProduceData(index=partition, records=records),),
            ),
        ),
    )


def produce(
    client: RawClient, topic: str, partition: int, records: bytes, *, version: int = 7
) -> tuple[int, int]:
    """Produce one batch with acks=all; returns (error_code, base_offset)."""
    cid = client.correlation_id()
    client.send_frame(request_header(0, version, cid) + produce_body(topic, partition, records))
    resp = client.read_response()
    assert not isinstance(resp, _Closed), "broker closed the connection on Produce"
    assert resp.correlation_id == cid
    body = resp.decode(0, version)
    part = body.responses[0].partition_responses[0]
    return int(part.error_code), int(part.base_offset)


# ---- sample requests for every supported API version ------------------------------------

_TOPIC_FOR_API = {20: "fuzz-nonexistent", 19: "fuzz-created"}
_NAMED_INTS = {
    "acks": -1,
    "num_partitions": 1,
    "replication_factor": 1,
    "producer_id": -1,
    "producer_epoch": -1,
    "timestamp": -1,
    "replica_id": -1,
    "max_bytes": 1 << 20,
    "partition_max_bytes": 1 << 20,
    "max_num_offsets": 1,
    "current_leader_epoch": -1,
    "leader_epoch": -1,
}


def _sample_value(api_key: int, f: Any, records: bytes) -> Any:
    from dataclasses import fields as dc_fields  # local: only the sample builder needs it

    from kio.serial._introspect import (
        EntityField,
        EntityTupleField,
        PrimitiveTupleField,
        classify_field,
    )

    kind = classify_field(f)
    kafka_type = f.metadata.get("kafka_type", "")
    if isinstance(kind, EntityTupleField):
        return (_sample_entity(api_key, kind.type_, records, dc_fields),)
    if isinstance(kind, EntityField):
        return _sample_entity(api_key, kind.type_, records, dc_fields)
    if isinstance(kind, PrimitiveTupleField):
        return (_scalar(api_key, f.name, kafka_type, records),)
    return _scalar(api_key, f.name, kafka_type, records)


def _scalar(api_key: int, name: str, kafka_type: str, records: bytes) -> Any:
    import uuid

    if kafka_type.startswith("timedelta"):
        return datetime.timedelta(0)
    if kafka_type == "datetime_i64":
        return datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    if kafka_type in ("int8", "int16", "int32", "int64", "uint16", "uint32"):
        return _NAMED_INTS.get(name, 0)
    if kafka_type == "string":
        return _TOPIC_FOR_API.get(api_key, "fuzz-target")
    if kafka_type == "bool":
        return name == "validate_only"
    if kafka_type == "records":
        return records
    if kafka_type == "bytes":
        return b""
    if kafka_type == "uuid":
        return uuid.UUID(int=0)
    if kafka_type == "float64":
        return 0.0
    if kafka_type == "error_code":
        from kio.schema.errors import ErrorCode

        return ErrorCode(0)
    raise ValueError(f"no sample for kafka type {kafka_type!r} ({name})")


def _sample_entity(api_key: int, cls: Any, records: bytes, dc_fields: Any) -> Any:
    return cls(**{f.name: _sample_value(api_key, f, records) for f in dc_fields(cls)})


def sample_body(api_key: int, api_version: int, records: bytes = b"") -> bytes:
    """A valid, harmless request body for (api_key, api_version): topics are named
    ``fuzz-target`` (``fuzz-created`` with validate_only for CreateTopics,
    ``fuzz-nonexistent`` for DeleteTopics), timeouts 0, Produce acks=all carrying
    ``records``."""
    from dataclasses import fields as dc_fields

    cls = load_request_schema(api_key, api_version)
    entity = _sample_entity(api_key, cls, records, dc_fields)
    out = io.BytesIO()
    entity_writer(cls)(out, entity)
    return out.getvalue()
