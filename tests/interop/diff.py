"""Running one scenario against both brokers and comparing what the clients observed.

A scenario is a function ``Target -> observation``: plain data (dicts, lists, tuples,
ints, bytes, strings) of everything a client saw: offsets, values, headers, timestamps,
error codes, assignments. Broker-specific values that Kafka itself does not promise
(cluster id, broker id, generated member ids...) must be normalised away by the scenario
itself, each with a comment saying why, so that :func:`assert_same` compares everything it
is given. The observations of Apache Kafka are the reference: a difference fails the test
with a unified diff (``-`` Riverhead, ``+`` Kafka).

API versions for raw-protocol scenarios come from :func:`common_version`: the highest
version both brokers advertise (and ``kio`` can encode) at or below the one asked for.
"""

from __future__ import annotations

import difflib
import pprint
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from tests.support.raw_client import RawClient

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """One broker under test: ``name`` is ``riverhead`` or ``kafka``."""

    name: str
    bootstrap: str
    log_dir: Path  # the broker's log.dirs (Kafka's on-disk layout on both)
    pid: int


def observe(targets: tuple[Target, ...], scenario: Callable[[Target], T]) -> dict[str, T]:
    """Run ``scenario`` on each target in turn; ``{target name: observation}``. A scenario
    that fails is reported with the target it failed on."""
    out = {}
    for t in targets:
        try:
            out[t.name] = scenario(t)
        except Exception as exc:
            raise AssertionError(f"scenario failed on {t.name}: {exc}") from exc
    return out


def assert_same(observed: dict[str, Any], what: str = "observations") -> Any:
    """All observations equal (else a diff of Riverhead's against Kafka's); returns one."""
    names = list(observed)
    ref = observed[names[-1]]
    for name in names[:-1]:
        if observed[name] != ref:
            mine = pprint.pformat(observed[name], width=100).splitlines()
            theirs = pprint.pformat(ref, width=100).splitlines()
            diff = "\n".join(difflib.unified_diff(mine, theirs, name, names[-1], lineterm="", n=2))
            raise AssertionError(f"{what} differ between {name} and {names[-1]}:\n{diff}")
    return ref


@cache
def advertised(bootstrap: str) -> dict[int, tuple[int, int]]:
    """``{api key: (min, max)}`` from the broker's ApiVersions v3."""
    with RawClient(bootstrap) as client:
        resp = client.call(18, 3, client_software_name="interop", client_software_version="1")
        assert int(resp.error_code) == 0, resp
        return {int(k.api_key): (int(k.min_version), int(k.max_version)) for k in resp.api_keys}


def common_version(targets: tuple[Target, ...], api_key: int, at_most: int) -> int:
    """The highest version of ``api_key`` <= ``at_most`` that every target advertises."""
    lo = max(advertised(t.bootstrap)[api_key][0] for t in targets)
    hi = min(min(advertised(t.bootstrap)[api_key][1] for t in targets), at_most)
    assert lo <= hi, f"api {api_key}: no common version <= {at_most} ({lo}..{hi})"
    return hi


RETRIABLE = {3, 5, 6, 7, 14, 15, 16}
"""Errors a real client retries: unknown topic/partition while metadata propagates (3),
leader not available (5), not leader (6), timeout (7), coordinator loading / not available
/ not coordinator (14, 15, 16). Apache Kafka answers some of them for a moment after a topic
is created or at start (its metadata propagates asynchronously); Riverhead does not."""


def retry_call(
    client: RawClient,
    api_key: int,
    version: int,
    error_of: Callable[[Any], int],
    timeout: float = 15.0,
    **fields: Any,
) -> Any:
    """``client.call`` repeated while ``error_of(response)`` is retriable (a client's job)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = client.call(api_key, version, **fields)
        if error_of(resp) not in RETRIABLE or time.monotonic() > deadline:
            return resp
        time.sleep(0.05)


def wait_topic_ready(bootstrap: str, topic: str, partitions: int, timeout: float = 15.0) -> None:
    """Until Metadata shows ``topic`` with a leader for each of its ``partitions``."""
    deadline = time.monotonic() + timeout
    with RawClient(bootstrap) as client:
        while True:
            meta = client.call(3, 1, topics=None)  # every topic: no auto creation
            found = [t for t in meta.topics if t.name == topic]
            if (
                found
                and int(found[0].error_code) == 0
                and len(found[0].partitions) == partitions
                and all(int(p.leader_id) >= 0 for p in found[0].partitions)
            ):
                return
            assert time.monotonic() < deadline, f"{bootstrap}: {topic} not ready: {found}"
            time.sleep(0.05)
