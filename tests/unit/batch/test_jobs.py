"""Jobs end to end on the inline and local runners (Spark: tests/integration)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from riverhead.batch import JobConfigError, JobFailed, MapReduceJob
from riverhead.batch.counters import ENGINE
from tests.unit.batch.jobs import (
    EventsByUser,
    FlakyWordCount,
    FrozenInherited,
    LetterPartitioned,
    MapOnlyUpper,
    TopWords,
    WordCount,
    WordCountCounted,
    WordCountNoCombiner,
    generate_text,
    read_counts,
)

pytestmark = pytest.mark.unit
RUNNERS = ["inline", "local"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Counter[str]]:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    return path, generate_text(path, 3000)


@pytest.mark.parametrize("runner", RUNNERS)
def test_word_count_equals_counter(
    runner: str, corpus: tuple[Path, Counter[str]], tmp_path: Path
) -> None:
    path, expected = corpus
    out = tmp_path / "out"
    args = [str(path), "-o", str(out), "--runner", runner, "--reducers", "4", "--split-size", "8K"]
    result = WordCount(args).run_job()
    assert read_counts(out) == dict(expected)
    assert [p.name for p in sorted(out.glob("part-*"))] == [f"part-0000{i}" for i in range(4)]
    assert (out / "_SUCCESS").exists()
    engine = result.counters[ENGINE]
    assert engine["map input records"] == 3000
    assert engine["map output records"] == sum(expected.values())
    assert engine["output records"] == len(expected)
    # Keys arrive sorted within each part file.
    for part in out.glob("part-*"):
        words = [line.split("\t")[0] for line in part.read_text().splitlines()]
        assert words == sorted(words)


@pytest.mark.parametrize("runner", RUNNERS)
def test_combiner_does_not_change_results(
    runner: str, corpus: tuple[Path, Counter[str]], tmp_path: Path
) -> None:
    path, expected = corpus
    base = [str(path), "--runner", runner, "--split-size", "16K", "--reducers", "3"]
    with_c = WordCount([*base, "-o", str(tmp_path / "a")]).run_job()
    without = WordCountNoCombiner([*base, "-o", str(tmp_path / "b")]).run_job()
    assert read_counts(tmp_path / "a") == read_counts(tmp_path / "b") == dict(expected)
    # The combiner really ran in one and not the other.
    assert with_c.counters[ENGINE]["combine output records"] < sum(expected.values())
    assert "combine input records" not in without.counters[ENGINE]
    assert without.counters[ENGINE]["reduce input records"] == sum(expected.values())


@pytest.mark.parametrize("runner", RUNNERS)
def test_multi_step_job(runner: str, corpus: tuple[Path, Counter[str]], tmp_path: Path) -> None:
    path, expected = corpus
    out = tmp_path / "out"
    TopWords([str(path), "-o", str(out), "--runner", runner, "--top", "5"]).run_job()
    lines = (out / "part-00000").read_text().splitlines()
    got = [(json.loads(k), json.loads(v)) for k, v in (line.split("\t") for line in lines)]
    want = sorted(expected.items(), key=lambda p: (-p[1], p[0]))[:5]
    assert got == want


@pytest.mark.parametrize("runner", RUNNERS)
def test_user_counters_and_report(
    runner: str, corpus: tuple[Path, Counter[str]], tmp_path: Path
) -> None:
    path, expected = corpus
    report = tmp_path / "report.json"
    result = WordCountCounted(
        [str(path), "-o", str(tmp_path / "out"), "--runner", runner, "--report", str(report)]
    ).run_job()
    long_words = sum(n for w, n in expected.items() if len(w) > 3)
    assert result.counters["text"] == {"lines": 3000, "long words": long_words}
    data = json.loads(report.read_text())
    assert data["status"] == "succeeded"
    assert data["runner"] == runner
    assert data["counters"]["text"]["lines"] == 3000
    names = [p["name"] for p in data["phases"]]
    assert names == ["setup", "step 1 map", "step 1 reduce", "commit"]
    assert all(t["attempts"][0]["ok"] for t in data["tasks"])


def test_mapper_crashing_once_is_retried(corpus: tuple[Path, Counter[str]], tmp_path: Path) -> None:
    path, expected = corpus
    marker = tmp_path / "crashed"
    out = tmp_path / "out"
    job = FlakyWordCount([str(path), "-o", str(out), "--marker", str(marker), "--workers", "2"])
    result = job.run_job()
    assert read_counts(out) == dict(expected)
    assert marker.read_text().count("\n") == 1  # exactly one attempt crashed
    attempts = [t["attempts"] for t in result.report["tasks"]]
    retried = [a for a in attempts if len(a) == 2]
    assert len(retried) == 1
    assert not retried[0][0]["ok"] and "flaky mapper exploded" in retried[0][0]["error"]
    assert retried[0][1]["ok"]
    assert result.counters[ENGINE]["failed task attempts"] == 1
    # Counters count only the successful attempts.
    assert result.counters[ENGINE]["map input records"] == 3000


def test_mapper_always_crashing_fails_with_original_traceback(
    corpus: tuple[Path, Counter[str]], tmp_path: Path
) -> None:
    path, _ = corpus
    marker = tmp_path / "crashed"
    args = [str(path), "-o", str(tmp_path / "out"), "--marker", str(marker), "--always"]
    with pytest.raises(JobFailed) as info:
        FlakyWordCount([*args, "--max-attempts", "3", "--split-size", "1M"]).run_job()
    err = info.value
    assert err.attempts == 3
    assert err.task == "step 1 map task 0"
    assert "Traceback (most recent call last)" in err.traceback
    assert "in mapper" in err.traceback and "jobs.py" in err.traceback
    assert err.traceback.strip().endswith("RuntimeError: flaky mapper exploded on purpose")
    assert marker.read_text().count("\n") == 3
    assert not list((tmp_path / "out").glob("part-*"))


def test_inline_runner_raises_the_job_exception_itself(
    corpus: tuple[Path, Counter[str]], tmp_path: Path
) -> None:
    path, _ = corpus
    args = [str(path), "-o", str(tmp_path / "out"), "--runner", "inline"]
    with pytest.raises(RuntimeError, match="exploded on purpose"):
        FlakyWordCount([*args, "--marker", str(tmp_path / "m"), "--always"]).run_job()


@pytest.mark.parametrize("runner", RUNNERS)
def test_tiny_memory_external_sort_gives_identical_output(runner: str, tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    expected = generate_text(path, 6000, seed=9, vocabulary=20000)
    assert path.stat().st_size > 10 * 16 * 1024  # data is >10x the memory limit
    base = [str(path), "--runner", runner, "--reducers", "2"]
    roomy = WordCountNoCombiner([*base, "-o", str(tmp_path / "roomy")]).run_job()
    tiny = WordCountNoCombiner(
        [*base, "-o", str(tmp_path / "tiny"), "--memory", "16K", "--split-size", "64K"]
    ).run_job()
    assert read_counts(tmp_path / "tiny") == read_counts(tmp_path / "roomy") == dict(expected)
    for name in ("part-00000", "part-00001"):  # byte-identical, key order included
        assert (tmp_path / "tiny" / name).read_bytes() == (tmp_path / "roomy" / name).read_bytes()
    engine = tiny.counters[ENGINE]
    assert engine["spills"] > 2 * roomy.counters[ENGINE]["spills"]
    if runner == "local":  # reduce side merged from disk, in more than one pass
        assert engine["merge passes"] >= 1


def test_secondary_sort_groups_by_user_in_time_order(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    rows = [
        {"user_id": u, "ts": f"2024-03-01T09:{m:02d}:00Z", "type": f"{u}{m}"}
        for m in (30, 5, 45, 10)
        for u in ("bob", "alice", "carol")
    ]
    events.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    EventsByUser([str(events), "-o", str(out), "--reducers", "2", "--split-size", "100"]).run_job()
    got = {}
    for part in out.glob("part-*"):
        for line in part.read_text().splitlines():
            user, types = line.split("\t")
            got[json.loads(user)] = json.loads(types)
    assert got == {u: [f"{u}5", f"{u}10", f"{u}30", f"{u}45"] for u in ("alice", "bob", "carol")}


def test_custom_partitioner(tmp_path: Path) -> None:
    path = tmp_path / "words.txt"
    path.write_text("apple banana cherry avocado blueberry\ncoconut apple\n")
    out = tmp_path / "out"
    LetterPartitioned([str(path), "-o", str(out), "--reducers", "3"]).run_job()
    assert (out / "part-00000").read_text() == "apple\t2\navocado\t1\n"
    assert (out / "part-00001").read_text() == "banana\t1\nblueberry\t1\n"
    assert (out / "part-00002").read_text() == "cherry\t1\ncoconut\t1\n"


@pytest.mark.parametrize("runner", RUNNERS)
def test_map_only_job_and_compressed_output(runner: str, tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "in.txt"
    path.write_text("one\n\ntwo\nthree\n")
    out = tmp_path / "out"
    args = [str(path), "-o", str(out), "--runner", runner, "--output-compression", "gzip"]
    result = MapOnlyUpper(args).run_job()
    files = sorted(out.glob("part-*"))
    assert [f.name for f in files] == ["part-00000.gz"]
    assert gzip.decompress(files[0].read_bytes()).decode() == "ONE\nTWO\nTHREE\n"
    assert list(result.read_lines()) == ["ONE", "TWO", "THREE"]


def test_output_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.txt"
    path.write_text("b a b\n")
    code = WordCount([str(path), "--reducers", "1", "--runner", "inline"]).execute()
    assert code == 0
    assert capsys.readouterr().out == "a\t1\nb\t2\n"


def test_existing_output_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.txt"
    path.write_text("a\n")
    out = tmp_path / "out"
    WordCount([str(path), "-o", str(out), "--runner", "inline"]).run_job()
    code = WordCount([str(path), "-o", str(out), "--runner", "inline"]).execute()
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: INVALID_OUTPUT: output directory") and "(hint: " in err


def test_job_without_methods_is_a_config_error(tmp_path: Path) -> None:
    class Empty(MapReduceJob):
        pass

    with pytest.raises(JobConfigError, match="no mapper"):
        Empty([str(tmp_path), "--runner", "inline"]).run_job()


def test_worker_process_dying_is_retried(corpus: tuple[Path, Counter[str]], tmp_path: Path) -> None:
    from tests.unit.batch.jobs import DyingWordCount

    path, expected = corpus
    out = tmp_path / "out"
    marker = tmp_path / "died"
    result = DyingWordCount([str(path), "-o", str(out), "--marker", str(marker)]).run_job()
    assert marker.exists()
    assert read_counts(out) == dict(expected)
    assert result.counters[ENGINE]["failed task attempts"] >= 1
    errors = [a["error"] for t in result.report["tasks"] for a in t["attempts"] if not a["ok"]]
    assert errors and all("worker process died" in e for e in errors)


def test_progress_bar_and_stdin_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    stdin = io.TextIOWrapper(io.BytesIO(b"x y\ny\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    out = tmp_path / "out"
    WordCount(["-", "-o", str(out), "--progress", "--reducers", "1"]).run_job()
    assert (out / "part-00000").read_text() == "x\t1\ny\t2\n"
    err = capsys.readouterr().err
    assert "step 1 map" in err and "step 1 reduce" in err


def test_local_workers_never_collect_what_they_inherited(
    corpus: tuple[Path, Counter[str]], tmp_path: Path
) -> None:
    """Forked workers get the parent's objects in the GC's permanent generation, so their
    collector cannot free garbage that belongs to the parent (a greenlet or extension
    object of a thread the child lacks segfaulted a map task before); the parent's own
    collector is back to normal afterwards."""
    import gc

    path, _ = corpus
    out = tmp_path / "out"
    args = [str(path), "-o", str(out), "--runner", "local", "--split-size", "8K"]
    FrozenInherited(args).run_job()
    (line,) = [ln for part in sorted(out.glob("part-*")) for ln in part.read_text().splitlines()]
    key, frozen = line.split("\t")
    assert key in ('"frozen"', "frozen")
    assert int(frozen) > 1000, "every map task ran with the inherited objects frozen"
    assert gc.get_freeze_count() == 0
