"""Riverhead's batch engine: MapReduce jobs over files and over topic offset ranges.

Write a job as a :class:`MapReduceJob` subclass (mrjob style) and run it with
``MyJob.run()`` from a script, ``riverhead batch run job.py ...`` or, from Python,
``MyJob(args).run_job()``. Runners: ``inline`` (one process, for debugging), ``local``
(process pool, default) and ``spark`` (PySpark, optional extra). See ``docs/batch.md``.
"""

from __future__ import annotations

from riverhead.batch.config import JobConfig, parse_size
from riverhead.batch.counters import Counters
from riverhead.batch.errors import BatchError, InputError, JobConfigError, JobFailed, OutputError
from riverhead.batch.job import MapReduceJob, MRStep
from riverhead.batch.partition import hash_partition, key_bytes
from riverhead.batch.protocols import (
    JSONProtocol,
    JSONValueProtocol,
    PickleProtocol,
    PickleValueProtocol,
    Protocol,
    RawProtocol,
    RawValueProtocol,
    TextProtocol,
)
from riverhead.batch.runners import JobResult, Runner, make_runner

__all__ = [
    "BatchError",
    "Counters",
    "InputError",
    "JSONProtocol",
    "JSONValueProtocol",
    "JobConfig",
    "JobConfigError",
    "JobFailed",
    "JobResult",
    "MRStep",
    "MapReduceJob",
    "OutputError",
    "PickleProtocol",
    "PickleValueProtocol",
    "Protocol",
    "RawProtocol",
    "RawValueProtocol",
    "Runner",
    "TextProtocol",
    "hash_partition",
    "key_bytes",
    "make_runner",
    "parse_size",
]
