"""Map and reduce tasks: the engine's inner loops, shared by the inline and local runners.

A task attempt is a plain function call, ``run_map_task`` or ``run_reduce_task``, in
whatever process the runner chose; it returns a small picklable result (run references,
output location, counters) and raises whatever the job's code raised.

Map side: records flow ``split -> mapper -> in-memory buffer {key: [values]}``. The buffer
is checked every few input batches against ``memory`` (an estimate from sampled object
sizes). When it is full the combiner (if any) folds it in place, which for aggregations
keeps one value per key and lets the task go on without touching the disk; only when
combining does not free at least half of it is the buffer partitioned, sorted by key and
spilled as runs (:mod:`riverhead.batch.sort`). At the end of the task the buffer is
combined and spilled once more. So a typical aggregation writes one small sorted run per
partition per map task, and the per-record cost is one generator step and one dict
operation: no serialization, no sort of individual records.

Reduce side: a reduce task reads the runs of its partition from every map task. When
their size (times an expansion factor for Python objects) fits in ``memory`` they are
merged into a dict and the keys sorted; otherwise they are merged from disk with a
bounded-memory k-way merge, values streamed to the reducer lazily.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, groupby
from operator import itemgetter
from typing import Any
from zlib import crc32

from riverhead.batch import counters as ctr
from riverhead.batch.inputs import ReadOptions, Split
from riverhead.batch.job import MapReduceJob, MRStep
from riverhead.batch.outputs import MemoryWriter, PickleWriter, TextWriter, part_name
from riverhead.batch.partition import hash_partition
from riverhead.batch.sort import (
    Entry,
    FileRunStore,
    MemoryRunStore,
    RunRef,
    RunStore,
    merge_runs,
    read_frames,
    sort_entries,
)

#: In-memory Python objects take roughly this many times their pickled size.
EXPANSION = 6
#: Estimated bytes per buffered key and per value, on top of their own sizes.
KEY_OVERHEAD = 90
VALUE_OVERHEAD = 8


@dataclass(frozen=True)
class TaskEnv:
    """Job-wide settings of tasks. ``work_dir=None`` keeps everything in memory (inline).

    ``output_temp``: directory for final part files (temporary names), or ``None`` when
    the final output is collected in memory.
    """

    memory: int
    read: ReadOptions
    work_dir: str | None
    output_temp: str | None
    compression: str = "none"


@dataclass(frozen=True)
class MapTask:
    """Map task ``index`` of step ``step`` over ``split``.

    ``partitions``: reduce tasks of the step (0 for a map-only step); ``final``: the step
    is the job's last (output goes through ``OUTPUT_PROTOCOL``).
    """

    step: int
    index: int
    split: Split
    partitions: int
    final: bool


@dataclass(frozen=True)
class ReduceTask:
    """Reduce task for ``partition`` of step ``step`` over the map tasks' ``runs``."""

    step: int
    partition: int
    runs: tuple[RunRef, ...]
    final: bool


@dataclass
class TaskResult:
    """What an attempt returns: runs (map side of a shuffle), output, counters.

    ``output`` is a temporary part-file path (final output), an intermediate file path, or
    (inline runner) a list of pairs; ``None`` when the task writes no output.
    """

    runs: list[RunRef] = field(default_factory=list)
    output: Any = None
    counters: ctr.Counters = field(default_factory=dict)


def _writer(job: MapReduceJob, env: TaskEnv, final: bool, name: str) -> Any:
    if final and env.output_temp is not None:
        path = os.path.join(env.output_temp, name)
        return TextWriter(path, job.OUTPUT_PROTOCOL(), env.compression)
    if env.work_dir is None:
        return MemoryWriter()
    return PickleWriter(os.path.join(env.work_dir, name + ".pairs"))


def _writer_output(writer: Any) -> Any:
    return writer.pairs if isinstance(writer, MemoryWriter) else writer.path


def _normalizer(job: MapReduceJob) -> Callable[[Any], Any] | None:
    """With a text ``INTERNAL_PROTOCOL``, a wrapper that round-trips pairs through it."""
    if job.INTERNAL_PROTOCOL is None:
        return None
    proto = job.INTERNAL_PROTOCOL()

    def normalize(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any) -> Iterator[tuple[Any, Any]]:
            for key, value in fn(*args) or ():
                yield proto.read(proto.write(key, value))

        return wrapped

    return normalize


