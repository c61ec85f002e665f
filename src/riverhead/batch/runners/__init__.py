"""Runners: ``inline`` (this process), ``local`` (process pool, default), ``spark``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from riverhead.batch.config import JobConfig
from riverhead.batch.errors import JobConfigError
from riverhead.batch.runners.base import JobResult, Runner

if TYPE_CHECKING:
    from riverhead.batch.job import MapReduceJob


def make_runner(job: MapReduceJob, config: JobConfig) -> Runner:
    """The runner named by ``config.runner`` (``spark`` imports pyspark only then)."""
    if config.runner == "inline":
        from riverhead.batch.runners.inline import InlineRunner

        return InlineRunner(job, config)
    if config.runner == "local":
        from riverhead.batch.runners.local import LocalRunner

        return LocalRunner(job, config)
    if config.runner == "spark":
        from riverhead.batch.runners.spark import SparkRunner

        return SparkRunner(job, config)
    raise JobConfigError(f"unknown runner {config.runner!r}", "use inline, local or spark")


__all__ = ["JobResult", "Runner", "make_runner"]
