"""Jobs and data generators shared by the batch engine's tests (and the Spark tests)."""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from riverhead.batch import JSONProtocol, MapReduceJob, MRStep


def generate_text(path: Path, lines: int, seed: int = 1, vocabulary: int = 500) -> Counter[str]:
    """Write ``lines`` lines of Zipf-ish words to ``path``; return the true word counts."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocabulary)]
    weights = [1 / (r + 1) for r in range(vocabulary)]
    counts: Counter[str] = Counter()
    with path.open("w") as out:
        for _ in range(lines):
            line = rng.choices(words, weights, k=rng.randint(0, 12))
            counts.update(line)
            out.write(" ".join(line) + "\n")
    return counts


def read_counts(out: Path) -> dict[str, int]:
    """``word<TAB>count`` lines of every part file of ``out``; fails on duplicate words."""
    got: dict[str, int] = {}
    for part in sorted(out.glob("part-*")):
        for line in part.read_text().splitlines():
            word, count = line.split("\t")
            assert word not in got, f"{word} appears twice"
            got[word] = int(count)
    return got


class WordCount(MapReduceJob):
    def mapper(self, _: Any, line: str) -> Iterator[tuple[str, int]]:
        for word in line.split():
            yield word, 1

    def combiner(self, word: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
        yield word, sum(counts)

    def reducer(self, word: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
        yield word, sum(counts)


class WordCountNoCombiner(WordCount):
    combiner = MapReduceJob.combiner  # back to "not overridden"


class WordCountCounted(WordCount):
    """Word count that also counts lines and long words in user counters."""

    def mapper(self, _: Any, line: str) -> Iterator[tuple[str, int]]:
        self.increment_counter("text", "lines")
        for word in line.split():
            if len(word) > 3:
                self.increment_counter("text", "long words")
            yield word, 1


class TopWords(MapReduceJob):
    """Two steps: count words, then the most frequent ``--top`` words (one reducer)."""

    OUTPUT_PROTOCOL = JSONProtocol

    def configure_args(self) -> None:
        self.add_passthru_arg("--top", type=int, default=3)

    def count_words(self, _: Any, line: str) -> Iterator[tuple[str, int]]:
        for word in line.split():
            yield word, 1

    def sum_counts(self, word: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
        yield word, sum(counts)

    def to_one_key(self, word: str, count: int) -> Iterator[tuple[None, tuple[int, str]]]:
        yield None, (count, word)

    def top(self, _: None, pairs: Iterable[tuple[int, str]]) -> Iterator[tuple[str, int]]:
        for count, word in sorted(pairs, key=lambda p: (-p[0], p[1]))[: self.options.top]:
            yield word, count

    def steps(self) -> list[MRStep]:
        return [
            MRStep(mapper=self.count_words, combiner=self.sum_counts, reducer=self.sum_counts),
            MRStep(mapper=self.to_one_key, reducer=self.top, reducers=1),
        ]


class FlakyWordCount(WordCount):
    """Crashes in the mapper of split 0's first attempt (a marker file remembers it)."""

    def configure_args(self) -> None:
        self.add_passthru_arg("--marker", required=True)
        self.add_passthru_arg("--always", action="store_true")

    def mapper(self, key: Any, line: str) -> Iterator[tuple[str, int]]:
        marker = self.options.marker
        if self.options.always or not os.path.exists(marker):
            with open(marker, "a") as out:
                out.write(f"{os.getpid()}\n")
            raise RuntimeError("flaky mapper exploded on purpose")
        yield from super().mapper(key, line)


class EventsByUser(MapReduceJob):
    """Secondary sort: key (user, ts), grouped by user; reducer sees events in ts order."""

    INPUT_FORMAT = "jsonl"
    OUTPUT_PROTOCOL = JSONProtocol

    def mapper(self, _: Any, event: dict[str, Any]) -> Iterator[tuple[tuple[str, str], str]]:
        yield (event["user_id"], event["ts"]), event["type"]

    def group_key(self, key: tuple[str, str]) -> str:
        return key[0]

    def reducer(self, user: str, types: Iterable[str]) -> Iterator[tuple[str, list[str]]]:
        yield user, list(types)


def first_letter_partitioner(key: Any, n: int) -> int:
    return (ord(str(key)[0]) - ord("a")) % n if key else 0


class LetterPartitioned(WordCount):
    PARTITIONER = first_letter_partitioner


class MapOnlyUpper(MapReduceJob):
    def mapper(self, _: Any, line: str) -> Iterator[tuple[None, str]]:
        if line:
            yield None, line.upper()


class RevenuePerProduct(MapReduceJob):
    """JSON lines: revenue per product over purchases (two decimals)."""

    INPUT_FORMAT = "jsonl"

    def mapper(self, _: Any, event: dict[str, Any]) -> Iterator[tuple[str, float]]:
        if event.get("type") == "purchase":
            for item in event.get("items", []):
                yield item["product_id"], item["price"] * item["quantity"]

    def combiner(self, product: str, amounts: Iterable[float]) -> Iterator[tuple[str, float]]:
        yield product, sum(amounts)

    def reducer(self, product: str, amounts: Iterable[float]) -> Iterator[tuple[str, str]]:
        yield product, f"{sum(amounts):.2f}"


class DyingWordCount(WordCount):
    """Kills its worker process outright (no exception) on the first attempt."""

    def configure_args(self) -> None:
        self.add_passthru_arg("--marker", required=True)

    def mapper(self, key: Any, line: str) -> Iterator[tuple[str, int]]:
        if not os.path.exists(self.options.marker):
            Path(self.options.marker).write_text("died\n")
            os._exit(17)
        yield from super().mapper(key, line)


class FrozenInherited(MapReduceJob):
    """Reports, per map task, how many objects the worker inherited frozen (the local
    runner freezes the parent's objects while it forks its workers)."""

    def mapper(self, _: Any, line: str) -> Iterator[tuple[str, int]]:
        # Counted once per worker: get_freeze_count() walks the whole frozen list.
        if not hasattr(self, "_frozen"):
            import gc

            self._frozen = gc.get_freeze_count()
        yield "frozen", self._frozen

    def reducer(self, key: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
        yield key, min(counts)
