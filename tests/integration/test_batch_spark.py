"""The Spark runner (PySpark local mode), with one SparkSession for the whole module."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from riverhead.batch import JobFailed
from tests.unit.batch.jobs import (
    EventsByUser,
    FlakyWordCount,
    RevenuePerProduct,
    TopWords,
    WordCount,
    WordCountCounted,
    generate_text,
    read_counts,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="install riverhead[spark]")
    from riverhead.batch.runners.spark import spark_session

    session = spark_session("local[2]", "riverhead-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Counter[str]]:
    path = tmp_path_factory.mktemp("spark") / "corpus.txt"
    return path, generate_text(path, 2000, seed=3)


def test_word_count_equals_counter(
    spark: Any, corpus: tuple[Path, Counter[str]], tmp_path: Path
) -> None:
    path, expected = corpus
    out = tmp_path / "out"
    args = [str(path), "-o", str(out), "--runner", "spark", "--reducers", "3", "--split-size", "8K"]
    result = WordCountCounted(args).run_job()
    assert read_counts(out) == dict(expected)
    assert len(list(out.glob("part-*"))) == 3
    assert result.counters["text"]["lines"] == 2000
    assert result.counters["riverhead"]["map output records"] == sum(expected.values())


def test_spark_matches_local_on_multi_step_and_secondary_sort(
    spark: Any, corpus: tuple[Path, Counter[str]], tmp_path: Path
) -> None:
    path, _ = corpus
    for runner in ("spark", "local"):
        TopWords(
            [str(path), "-o", str(tmp_path / runner), "--runner", runner, "--top", "7"]
        ).run_job()
    assert (tmp_path / "spark" / "part-00000").read_text() == (
        tmp_path / "local" / "part-00000"
    ).read_text()
    assert len((tmp_path / "spark" / "part-00000").read_text().splitlines()) == 7

    events = tmp_path / "events.jsonl"
    rows = [{"user_id": u, "ts": f"T{m:02d}", "type": f"{u}{m}"} for m in (3, 1, 2) for u in "xy"]
    events.write_text("".join(json.dumps(r) + "\n" for r in rows))
    EventsByUser([str(events), "-o", str(tmp_path / "ss"), "--runner", "spark"]).run_job()
    got = sorted(
        line for p in (tmp_path / "ss").glob("part-*") for line in p.read_text().splitlines()
    )
    assert got == ['"x"\t["x1","x2","x3"]', '"y"\t["y1","y2","y3"]']


def test_spark_jsonl_job_and_gzip_output(spark: Any, tmp_path: Path) -> None:
    import gzip

    events = tmp_path / "e.jsonl"
    items = [
        {"product_id": "p1", "price": 2.5, "quantity": 2},
        {"product_id": "p2", "price": 1.0, "quantity": 1},
    ]
    events.write_text(
        json.dumps({"type": "purchase", "items": items})
        + "\n"
        + json.dumps({"type": "view"})
        + "\n"
    )
    out = tmp_path / "out"
    RevenuePerProduct(
        [str(events), "-o", str(out), "--runner", "spark", "--output-compression", "gzip"]
    ).run_job()
    text = sorted(
        line
        for p in out.glob("part-*.gz")
        for line in gzip.decompress(p.read_bytes()).decode().splitlines()
    )
    assert text == ["p1\t5.00", "p2\t1.00"]


def test_spark_failure_carries_the_python_traceback(
    spark: Any, corpus: tuple[Path, Counter[str]], tmp_path: Path
) -> None:
    path, _ = corpus
    args = [str(path), "-o", str(tmp_path / "o"), "--runner", "spark", "--max-attempts", "1"]
    with pytest.raises(JobFailed) as info:
        FlakyWordCount([*args, "--marker", str(tmp_path / "m"), "--always"]).run_job()
    assert "RuntimeError: flaky mapper exploded on purpose" in info.value.traceback


def test_word_count_example_class_on_spark(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("x y x\n")
    result = WordCount([str(path), "--runner", "spark", "--reducers", "1"]).run_job()
    assert list(result.read_lines()) == ["x\t2", "y\t1"]
    result.cleanup()
