"""State stores (memory, SQLite), typed views with TTL, murmur2 partitioning."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riverhead.stream.state import ListState, MapState, MemoryStore, SqliteStore, ValueState
from riverhead.stream.state.changelog import murmur2, partition_for
from riverhead.stream.state.stores import decode_key, encode_key

pytestmark = pytest.mark.unit


def test_murmur2_matches_kafkas_test_vectors() -> None:
    # org.apache.kafka.common.utils.UtilsTest#testMurmur2
    assert murmur2(b"21") == -973932308
    assert murmur2(b"foobar") == -790332482
    assert murmur2(b"a-little-bit-long-string") == -985981536
    assert murmur2(b"a-little-bit-longer-string") == -1486304829
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert murmur2(b"abc") == 479470107
    assert all(0 <= partition_for(bytes([i]), 7) < 7 for i in range(256))


keys = st.one_of(st.text(max_size=5), st.integers(), st.tuples(st.text(max_size=3), st.integers()))
values = st.recursive(st.one_of(st.none(), st.integers(), st.text(max_size=5)),
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(keys, st.one_of(st.none(), values)), max_size=30))
def test_property_sqlite_store_equals_memory_store(ops: list[tuple[object, object]]) -> None:
    mem, sql = MemoryStore(), SqliteStore(":memory:", commit_every=7)
    for key, value in ops:
        for store in (mem, sql):
            if value is None:
                store.delete(key)
            else:
                store.put(key, value)
    assert dict(sql.items()) == dict(mem.items())
    assert len(sql) == len(mem)
    for key, _ in ops:
        assert sql.get(key) == mem.get(key)
        assert decode_key(encode_key(key)) == key


def test_sqlite_store_persists(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "db.sqlite")
    s.put(("w", "k", 0, 10), {"a": [1, 2]})
    s.close()
    assert SqliteStore(tmp_path / "db.sqlite").get(("w", "k", 0, 10)) == {"a": [1, 2]}


@pytest.mark.parametrize("store", [MemoryStore, lambda: SqliteStore(":memory:")])
def test_views_with_ttl(store) -> None:  # type: ignore[no-untyped-def]
    now = [1_000]
    s = store()
    value = ValueState(s, "v", ttl=2.0, now_ms=lambda: now[0])
    lst = ListState(s, "l", now_ms=lambda: now[0])
    mp = MapState(s, "m", ttl=1.0, now_ms=lambda: now[0])
    value.set("u1", 5)
    lst.append("u1", "a")
    lst.append("u1", "b")
    mp.put("u1", "f", 1)
    assert value.get("u1") == 5 and lst.get("u1") == ["a", "b"] and mp.get("u1", "f") == 1
    now[0] += 1_500
    assert mp.get("u1", "f") is None  # expired after 1 s
    assert value.get("u1") == 5
    now[0] += 600
    assert value.expire() == 1 and value.get("u1", "gone") == "gone"
    assert lst.get("u1") == ["a", "b"]  # no TTL
    assert list(lst.keys()) == ["u1"]
