"""Input resolution, splits and readers."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riverhead.batch import InputError, JSONProtocol
from riverhead.batch.inputs import (
    FileSplit,
    ReadOptions,
    Split,
    expand_paths,
    file_splits,
    format_of,
)
from riverhead.batch.protocols import RawValueProtocol

pytestmark = pytest.mark.unit
RAW = ReadOptions(RawValueProtocol())


def records(splits: list[Split], opts: ReadOptions = RAW) -> list[Any]:
    out: list[Any] = []
    for split in splits:
        for is_pairs, batch in split.batches(opts):
            out += batch if is_pairs else [(None, v) for v in batch]
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(st.text(alphabet="ab \u00e9\t", max_size=30), max_size=40),
    trailing_newline=st.booleans(),
    split_size=st.integers(min_value=1, max_value=64),
    chunk=st.integers(min_value=1, max_value=50),
)
def test_every_line_is_read_exactly_once_whatever_the_split_size(
    tmp_path: Path, lines: list[str], trailing_newline: bool, split_size: int, chunk: int
) -> None:
    path = tmp_path / "in.txt"
    text = "\n".join(lines) + ("\n" if trailing_newline and lines else "")
    path.write_bytes(text.encode())
    splits = file_splits([str(path)], "auto", split_size, 1)
    got = [v for _, v in records(splits, ReadOptions(RawValueProtocol(), chunk=chunk))]
    expected = text.split("\n")
    if text.endswith("\n") or not text:
        expected = expected[:-1]
    assert got == expected


def test_compressed_files_are_whole_splits(tmp_path: Path) -> None:
    body = "".join(f"line {i}\n" for i in range(5000)).encode()
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(body))
    (tmp_path / "b.txt.bz2").write_bytes(bz2.compress(body))
    (tmp_path / "c.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(body))
    files = expand_paths([str(tmp_path)], str(tmp_path))
    splits = file_splits(files, "auto", 100, 1)
    assert len(splits) == 3
    assert [s.codec for s in splits if isinstance(s, FileSplit)] == ["gzip", "bz2", "zstd"]
    want = [f"line {i}" for i in range(5000)]
    for split in splits:
        assert [v for _, v in records([split])] == want


def test_jsonl_and_csv_formats(tmp_path: Path) -> None:
    rows = [{"a": i, "b": "x\ty"} for i in range(50)]
    jl = tmp_path / "rows.jsonl.gz"
    jl.write_bytes(gzip.compress(("\n".join(json.dumps(r) for r in rows) + "\n\n").encode()))
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text('a,b\n1,"multi\nline"\n2,plain\n')
    splits = file_splits([str(jl), str(csv_path)], "auto", 10, 1)
    got = records(splits)
    assert [v for _, v in got[:50]] == rows
    assert [v for _, v in got[50:]] == [{"a": "1", "b": "multi\nline"}, {"a": "2", "b": "plain"}]
    assert format_of("x.NDJSON", "auto") == "jsonl"
    assert format_of("x.csv.bz2", "auto") == "csv"
    assert format_of("x.log", "jsonl") == "jsonl"


def test_jsonl_lines_split_at_byte_ranges(tmp_path: Path) -> None:
    rows = [{"n": i, "pad": "z" * (i % 17), "s": " {odd} "} for i in range(400)]
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    splits = file_splits([str(path)], "auto", 1000, 1)
    assert len(splits) > 10
    assert [v for _, v in records(splits)] == rows


def test_bad_json_line_raises(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": 2} trailing\n')
    with pytest.raises(json.JSONDecodeError):
        records(file_splits([str(path)], "auto", None, 1))


def test_input_protocol_decodes_text_lines(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text('"k1"\t[1, 2]\n"k2"\t{"x": null}\n')
    got = records(file_splits([str(path)], "text", None, 1), ReadOptions(JSONProtocol()))
    assert got == [("k1", [1, 2]), ("k2", {"x": None})]


def test_directories_globs_and_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/1.txt", "d/sub/2.txt", "d/_SUCCESS", "d/.hidden", "e.txt"):
        (tmp_path / name).write_text("x\n")
    found = expand_paths([str(tmp_path / "d"), str(tmp_path / "*.txt")], str(tmp_path))
    assert [Path(p).relative_to(tmp_path).as_posix() for p in found] == [
        "d/1.txt",
        "d/sub/2.txt",
        "e.txt",
    ]
    with pytest.raises(InputError, match="does not exist"):
        expand_paths([str(tmp_path / "missing.txt")], str(tmp_path))
    with pytest.raises(InputError, match="no file matches"):
        expand_paths([str(tmp_path / "*.csv")], str(tmp_path))


def test_auto_split_size_gives_each_worker_several_splits(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"abcdefghi\n" * 800_000)  # 8 MB
    splits = file_splits([str(path)], "auto", None, 2)
    assert 7 <= len(splits) <= 9
    assert sum(s.size for s in splits) == path.stat().st_size
