"""Batch engine benchmark: Riverhead's local runner vs hand-written Python, same run.

Data (fixed seed, cached under ``--data-dir``, default ``/tmp/riverhead-batch-bench``; not
committed): a 512 MiB corpus of words drawn from a 100,000-word Zipf vocabulary (J1) and
5,000,000 JSON-lines e-commerce events, about 1.1 GiB (J2). ``--scale 0.1`` makes both
10x smaller for quick runs.

Jobs, each run by every engine, outputs checked equal:

* **J1 word count** -> ``word<TAB>count``.
* **J2** revenue per product over ``purchase`` events plus purchases per hour of day ->
  ``rev<TAB>product<TAB>%.2f`` and ``hour<TAB>HH<TAB>count``.

Engines: ``plain`` (one process, the baseline: ``Counter.update(line.split())`` /
``json.loads`` per line), ``mp`` (hand-written ``multiprocessing.Pool`` over 64 MiB
line-aligned byte ranges, dicts merged in the parent), ``riverhead`` (the local runner,
the job as mrjob users write it: mapper/combiner/reducer), and for J1 ``riverhead-imc``
(the local runner with in-mapper combining: ``mapper_final`` emits a ``Counter``).

Each engine runs in a fresh child process; wall time, CPU (user+sys of the whole process
tree, from ``wait4``) and peak RSS (the largest single process) are measured from the
parent. Targets (2 cores): riverhead >= 1.6x faster than plain on both jobs and no slower
than mp. Run from the repository root::

    .venv/bin/python benchmarks/batch_jobs.py               # full size (minutes)
    .venv/bin/python benchmarks/batch_jobs.py --scale 0.05  # quick
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from riverhead.batch import MapReduceJob  # noqa: E402

CORPUS_BYTES = 512 << 20
EVENTS = 5_000_000
VOCABULARY = 100_000
SEED = 20261126
MP_RANGE = 64 << 20


# ---- data ---------------------------------------------------------------------------------


def make_corpus(path: Path, size: int) -> None:
    rng = random.Random(SEED)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab: set[str] = set()
    while len(vocab) < VOCABULARY:
        vocab.add("".join(rng.choices(letters, k=rng.randint(2, 9))))
    words = sorted(vocab)
    rng.shuffle(words)
    cum = list(itertools.accumulate(1.0 / r for r in range(1, VOCABULARY + 1)))
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as out:
        written = 0
        while written < size:
            picks = rng.choices(words, cum_weights=cum, k=15_000)
            block = "\n".join(" ".join(picks[i : i + 15]) for i in range(0, 15_000, 15)) + "\n"
            out.write(block)
            written += len(block)
    tmp.rename(path)


CATEGORIES = ["coffee", "outdoor", "apparel", "kitchen", "books", "garden", "toys", "audio"]


def make_events(path: Path, count: int) -> None:
    rng = random.Random(SEED + 1)
    products = 50_000
    start = 1_772_323_200  # 2026-03-01T00:00:00Z
    tmp = path.with_suffix(".tmp")
    kinds = ["view"] * 14 + ["add_to_cart"] * 5 + ["purchase"]
    with tmp.open("w") as out:
        buf = []
        for i in range(count):
            pid = int(products * rng.paretovariate(1.2)) % products
            t = start + i * 86_400 // max(1, count // 7) + rng.randint(0, 59)
            event = {
                "event_id": i,
                "type": rng.choice(kinds),
                "user_id": f"user-{rng.randint(1, 200_000):06d}",
                "session": f"{rng.getrandbits(48):012x}",
                "product_id": f"sku-{pid:05d}",
                "category": CATEGORIES[pid % len(CATEGORIES)],
                "price": round(5 + (pid * 7919 % 20_000) / 100, 2),
                "quantity": rng.choice((1, 1, 1, 2, 3)),
                "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
                "agent": rng.choice(("web/12.1", "ios/4.3.2", "android/4.2.0")),
            }
            buf.append(json.dumps(event))
            if len(buf) == 10_000:
                out.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            out.write("\n".join(buf) + "\n")
    tmp.rename(path)


def ensure_data(data_dir: Path, scale: float) -> tuple[Path, Path]:
    data_dir.mkdir(parents=True, exist_ok=True)
    corpus = data_dir / f"corpus-{scale:g}.txt"
    events = data_dir / f"events-{scale:g}.jsonl"
    if not corpus.exists():
        t0 = time.time()
        make_corpus(corpus, int(CORPUS_BYTES * scale))
        print(f"generated {corpus} in {time.time() - t0:.0f}s", flush=True)
    if not events.exists():
        t0 = time.time()
        make_events(events, int(EVENTS * scale))
        print(f"generated {events} in {time.time() - t0:.0f}s", flush=True)
    return corpus, events


# ---- the jobs as Riverhead jobs -------------------------------------------------------------


class WordCount(MapReduceJob):
    """The issue's word count, verbatim in shape."""

    def mapper(self, _: Any, line: str) -> Iterator[tuple[str, int]]:
        for word in line.split():
            yield word, 1

    def combiner(self, word: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
        yield word, sum(counts)

    def reducer(self, word: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
        yield word, sum(counts)


class WordCountIMC(MapReduceJob):
    """Word count with in-mapper combining (mrjob's ``mapper_final`` pattern)."""

    def mapper_init(self) -> None:
        self.counts: Counter[str] = Counter()

    def mapper(self, _: Any, line: str) -> None:
        self.counts.update(line.split())

    def mapper_final(self) -> Iterable[tuple[str, int]]:
        return self.counts.items()

    def reducer(self, word: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
        yield word, sum(counts)


class Revenue(MapReduceJob):
    """J2: revenue per product and purchases per hour, over JSON lines."""

    INPUT_FORMAT = "jsonl"

    def mapper(self, _: Any, event: dict[str, Any]) -> Iterator[tuple[tuple[str, str], float]]:
        if event["type"] == "purchase":
            yield ("rev", event["product_id"]), event["price"]
            yield ("hour", event["ts"][11:13]), 1

    def combiner(self, key: tuple[str, str], values: Iterable[float]) -> Iterator[Any]:
        yield key, sum(values)

    def reducer(self, key: tuple[str, str], values: Iterable[float]) -> Iterator[Any]:
        kind, name = key
        total = sum(values)
        yield f"{kind}\t{name}", (f"{total:.2f}" if kind == "rev" else total)


# ---- hand-written engines -------------------------------------------------------------------


def _ranges(path: Path, size: int) -> list[tuple[str, int, int]]:
    total = path.stat().st_size
    return [(str(path), s, min(size, total - s)) for s in range(0, total, size)]


def _range_lines(path: str, start: int, length: int) -> Iterator[str]:
    with open(path, "rb") as f:
        if start:
            f.seek(start - 1)
            f.readline()
        end = start + length
        while f.tell() < end:
            line = f.readline()
            if not line:
                break
            yield line.decode()


def _wc_range(args: tuple[str, int, int]) -> Counter[str]:
    c: Counter[str] = Counter()
    for line in _range_lines(*args):
        c.update(line.split())
    return c


def _rev_range(args: tuple[str, int, int]) -> tuple[dict[str, float], dict[str, int]]:
    rev: dict[str, float] = {}
    hours: dict[str, int] = {}
    for line in _range_lines(*args):
        e = json.loads(line)
        if e["type"] == "purchase":
            rev[e["product_id"]] = rev.get(e["product_id"], 0.0) + e["price"]
            hh = e["ts"][11:13]
            hours[hh] = hours.get(hh, 0) + 1
    return rev, hours


def write_wc(counts: dict[str, int], out: Path) -> None:
    with out.open("w") as f:
        f.writelines(f"{w}\t{n}\n" for w, n in counts.items())


def write_rev(rev: dict[str, float], hours: dict[str, int], out: Path) -> None:
    with out.open("w") as f:
        f.writelines(f"rev\t{p}\t{r:.2f}\n" for p, r in rev.items())
        f.writelines(f"hour\t{h}\t{n}\n" for h, n in hours.items())


def run_engine(engine: str, job: str, data: Path, out: Path, workers: int) -> None:
    """Run one engine on one job (in this, a fresh child process)."""
    if engine == "plain":
        if job == "wordcount":
            c: Counter[str] = Counter()
            with data.open() as f:
                for line in f:
                    c.update(line.split())
            write_wc(c, out / "part-00000")
        else:
            rev: dict[str, float] = {}
            hours: dict[str, int] = {}
            with data.open() as f:
                for line in f:
                    e = json.loads(line)
                    if e["type"] == "purchase":
                        rev[e["product_id"]] = rev.get(e["product_id"], 0.0) + e["price"]
                        hh = e["ts"][11:13]
                        hours[hh] = hours.get(hh, 0) + 1
            write_rev(rev, hours, out / "part-00000")
    elif engine == "mp":
        import multiprocessing

        with multiprocessing.Pool(workers) as pool:
            if job == "wordcount":
                total: Counter[str] = Counter()
                for part in pool.imap_unordered(_wc_range, _ranges(data, MP_RANGE)):
                    total.update(part)
                write_wc(total, out / "part-00000")
            else:
                rev, hours = {}, {}
                for r, h in pool.imap_unordered(_rev_range, _ranges(data, MP_RANGE)):
                    for k, v in r.items():
                        rev[k] = rev.get(k, 0.0) + v
                    for k, n in h.items():
                        hours[k] = hours.get(k, 0) + n
                write_rev(rev, hours, out / "part-00000")
    else:
        cls = {"riverhead": WordCount, "riverhead-imc": WordCountIMC}[engine]
        if job == "revenue":
            cls = Revenue
        args = [str(data), "-o", str(out / "rh"), "--workers", str(workers), "--progress"]
        args += ["--no-progress", "--report", str(out / "report.json")]
        cls(args).run_job()


def normalized_output(out: Path) -> list[str]:
    lines: list[str] = []
    for part in sorted(out.rglob("part-*")):
        lines += part.read_text().splitlines()
    return sorted(lines)


# ---- measuring ------------------------------------------------------------------------------


def measure(engine: str, job: str, data: Path, workers: int, keep: Path) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix=f"{engine}-{job}-", dir=keep))
    cmd = [sys.executable, __file__, "--run-one", engine, job, str(data), str(out), str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} {job} failed with exit code {proc.returncode}")
    return {
        "engine": engine,
        "job": job,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "out": out,
    }


def load_average() -> float:
    return os.getloadavg()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="data size factor (1 = full)")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/riverhead-batch-bench"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine (median kept)")
    parser.add_argument("--jobs", default="wordcount,revenue")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--run-one", nargs=5, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.run_one:
        engine, job, data, out, workers = ns.run_one
        run_engine(engine, job, Path(data), Path(out), int(workers))
        return 0

    corpus, events = ensure_data(ns.data_dir, ns.scale)
    work = Path(tempfile.mkdtemp(prefix="bench-out-", dir=ns.data_dir))
    rows: list[dict[str, Any]] = []
    ok = True
    for job in ns.jobs.split(","):
        data = corpus if job == "wordcount" else events
        engines = ["plain", "mp", "riverhead"] + (["riverhead-imc"] if job == "wordcount" else [])
        results: dict[str, dict[str, Any]] = {}
        size = data.stat().st_size / 2**20
        print(f"\n{job}: {data.name}, {size:.0f} MiB, {ns.workers} workers", flush=True)
        for rnd in range(ns.repeat):
            order = engines[rnd % len(engines) :] + engines[: rnd % len(engines)]
            for engine in order:
                load = load_average()
                r = measure(engine, job, data, ns.workers, work)
                r["load_before"] = round(load, 2)
                results.setdefault(engine, {"runs": []})["runs"].append(r)
                print(
                    f"  {engine:14s} wall {r['wall_s']:7.2f} s  cpu {r['cpu_s']:7.2f} s  "
                    f"rss {r['peak_rss_mib']:7.1f} MiB  (load before {load:.2f})",
                    flush=True,
                )
        reference = None
        for engine in engines:
            runs = sorted(results[engine]["runs"], key=lambda r: r["wall_s"])
            best = runs[len(runs) // 2]
            lines = normalized_output(best["out"])
            if reference is None:
                reference = lines
            elif lines != reference:
                print(f"  !! {engine} output differs from plain's", flush=True)
                ok = False
            results[engine] = best
        plain, mp = results["plain"], results["mp"]
        print(
            f"  {'engine':14s} {'wall s':>8s} {'cpu s':>8s} {'rss MiB':>8s} "
            f"{'vs plain':>9s} {'vs mp':>7s} {'cpu/plain':>9s}"
        )
        for engine in engines:
            r = results[engine]
            r["speedup_vs_plain"] = round(plain["wall_s"] / r["wall_s"], 2)
            r["speedup_vs_mp"] = round(mp["wall_s"] / r["wall_s"], 2)
            r["cpu_vs_plain"] = round(r["cpu_s"] / plain["cpu_s"], 2)
            print(
                f"  {engine:14s} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['peak_rss_mib']:8.1f} "
                f"{r['speedup_vs_plain']:8.2f}x {r['speedup_vs_mp']:6.2f}x "
                f"{r['cpu_vs_plain']:8.2f}x"
            )
            rows.append({k: v for k, v in r.items() if k != "out"})
        best_rh = max(
            (results[e] for e in engines if e.startswith("riverhead")),
            key=lambda r: r["speedup_vs_plain"],
        )
        target = best_rh["speedup_vs_plain"] >= 1.6 and best_rh["speedup_vs_mp"] >= 1.0
        print(
            f"  target (>=1.6x plain, >= mp): {'MET' if target else 'NOT MET'} "
            f"by {best_rh['engine']} ({best_rh['speedup_vs_plain']}x plain, "
            f"{best_rh['speedup_vs_mp']}x mp)"
        )
    if ns.json:
        ns.json.write_text(
            json.dumps({"scale": ns.scale, "workers": ns.workers, "rows": rows}, indent=2)
        )
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
