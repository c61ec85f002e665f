"""Answering a request over its byte-rate quota, as Kafka does.

Since KIP-219 (Produce v6+, Fetch v8+) the response goes out at once carrying
``throttle_time_ms`` and the client backs off by itself (librdkafka, the Java client);
Kafka also mutes the connection meanwhile, which Riverhead does not do yet. Older
versions predate client-side back-off, so their response is held back for the throttle
time on the purgatory's timer (no thread waits), as Kafka did before 2.0."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from riverhead.broker.engine import PARKED, _Parked
from riverhead.broker.purgatory import DelayedReply
from riverhead.broker.request import Body, Request
from riverhead.security.authorizer import who
from riverhead.security.quotas import ByteRateQuota

if TYPE_CHECKING:
    from riverhead.broker.state import BrokerState

log = logging.getLogger("riverhead.security.quotas")


def throttle_ms(quota: ByteRateQuota, request: Request, nbytes: int) -> int:
    throttle = quota.record(who(request)[0], nbytes)
    if throttle:
        log.debug("throttling %s for %d ms", who(request)[0], throttle)
    return throttle


KIP_219 = {0: 6, 1: 8}  # api key -> first version whose clients back off themselves


def hold(
    state: BrokerState, request: Request, reply: bytes | Body, throttle: int
) -> bytes | Body | _Parked:
    """``reply`` (already carrying ``throttle``) now, or after ``throttle`` ms for clients
    older than KIP-219."""
    if request.version >= KIP_219.get(request.api_key, 0):
        return reply
    state.purgatory.watch(DelayedReply(request, reply, time.monotonic() + throttle / 1000))
    return PARKED
