"""Outputs: part files (optionally compressed), intermediate files, and committing them.

Final output of a step goes to ``part-NNNNN`` files, one per reduce task (or per map task
of a map-only last step), written through the job's ``OUTPUT_PROTOCOL`` one line per pair.
Tasks write to a temporary name under ``<output>/_temporary/``; the runner renames each
to its final name only after the task succeeded, and writes ``_SUCCESS`` when the whole
job did, so a reader never sees a partial part file from a failed attempt.
Intermediate data between steps is pickled lists of pairs (:class:`PickleWriter`), or
plain lists on the inline runner (:class:`MemoryWriter`).
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import pickle
from collections.abc import Iterator
from typing import IO, Any, cast

from riverhead.batch.errors import OutputError

SUFFIX = {"none": "", "gzip": ".gz", "bz2": ".bz2", "zstd": ".zst"}
PAIRS_PER_FRAME = 8192
TEMP_DIR = "_temporary"


def part_name(index: int, compression: str = "none") -> str:
    """``part-00003`` (plus ``.gz``/``.bz2``/``.zst``)."""
    return f"part-{index:05d}{SUFFIX[compression]}"


def open_binary_out(path: str, compression: str) -> IO[bytes]:
    if compression == "gzip":
        return cast(IO[bytes], gzip.open(path, "wb", compresslevel=6))
    if compression == "bz2":
        return cast(IO[bytes], bz2.open(path, "wb"))
    if compression == "zstd":
        import zstandard

        raw = open(path, "wb")  # noqa: SIM115
        return cast(IO[bytes], zstandard.ZstdCompressor().stream_writer(raw, closefd=True))
    return open(path, "wb")


def open_binary_in(path: str) -> IO[bytes]:
    if path.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    if path.endswith(".bz2"):
        return cast(IO[bytes], bz2.open(path, "rb"))
    if path.endswith(".zst"):
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)  # noqa: SIM115
        return io.BufferedReader(reader)
    return open(path, "rb")


class TextWriter:
    """Lines of ``protocol.write(key, value)`` into ``path`` (compressed if asked)."""

    def __init__(self, path: str, protocol: Any, compression: str = "none") -> None:
        self.path = path
        self.encode = protocol.write
        self.stream = open_binary_out(path, compression)
        self.lines: list[str] = []
        self.records = 0
        self.bytes = 0

    def write(self, key: Any, value: Any) -> None:
        self.lines.append(self.encode(key, value))
        if len(self.lines) >= PAIRS_PER_FRAME:
            self._flush()

    def _flush(self) -> None:
        if self.lines:
            data = ("\n".join(self.lines) + "\n").encode("utf-8", "surrogateescape")
            self.stream.write(data)
            self.records += len(self.lines)
            self.bytes += len(data)
            self.lines = []

    def close(self) -> None:
        self._flush()
        self.stream.close()


class PickleWriter:
    """``(key, value)`` pairs as pickled lists (read back by ``inputs.PickleSplit``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.stream = open(path, "wb")  # noqa: SIM115
        self.pairs: list[tuple[Any, Any]] = []
        self.records = 0

    def write(self, key: Any, value: Any) -> None:
        self.pairs.append((key, value))
        if len(self.pairs) >= PAIRS_PER_FRAME:
            self._flush()

    def _flush(self) -> None:
        if self.pairs:
            self.stream.write(pickle.dumps(self.pairs, 5))
            self.records += len(self.pairs)
            self.pairs = []

    def close(self) -> None:
        self._flush()
        self.stream.close()

    @property
    def bytes(self) -> int:
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0


class MemoryWriter:
    """Pairs collected in a list (inline runner's intermediate data)."""

    def __init__(self) -> None:
        self.pairs: list[tuple[Any, Any]] = []
        self.bytes = 0

    def write(self, key: Any, value: Any) -> None:
        self.pairs.append((key, value))

    @property
    def records(self) -> int:
        return len(self.pairs)

    def close(self) -> None:
        pass


def prepare_output_dir(path: str) -> str:
    """Create the output directory; refuse one that already holds ``part-*`` files."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputError(f"output {path!r} exists and is not a directory")
    os.makedirs(path, exist_ok=True)
    if any(name.startswith("part-") or name == "_SUCCESS" for name in os.listdir(path)):
        raise OutputError(
            f"output directory {path!r} already holds job output",
            "remove it or pick another -o directory",
        )
    temp = os.path.join(path, TEMP_DIR)
    os.makedirs(temp, exist_ok=True)
    return temp


def output_files(directory: str) -> list[str]:
    """The ``part-*`` files of an output directory, in order."""
    names = sorted(n for n in os.listdir(directory) if n.startswith("part-"))
    return [os.path.join(directory, n) for n in names]


def read_lines(paths: list[str]) -> Iterator[str]:
    """Lines (without newlines) of output files, decompressing by extension."""
    for path in paths:
        with open_binary_in(path) as stream:
            for raw in stream:
                yield raw.decode("utf-8", "surrogateescape").rstrip("\n")
