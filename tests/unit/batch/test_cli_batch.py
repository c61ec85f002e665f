"""``riverhead batch run JOB.py ...``."""

from __future__ import annotations

from pathlib import Path

import pytest

from riverhead.cli.main import run

pytestmark = pytest.mark.unit
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "wordcount.py"


def test_batch_run_writes_part_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat\nthe dog the end\n")
    out = tmp_path / "out"
    code = run(["batch", "run", str(EXAMPLE), str(corpus), "-o", str(out), "--reducers", "4"])
    assert code == 0
    parts = sorted(out.glob("part-*"))
    assert [p.name for p in parts] == [f"part-0000{i}" for i in range(4)]
    lines = sorted(line for p in parts for line in p.read_text().splitlines())
    assert lines == ["cat\t1", "dog\t1", "end\t1", "the\t3"]


def test_batch_run_prints_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("b a b\n")
    assert run(["batch", "run", str(EXAMPLE), str(corpus), "--runner", "inline"]) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == ["a\t1", "b\t2"]


def test_batch_run_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["batch", "run", str(tmp_path / "nope.py")]) == 1
    assert capsys.readouterr().err.startswith("error: INVALID_ARGUMENT: job file")
    assert run(["batch", "run", str(EXAMPLE), str(tmp_path / "missing.txt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: INVALID_INPUT: input") and err.count("\n") == 1
    two = tmp_path / "two.py"
    two.write_text(
        "from riverhead.batch import MapReduceJob\n"
        "class A(MapReduceJob):\n    def mapper(self, k, v):\n        yield v, 1\n"
        "class B(A):\n    pass\n"
    )
    assert run(["batch", "run", str(two), str(EXAMPLE)]) == 1
    assert "pick one with --job NAME" in capsys.readouterr().err
    assert run(["batch", "run", str(two), "--job", "B", str(EXAMPLE), "--runner", "inline"]) == 0
