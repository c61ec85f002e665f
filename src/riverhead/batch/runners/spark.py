"""The Spark runner: the same job, translated to PySpark RDD operations.

PySpark is an optional extra (``pip install riverhead[spark]``) imported only here, when
this runner is chosen. ``--spark-master`` picks the cluster (default ``local[*]``); an
already active ``SparkSession`` is reused (and left running) when there is one.

Translation of one step (the job object is shipped to executors with cloudpickle; the
module defining its class is pickled by value unless it is part of ``riverhead``):

* input: the driver resolves inputs into the very splits the local runner uses (so topic
  offset ranges are fixed at job start here too); ``parallelize(splits)`` makes one
  Spark partition per split and executors read them with the same readers;
* ``mapPartitions``: ``mapper_init``, ``mapper`` per record, ``mapper_final``, then the
  combiner over a per-partition dict (hash-based map-side combining, like
  ``reduceByKey``);
* ``repartitionAndSortWithinPartitions`` with the job's partitioner (on ``group_key(key)``
  when set) and ``--reducers`` partitions: Spark's sort-based shuffle;
* ``mapPartitions``: consecutive equal keys (or group keys) -> ``reducer``, with
  ``reducer_init``/``reducer_final`` per partition;
* the last step's pairs are encoded with ``OUTPUT_PROTOCOL`` and saved with
  ``saveAsTextFile`` (``part-NNNNN`` files, gzip/bz2 via Hadoop codecs; zstd is not
  offered because it needs Hadoop's native library).

Counters come back through an accumulator; as with any Spark accumulator updated in a
transformation, a retried Spark task may count twice. Task retries are Spark's own
(``spark.task.maxFailures``; one attempt in ``local[N]`` unless the master is written
``local[N,F]``); ``--max-attempts`` is passed as ``local[N,F]`` for local masters.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import groupby
from operator import itemgetter
from typing import Any

from riverhead.batch import counters as ctr
from riverhead.batch.errors import JobConfigError, JobFailed
from riverhead.batch.inputs import ReadOptions, Split
from riverhead.batch.job import MapReduceJob
from riverhead.batch.outputs import output_files, prepare_output_dir, read_lines
from riverhead.batch.runners.base import JobResult, Runner, _remove_tree_except
from riverhead.batch.sort import order_key
from riverhead.batch.topics import is_topic_url, produce_lines

_CODECS = {
    "none": None,
    "gzip": "org.apache.hadoop.io.compress.GzipCodec",
    "bz2": "org.apache.hadoop.io.compress.BZip2Codec",
}


def spark_session(master: str = "local[*]", app_name: str = "riverhead-batch") -> Any:
    """A SparkSession for batch jobs (the active one if any): UI off, loopback only.

    Points ``PYSPARK_PYTHON`` at this interpreter first so executors can import riverhead.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    return (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


class _CounterParam:
    """AccumulatorParam for ``{group: {name: int}}`` counters."""

    def zero(self, value: ctr.Counters) -> ctr.Counters:
        return {}

    def addInPlace(self, a: ctr.Counters, b: ctr.Counters) -> ctr.Counters:
        ctr.merge_into(a, b)
        return a


def _add_pairs(buf: dict[Any, list[Any]], pairs: Iterable[tuple[Any, Any]] | None) -> None:
    for k, v in pairs or ():
        lst = buf.get(k)
        if lst is None:
            buf[k] = [v]
        else:
            lst.append(v)


def _spark_map(
    job: MapReduceJob, index: int, first: bool, read: ReadOptions, acc: Any, items: Iterator[Any]
) -> Iterator[tuple[Any, Any]]:
    """One Spark partition of a step's map side (mapper + in-partition combiner)."""
    job._counters = {}
    step = job.checked_steps()[index]
    mapper = step.mapper
    records = 0

    def inputs() -> Iterator[tuple[Any, Any]]:
        nonlocal records
        if not first:
            for pair in items:
                records += 1
                yield pair
            return
        for split in items:
            for is_pairs, batch in split.batches(read):
                records += len(batch)
                if is_pairs:
                    yield from batch
                else:
                    for value in batch:
                        yield None, value

    out: list[tuple[Any, Any]] = []
    buf: dict[Any, list[Any]] = {}
    combine = step.combiner is not None and step.has_reducer
    sink = buf if combine else None
    emitted = 0

    def emit(pairs: Iterable[tuple[Any, Any]] | None) -> None:
        nonlocal emitted
        if sink is not None:
            before = len(out)
            _add_pairs(sink, pairs)
            emitted += len(out) - before
        else:
            out.extend(pairs or ())

    if step.mapper_init is not None:
        emit(step.mapper_init())
    for key, value in inputs():
        if mapper is None:
            emit([(key, value)])
        else:
            emit(mapper(key, value))
    if step.mapper_final is not None:
        emit(step.mapper_final())
    if combine:
        emitted = sum(map(len, buf.values()))
        assert step.combiner is not None
        if step.combiner_init is not None:
            out.extend(step.combiner_init() or ())
        for key, values in buf.items():
            out.extend(step.combiner(key, values) or ())
        if step.combiner_final is not None:
            out.extend(step.combiner_final() or ())
    else:
        emitted = len(out)
    ctr.increment(job._counters, ctr.ENGINE, ctr.MAP_INPUT_RECORDS, records)
    ctr.increment(job._counters, ctr.ENGINE, ctr.MAP_OUTPUT_RECORDS, emitted)
    acc.add(job._counters)
    return iter(out)


def _spark_reduce(
    job: MapReduceJob, index: int, acc: Any, items: Iterator[tuple[Any, Any]]
) -> Iterator[tuple[Any, Any]]:
    """One Spark partition of a step's reduce side, over pairs sorted by key."""
    job._counters = {}
    step = job.checked_steps()[index]
    group_key = step.group_key
    sort_values = job.sort_values_for(step)
    reducer = step.reducer
    groups = 0
    out: list[tuple[Any, Any]] = []
    if step.reducer_init is not None:
        out.extend(step.reducer_init() or ())
    grouping = itemgetter(0) if group_key is None else (lambda pair: group_key(pair[0]))
    for key, members in groupby(items, key=grouping):
        groups += 1
        values: Iterable[Any] = (v for _, v in members)
        if sort_values:
            values = sorted(values)
        if reducer is None:
            out.extend((key, v) for v in values)
        else:
            out.extend(reducer(key, values) or ())
    if step.reducer_final is not None:
        out.extend(step.reducer_final() or ())
    ctr.increment(job._counters, ctr.ENGINE, ctr.REDUCE_INPUT_GROUPS, groups)
    ctr.increment(job._counters, ctr.ENGINE, ctr.REDUCE_OUTPUT_RECORDS, len(out))
    acc.add(job._counters)
    return iter(out)


def _encode(protocol_class: Any, pairs: Iterator[tuple[Any, Any]]) -> Iterator[str]:
    write = protocol_class().write
    for key, value in pairs:
        yield write(key, value)


def _partition_func(partitioner: Any, group_key: Any, n: int, key: Any) -> int:
    return int(partitioner(key if group_key is None else group_key(key), n))


def _local_with_retries(master: str, attempts: int) -> str:
    if master.startswith("local[") and "," not in master and attempts > 1:
        return f"{master[:-1]},{attempts}]"
    return master


class SparkRunner(Runner):
    name = "spark"

    def run(self) -> JobResult:
        import tempfile

        from pyspark import cloudpickle

        config = self.config
        if config.output_compression not in _CODECS:
            raise JobConfigError(
                f"the spark runner cannot write {config.output_compression} output",
                "use gzip or bz2",
            )
        steps = self.job.checked_steps()
        self.work_root = tempfile.mkdtemp(prefix="riverhead-spark-", dir=config.temp_dir)
        out_dir, temporary = self._output_dir()
        succeeded = False
        try:
            prepare_output_dir(out_dir)
            t0 = time.perf_counter()
            module = sys.modules.get(type(self.job).__module__)
            if module is not None and not module.__name__.startswith(("riverhead.", "__main__")):
                cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call]
            spark = spark_session(_local_with_retries(config.spark_master, config.max_attempts))
            sc = spark.sparkContext
            splits: list[Split] = self.resolve_splits()
            if not splits:
                raise JobConfigError("the inputs hold no data to read", "check the input paths")
            self.report.phase("setup", t0, splits=len(splits))
            acc = sc.accumulator({}, _CounterParam())
            read = self.env(None).read
            rdd: Any = sc.parallelize(splits, len(splits))
            reducers = config.effective_reducers()
            t0 = time.perf_counter()
            for index, step in enumerate(steps):
                mapped = rdd.mapPartitions(
                    partial(_spark_map, self.job, index, index == 0, read, acc)
                )
                if step.has_reducer:
                    n = step.reducers or reducers
                    func = partial(
                        _partition_func, self.job.partitioner_for(step), step.group_key, n
                    )
                    shuffled = mapped.repartitionAndSortWithinPartitions(
                        numPartitions=n, partitionFunc=func, keyfunc=order_key
                    )
                    rdd = shuffled.mapPartitions(partial(_spark_reduce, self.job, index, acc))
                else:
                    rdd = mapped
            target = os.path.join(self.work_root, "spark-output")
            lines = rdd.mapPartitions(partial(_encode, self.job.OUTPUT_PROTOCOL))
            try:
                lines.saveAsTextFile(
                    target, compressionCodecClass=_CODECS[config.output_compression]
                )
            except Exception as exc:
                raise JobFailed("spark job", 1, _spark_error(exc)) from None
            self.report.phase("spark job", t0, steps=len(steps))
            for path in output_files(target):
                shutil.move(path, os.path.join(out_dir, os.path.basename(path)))
            shutil.rmtree(os.path.join(out_dir, "_temporary"), ignore_errors=True)
            with open(os.path.join(out_dir, "_SUCCESS"), "w"):
                pass
            files = output_files(out_dir)
            self.counters = dict(acc.value)
            if config.output is not None and is_topic_url(config.output):
                produced = produce_lines(
                    config.output, config.brokers, read_lines(files), config.timeout
                )
                ctr.increment(self.counters, ctr.ENGINE, "records produced", produced)
            self.report.counters = self.counters
            self.report.outputs = [] if temporary else files
            report = self.report.finish("succeeded")
            if config.report:
                self.report.write(config.report)
            elif not temporary:
                self.report.write(os.path.join(out_dir, "_job_report.json"))
            succeeded = True
            return JobResult(
                out_dir, files, self.counters, report, self.job.OUTPUT_PROTOCOL(), temporary
            )
        except BaseException as exc:
            self.report.finish("failed", f"{type(exc).__name__}: {exc}")
            if config.report:
                self.report.write(config.report)
            raise
        finally:
            _remove_tree_except(self.work_root, out_dir if temporary and succeeded else None)


def _spark_error(exc: BaseException) -> str:
    """The Python traceback inside a Spark failure message, when there is one."""
    text = str(exc)
    start = text.find("Traceback (most recent call last)")
    if start < 0:
        return text
    body = text[start:]
    end = body.find("\n\tat ")
    return body if end < 0 else body[:end]
