"""What a handler receives and what it may return.

A handler is ``handle(state, request) -> Reply`` in ``riverhead.broker.handlers.<api>``.
It returns one of:

* a ``dict`` tree: the response body as field names → values, shaped to the request's
  version by :func:`riverhead.protocol.messages.encode_response`;
* ``bytes``: a body it encoded itself (hot paths);
* a :class:`Body` of parts (bytes and zero-copy file chunks) with their total size;
* :data:`NO_RESPONSE`: send nothing (Produce with acks=0);
* :data:`~riverhead.broker.engine.PARKED`: the handler parked the connection on a delayed
  operation that will call :meth:`Request.complete` later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from riverhead.broker.connection import Connection, FileChunk
from riverhead.broker.engine import _Parked
from riverhead.protocol.frames import SIZE, RequestHeader, response_header
from riverhead.protocol.messages import decode_request, encode_response

log = logging.getLogger("riverhead.broker")


@dataclass(slots=True)
class Body:
    parts: list[bytes | FileChunk]
    size: int


class _NoResponse:
    def __repr__(self) -> str:
        return "NO_RESPONSE"


NO_RESPONSE: Final = _NoResponse()

Reply = Mapping[str, Any] | bytes | Body | _NoResponse | _Parked


@dataclass(slots=True)
class Request:
    header: RequestHeader
    frame: memoryview
    conn: Connection
    resume: Callable[[Connection, list[bytes | FileChunk] | None], None]

    @property
    def version(self) -> int:
        return self.header.api_version

    @property
    def api_key(self) -> int:
        return self.header.api_key

    def decode(self) -> Any:
        """The request body decoded by its kio schema (raises RequestDecodeError)."""
        return decode_request(self.api_key, self.version, self.frame.toreadonly(), self.header.size)

    def frame_reply(self, reply: Mapping[str, Any] | bytes | Body) -> list[bytes | FileChunk]:
        """Size prefix + response header + body, as parts ready for the connection."""
        head = response_header(self.header.correlation_id, self.api_key, self.version)
        if isinstance(reply, Body):
            return [SIZE.pack(len(head) + reply.size) + head, *reply.parts]
        body = (
            reply
            if isinstance(reply, bytes)
            else encode_response(self.api_key, self.version, reply)
        )
        return [SIZE.pack(len(head) + len(body)) + head + body]

    def complete(self, reply: Mapping[str, Any] | bytes | Body) -> None:
        """Answer a parked request (from a delayed operation's thread). A reply that
        cannot be encoded is a broker bug: it is logged and the connection closed."""
        try:
            parts: list[bytes | FileChunk] | None = self.frame_reply(reply)
        except Exception:
            log.exception("closing %s: cannot encode the reply to a parked request", self.conn.addr)
            parts = None
        self.resume(self.conn, parts)
