"""ApiVersions (key 18), v0-3: the supported version range of every implemented API.

A request for a version above 3 gets UNSUPPORTED_VERSION in a **v0** body listing the
ApiVersions range (KIP-511), so the client can retry with a version it shares with us:
librdkafka retries with v0, kafka-python with the advertised maximum.
ApiVersions v3 has top-level tagged fields (features); none is written, since Kafka only
writes tagged fields that differ from their default and librdkafka < 2.2 misparses them.
"""

from __future__ import annotations

from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.apis import SUPPORTED, ApiKey
from riverhead.protocol.errors import ErrorCode
from riverhead.protocol.frames import SIZE, RequestHeader
from riverhead.protocol.messages import encode_response


def _api_keys() -> list[dict[str, int]]:
    return [
        {"api_key": int(key), "min_version": lo, "max_version": hi}
        for key, (lo, hi) in sorted(SUPPORTED.items())
    ]


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    request.decode()  # validates the body (v3 carries client software name/version)
    return {"error_code": 0, "api_keys": _api_keys(), "throttle_time_ms": 0}


def unsupported_version_reply(header: RequestHeader) -> list[bytes]:
    lo, hi = SUPPORTED[ApiKey.API_VERSIONS]
    body = encode_response(
        ApiKey.API_VERSIONS,
        0,
        {
            "error_code": ErrorCode.UNSUPPORTED_VERSION,
            "api_keys": [
                {"api_key": int(ApiKey.API_VERSIONS), "min_version": lo, "max_version": hi}
            ],
        },
    )
    head = SIZE.pack(header.correlation_id)
    return [SIZE.pack(len(head) + len(body)) + head + body]
