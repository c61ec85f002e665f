"""Protocols round-trip; the partitioner is stable across processes and hash seeds."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from riverhead.batch import (
    JSONProtocol,
    JSONValueProtocol,
    PickleProtocol,
    RawValueProtocol,
    TextProtocol,
    hash_partition,
    parse_size,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("protocol", "key", "value", "line"),
    [
        (TextProtocol(), "word", 3, "word\t3"),
        (TextProtocol(), None, "v", "v"),
        (JSONProtocol(), ["rev", "sku-1"], 1.5, '["rev","sku-1"]\t1.5'),
        (JSONValueProtocol(), None, {"a": "é"}, '{"a":"é"}'),
        (RawValueProtocol(), "ignored", "line", "line"),
    ],
)
def test_write(protocol: Any, key: Any, value: Any, line: str) -> None:
    assert protocol.write(key, value) == line


def test_round_trips() -> None:
    assert JSONProtocol().read('["a",1]\t{"b":[2]}') == (["a", 1], {"b": [2]})
    assert TextProtocol().read("a\tb\tc") == ("a", "b\tc")
    pickle = PickleProtocol()
    pair = (("t", 1), {"x": {1, 2}})
    line = pickle.write(*pair)
    assert "\n" not in line and pickle.read(line) == pair


def test_parse_size() -> None:
    assert parse_size("64M") == 64 << 20
    assert parse_size("1.5k") == 1536
    assert parse_size("2GiB") == 2 << 30
    assert parse_size("100") == 100


KEYS = ["word", "é", ("rev", "sku-1"), 42, None, b"raw", ("nested", (1, 2.5))]


def test_partition_is_stable_across_processes_and_hash_seeds() -> None:
    here = [hash_partition(k, 7) for k in KEYS]
    code = (
        "from riverhead.batch import hash_partition\n"
        f"print([hash_partition(k, 7) for k in {KEYS!r}])"
    )
    for seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == repr(here)
    assert all(0 <= p < 7 for p in here)
    assert len(set(here)) > 2  # not everything in one bucket
