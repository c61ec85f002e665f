"""Job configuration: the options every job understands, parsed from its command line.

``python job.py INPUT... -o OUT --runner local --reducers 4`` and
``riverhead batch run job.py INPUT... -o OUT ...`` both end up in a :class:`JobConfig`.
Sizes accept ``K``/``M``/``G`` suffixes (powers of 1024): ``--split-size 64M``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any

from riverhead.batch.errors import JobConfigError

RUNNERS = ("inline", "local", "spark")
INPUT_FORMATS = ("auto", "text", "jsonl", "csv")
COMPRESSIONS = ("none", "gzip", "bz2", "zstd")
DEFAULT_MEMORY = 256 << 20
DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_BROKERS = "127.0.0.1:9092"
BROKERS_ENV = "RIVERHEAD_BROKERS"

_SUFFIXES = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """``"64M"`` -> 67108864; plain integers are bytes; ``KiB``/``MB`` spellings accepted."""
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    digits = cleaned.rstrip("KMGT")
    suffix = cleaned[len(digits) :]
    try:
        value = float(digits)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512K, 64M, 2G)") from None
    if suffix not in _SUFFIXES or value <= 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512K, 64M, 2G)")
    return int(value * _SUFFIXES[suffix])


@dataclass
class JobConfig:
    """How to run a job. Every field has a command-line option (see :func:`build_parser`).

    ``inputs``: paths, globs, directories, ``-`` (stdin) or ``topic://`` URLs.
    ``output``: a directory (``part-NNNNN`` files are written there), a ``topic://name``
    URL, or ``None`` to print the output on stdout. ``reducers``: reduce tasks per step
    (default: ``workers``). ``workers``: processes of the local runner (default: CPU
    count). ``split_size``: bytes per input split of plain text / JSON lines files
    (default: chosen so every worker gets about 4 splits, between 1 MiB and 64 MiB).
    ``memory``: bytes of buffered records per task before the engine spills or switches
    to an external merge (an estimate of Python object sizes). ``max_attempts``: runs of
    a task before the job fails. ``sort_values``: sort each key's values (also the
    job's ``SORT_VALUES``). ``metrics_listener``: ``http://host:port`` serving Prometheus
    ``/metrics`` while the job runs; ``metrics_file``: a ``*.prom`` file the final metrics
    are written to (see :mod:`riverhead.batch.metrics`; local and inline runners).
    """

    inputs: list[str] = field(default_factory=list)
    output: str | None = None
    runner: str = "local"
    reducers: int | None = None
    workers: int | None = None
    split_size: int | None = None
    memory: int = DEFAULT_MEMORY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    input_format: str = "auto"
    output_compression: str = "none"
    brokers: str = field(default_factory=lambda: os.environ.get(BROKERS_ENV, DEFAULT_BROKERS))
    report: str | None = None
    progress: bool | None = None
    spark_master: str = "local[*]"
    temp_dir: str | None = None
    timeout: float = 30.0
    metrics_listener: str | None = None
    metrics_file: str | None = None

    def effective_workers(self) -> int:
        return self.workers or os.cpu_count() or 1

    def effective_reducers(self) -> int:
        return self.reducers or self.effective_workers()

    def validate(self) -> None:
        """Raise :class:`JobConfigError` for values no runner could use."""
        if self.runner not in RUNNERS:
            raise JobConfigError(f"unknown runner {self.runner!r}", f"use one of {RUNNERS}")
        if self.input_format not in INPUT_FORMATS:
            raise JobConfigError(
                f"unknown input format {self.input_format!r}", f"use one of {INPUT_FORMATS}"
            )
        if self.output_compression not in COMPRESSIONS:
            raise JobConfigError(
                f"unknown compression {self.output_compression!r}", f"use one of {COMPRESSIONS}"
            )
        for name in ("reducers", "workers", "split_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise JobConfigError(f"--{name.replace('_', '-')} must be at least 1")
        if self.max_attempts < 1:
            raise JobConfigError("--max-attempts must be at least 1")
        if self.memory < 1024:
            raise JobConfigError("--memory must be at least 1K")
        if not self.inputs:
            raise JobConfigError("no input given", "name files, directories, globs or topic://")
        if self.metrics_file is not None and not self.metrics_file.endswith(".prom"):
            raise JobConfigError(
                f"--metrics-file {self.metrics_file!r} does not end in .prom",
                "node_exporter's textfile collector reads only *.prom files",
            )
        if self.metrics_file is not None and not os.path.isdir(
            os.path.dirname(os.path.abspath(self.metrics_file))
        ):
            raise JobConfigError(
                f"--metrics-file {self.metrics_file!r}: its directory does not exist",
                "create it first (e.g. node_exporter's --collector.textfile.directory)",
            )
        if self.runner == "spark" and (self.metrics_listener or self.metrics_file):
            raise JobConfigError(
                "--metrics-listener and --metrics-file are not offered by the spark runner",
                "use Spark's own metrics, or --runner local",
            )


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """The engine's options (shared by ``python job.py`` and ``riverhead batch run``)."""
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="files, dirs, globs, topic://")
    parser.add_argument("-o", "--output", help="output directory or topic://name (default stdout)")
    parser.add_argument("-r", "--runner", default="local", choices=RUNNERS)
    parser.add_argument("--reducers", type=int, help="reduce tasks per step (default: workers)")
    parser.add_argument("--workers", type=int, help="processes (default: CPU count)")
    parser.add_argument("--split-size", type=parse_size, help="bytes per split (e.g. 64M)")
    parser.add_argument(
        "--memory", type=parse_size, default=DEFAULT_MEMORY, help="buffer per task (e.g. 256M)"
    )
    parser.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS)
    parser.add_argument("--input-format", default="auto", choices=INPUT_FORMATS)
    parser.add_argument("--output-compression", default="none", choices=COMPRESSIONS)
    parser.add_argument("--brokers", "-X", default=None, help="bootstrap servers for topic://")
    parser.add_argument("--report", help="write the JSON job report here")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar"
    )
    parser.add_argument("--spark-master", default="local[*]")
    parser.add_argument("--temp-dir", help="where spill files go (default: system temp)")
    parser.add_argument(
        "--metrics-listener", metavar="http://HOST:PORT", help="serve Prometheus /metrics there"
    )
    parser.add_argument("--metrics-file", metavar="PATH.prom", help="write final metrics here")


def config_from_namespace(ns: argparse.Namespace) -> JobConfig:
    """The :class:`JobConfig` for parsed options (unknown attributes are ignored)."""
    values: dict[str, Any] = {
        "inputs": list(ns.inputs),
        "output": ns.output,
        "runner": ns.runner,
        "reducers": ns.reducers,
        "workers": ns.workers,
        "split_size": ns.split_size,
        "memory": ns.memory,
        "max_attempts": ns.max_attempts,
        "input_format": ns.input_format,
        "output_compression": ns.output_compression,
        "report": ns.report,
        "progress": ns.progress,
        "spark_master": ns.spark_master,
        "temp_dir": ns.temp_dir,
        "metrics_listener": getattr(ns, "metrics_listener", None),
        "metrics_file": getattr(ns, "metrics_file", None),
    }
    if ns.brokers:
        values["brokers"] = ns.brokers
    return JobConfig(**values)