def _sizeof(obj: Any) -> int:
    size = sys.getsizeof(obj)
    if isinstance(obj, tuple | list):
        size += sum(sys.getsizeof(x) for x in obj)
    elif isinstance(obj, dict):
        size += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in obj.items())
    return size


class MapBuffer:
    """The map side's ``{key: [values]}`` buffer with its combine-or-spill policy."""

    def __init__(
        self, job: MapReduceJob, step: MRStep, partitions: int, memory: int, store: RunStore
    ) -> None:
        self.buf: dict[Any, list[Any]] = {}
        self.job = job
        self.step = step
        self.partitions = partitions
        self.memory = memory
        self.store = store
        self.partition = job.partitioner_for(step)
        self.group_key = step.group_key
        self.counters = job._counters
        self.runs: list[RunRef] = []
        self.counted = 0  # values in the buffer already counted as map output
        self.key_size: float | None = None
        self.value_size = 0.0
        self.last_estimate = 0
        self.spills = 0

    # -- memory accounting ----------------------------------------------------------------

    def _count(self) -> int:
        total = sum(map(len, self.buf.values()))
        ctr.increment(self.counters, ctr.ENGINE, ctr.MAP_OUTPUT_RECORDS, total - self.counted)
        self.counted = total
        return total

    def _estimate(self, values: int) -> int:
        buf = self.buf
        if self.key_size is None and buf:
            sample = list(buf.items())[:64]
            self.key_size = sum(_sizeof(k) for k, _ in sample) / len(sample)
            vals = [v for _, vs in sample for v in vs[:4]]
            self.value_size = sum(_sizeof(v) for v in vals) / max(1, len(vals))
        key_size = self.key_size or 0.0
        return int(
            len(buf) * (key_size + KEY_OVERHEAD) + values * (self.value_size + VALUE_OVERHEAD)
        )

    def check(self, batches: int) -> int:
        """Combine or spill if full; returns how many batches to read before the next check."""
        estimate = self._estimate(self._count())
        growth = max(1, (estimate - self.last_estimate) // max(1, batches))
        if estimate >= self.memory:
            self.relieve()
            estimate = self._estimate(self.counted)
        self.last_estimate = estimate
        return max(1, min(64, (self.memory - estimate) // (2 * growth)))

    def relieve(self) -> None:
        """The buffer is full: combine it, and spill if that did not free half of it."""
        if self.step.combiner is not None:
            self.combine()
            if self._estimate(self.counted) < self.memory // 2:
                return
        self.spill()

    # -- combine and spill ------------------------------------------------------------------

    def combine(self) -> None:
        step = self.step
        combiner = step.combiner
        assert combiner is not None
        self._count()
        items = list(self.buf.items())
        self.buf.clear()
        buf = self.buf
        get = buf.get
        if step.combiner_init is not None:
            self.add_all(step.combiner_init())
        for key, values in items:
            out = combiner(key, values)
            if out is not None:
                for k, v in out:
                    lst = get(k)
                    if lst is None:
                        buf[k] = [v]
                    else:
                        lst.append(v)
        if step.combiner_final is not None:
            self.add_all(step.combiner_final())
        total = sum(map(len, buf.values()))
        ctr.increment(self.counters, ctr.ENGINE, ctr.COMBINE_INPUT_RECORDS, self.counted)
        ctr.increment(self.counters, ctr.ENGINE, ctr.COMBINE_OUTPUT_RECORDS, total)
        self.counted = total

    def spill(self) -> None:
        self._count()
        if not self.buf:
            return
        n = self.partitions
        partition = self.partition
        group_key = self.group_key
        parts: dict[int, list[Entry]] = {}
        if partition is hash_partition and group_key is None and n > 1:
            # The default partitioner inlined for str keys (one call less per key).
            lists: list[list[Entry]] = [[] for _ in range(n)]
            for item in self.buf.items():
                key = item[0]
                if type(key) is str:
                    p = crc32(key.encode("utf-8", "surrogatepass")) % n
                else:
                    p = hash_partition(key, n)
                lists[p].append(item)
            parts = {p: entries for p, entries in enumerate(lists) if entries}
        else:
            for key, values in self.buf.items():
                p = partition(key if group_key is None else group_key(key), n)
                if not 0 <= p < n:
                    raise ValueError(f"partitioner returned {p!r} for key {key!r}; need 0..{n - 1}")
                entries = parts.get(p)
                if entries is None:
                    parts[p] = [(key, values)]
                else:
                    entries.append((key, values))
        for entries in parts.values():
            sort_entries(entries)
        self.runs += self.store.write_spill(parts)
        ctr.increment(self.counters, ctr.ENGINE, ctr.SPILLS)
        ctr.increment(self.counters, ctr.ENGINE, ctr.SPILLED_RECORDS, self.counted)
        self.buf.clear()
        self.counted = 0
        self.last_estimate = 0

    def add_all(self, pairs: Iterable[tuple[Any, Any]] | None) -> None:
        buf = self.buf
        for k, v in pairs or ():
            lst = buf.get(k)
            if lst is None:
                buf[k] = [v]
            else:
                lst.append(v)

    def finish(self) -> list[RunRef]:
        if self.step.combiner is not None and self.buf:
            self.combine()
        self.spill()
        ctr.increment(self.counters, ctr.ENGINE, ctr.SPILLED_BYTES, self.store.spilled_bytes())
        return self.runs


def _map_records(
    mapper: Callable[..., Any] | None, batches: Iterator[tuple[bool, list[Any]]]
) -> Iterator[tuple[int, Iterable[tuple[Any, Any]]]]:
    """For map-only steps: ``(records read, pairs)`` per input batch."""
    for is_pairs, batch in batches:
        if mapper is None:
            yield len(batch), (batch if is_pairs else [(None, v) for v in batch])
            continue
        out: list[tuple[Any, Any]] = []
        extend = out.extend
        if is_pairs:
            for key, value in batch:
                extend(mapper(key, value) or ())
        else:
            for value in batch:
                extend(mapper(None, value) or ())
        yield len(batch), out


def run_map_task(job: MapReduceJob, task: MapTask, env: TaskEnv, attempt: int) -> TaskResult:
    """Run one map task attempt (see the module docs); raises what the job raises."""
    job._counters = {}
    counters = job._counters
    step = job.checked_steps()[task.step]
    mapper = step.mapper
    normalize = _normalizer(job)
    if normalize is not None and mapper is not None:
        mapper = normalize(mapper)
    batches = task.split.batches(env.read)
    records = 0
    init_out = step.mapper_init() if step.mapper_init is not None else None

    if task.partitions == 0:  # map-only step: pairs go straight to the output
        name = (
            part_name(task.index, env.compression) + f".a{attempt}"
            if task.final
            else f"s{task.step}-m{task.index}-a{attempt}"
        )
        writer = _writer(job, env, task.final, name)
        write = writer.write
        for k, v in init_out or ():
            write(k, v)
        for count, pairs in _map_records(mapper, batches):
            records += count
            for k, v in pairs:
                write(k, v)
        if step.mapper_final is not None:
            for k, v in step.mapper_final() or ():
                write(k, v)
        writer.close()
        ctr.increment(counters, ctr.ENGINE, ctr.MAP_INPUT_RECORDS, records)
        ctr.increment(counters, ctr.ENGINE, ctr.MAP_INPUT_BYTES, task.split.size)
        ctr.increment(counters, ctr.ENGINE, ctr.MAP_OUTPUT_RECORDS, writer.records)
        if task.final:
            ctr.increment(counters, ctr.ENGINE, ctr.OUTPUT_RECORDS, writer.records)
            ctr.increment(counters, ctr.ENGINE, ctr.OUTPUT_BYTES, writer.bytes)
        return TaskResult(output=_writer_output(writer), counters=counters)

    store: RunStore
    if env.work_dir is None:
        store = MemoryRunStore()
    else:
        store = FileRunStore(env.work_dir, f"s{task.step}-m{task.index}-a{attempt}")
    buffer = MapBuffer(job, step, task.partitions, env.memory, store)
    buffer.add_all(init_out)
    buf = buffer.buf
    get = buf.get
    countdown = 1
    since_check = 0
    # The hot loop: kept flat (locals only, no per-record function layers of our own).
    for is_pairs, batch in batches:
        records += len(batch)
        if mapper is None:
            for k, v in batch if is_pairs else ((None, v) for v in batch):
                lst = get(k)
                if lst is None:
                    buf[k] = [v]
                else:
                    lst.append(v)
        elif is_pairs:
            for key, value in batch:
                out = mapper(key, value)
                if out is not None:
                    for k, v in out:
                        lst = get(k)
                        if lst is None:
                            buf[k] = [v]
                        else:
                            lst.append(v)
        else:
            for value in batch:
                out = mapper(None, value)
                if out is not None:
                    for k, v in out:
                        lst = get(k)
                        if lst is None:
                            buf[k] = [v]
                        else:
                            lst.append(v)
        since_check += 1
        countdown -= 1
        if countdown <= 0:
            countdown = buffer.check(since_check)
            since_check = 0
    if step.mapper_final is not None:
        buffer.add_all(step.mapper_final())
    runs = buffer.finish()
    ctr.increment(counters, ctr.ENGINE, ctr.MAP_INPUT_RECORDS, records)
    ctr.increment(counters, ctr.ENGINE, ctr.MAP_INPUT_BYTES, task.split.size)
    return TaskResult(runs=runs, counters=counters)


def _counted(stream: Iterator[Entry], counters: ctr.Counters) -> Iterator[Entry]:
    n = 0
    try:
        for entry in stream:
            n += len(entry[1])
            yield entry
    finally:
        ctr.increment(counters, ctr.ENGINE, ctr.REDUCE_INPUT_RECORDS, n)


def _groups(
    job: MapReduceJob, step: MRStep, task: ReduceTask, env: TaskEnv, counters: ctr.Counters
) -> Iterator[tuple[Any, Iterable[Any]]]:
    """``(key, values)`` in key order for a reduce task (in memory or merged from disk)."""
    group_key = step.group_key
    total = sum(r.length for r in task.runs)
    if env.work_dir is None or total * EXPANSION <= env.memory:
        buf: dict[Any, list[Any]] = {}
        get = buf.get
        for ref in task.runs:
            shared = ref.data is not None  # inline runs: never mutate the run's lists
            for frame in read_frames(ref):
                for key, values in frame:
                    lst = get(key)
                    if lst is None:
                        buf[key] = values[:] if shared else values
                    else:
                        lst.extend(values)
        ctr.increment(counters, ctr.ENGINE, ctr.REDUCE_INPUT_RECORDS, sum(map(len, buf.values())))
        entries: list[Entry] = list(buf.items())
        buf.clear()
        sort_entries(entries)
        if group_key is None:
            yield from entries
        else:
            for group, members in groupby(entries, key=lambda e: group_key(e[0])):
                yield group, chain.from_iterable(vs for _, vs in members)
        return
    store: RunStore = FileRunStore(env.work_dir, f"s{task.step}-r{task.partition}-merge")
    stream, passes = merge_runs(list(task.runs), store)
    ctr.increment(counters, ctr.ENGINE, ctr.MERGE_PASSES, passes)
    counted = _counted(stream, counters)
    if group_key is None:
        for key, members in groupby(counted, key=itemgetter(0)):
            yield key, chain.from_iterable(vs for _, vs in members)
    else:
        for group, members in groupby(counted, key=lambda e: group_key(e[0])):
            yield group, chain.from_iterable(vs for _, vs in members)


def _identity_reducer(key: Any, values: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
    for value in values:
        yield key, value


def run_reduce_task(job: MapReduceJob, task: ReduceTask, env: TaskEnv, attempt: int) -> TaskResult:
    """Run one reduce task attempt; output goes to a part file or intermediate data."""
    job._counters = {}
    counters = job._counters
    step = job.checked_steps()[task.step]
    reducer = step.reducer or _identity_reducer
    normalize = _normalizer(job)
    if normalize is not None and not task.final:
        reducer = normalize(reducer)
    sort_values = job.sort_values_for(step)
    name = (
        part_name(task.partition, env.compression) + f".a{attempt}"
        if task.final
        else f"s{task.step}-r{task.partition}-a{attempt}"
    )
    writer = _writer(job, env, task.final, name)
    write = writer.write
    if step.reducer_init is not None:
        for k, v in step.reducer_init() or ():
            write(k, v)
    groups = 0
    for key, values in _groups(job, step, task, env, counters):
        groups += 1
        if sort_values:
            values = sorted(values)
        out = reducer(key, values)
        if out is not None:
            for k, v in out:
                write(k, v)
    if step.reducer_final is not None:
        for k, v in step.reducer_final() or ():
            write(k, v)
    writer.close()
    ctr.increment(counters, ctr.ENGINE, ctr.REDUCE_INPUT_GROUPS, groups)
    ctr.increment(counters, ctr.ENGINE, ctr.REDUCE_OUTPUT_RECORDS, writer.records)
    if task.final:
        ctr.increment(counters, ctr.ENGINE, ctr.OUTPUT_RECORDS, writer.records)
        ctr.increment(counters, ctr.ENGINE, ctr.OUTPUT_BYTES, writer.bytes)
    return TaskResult(output=_writer_output(writer), counters=counters)
