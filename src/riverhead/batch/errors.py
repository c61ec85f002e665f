"""Errors of the batch engine.

Hierarchy::

    BatchError                  any failure the engine reports (has ``name`` and ``hint``)
    ├── JobConfigError          bad options or job definition (before anything runs)
    ├── InputError              an input path, glob or topic URL cannot be read
    ├── OutputError             the output location cannot be written
    └── JobFailed               a task failed ``attempts`` times; carries its traceback

``name`` is a Kafka-style upper-case label the CLI prints as ``error: NAME: message``.
"""

from __future__ import annotations


class BatchError(Exception):
    """A batch-engine failure: ``message``, an upper-case ``name`` and an optional ``hint``."""

    name = "BATCH_ERROR"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class JobConfigError(BatchError):
    """Options or the job definition are invalid (nothing was run)."""

    name = "INVALID_JOB_CONFIG"


class InputError(BatchError):
    """An input cannot be found or read."""

    name = "INVALID_INPUT"


class OutputError(BatchError):
    """The output location cannot be used."""

    name = "INVALID_OUTPUT"


class JobFailed(BatchError):
    """A task failed on every attempt; ``traceback`` is the last attempt's, as raised.

    ``task`` names it (``step 1 map task 3``), ``attempts`` says how often it ran.
    """

    name = "JOB_FAILED"

    def __init__(self, task: str, attempts: int, traceback: str) -> None:
        last = traceback.strip().splitlines()[-1] if traceback.strip() else "unknown error"
        super().__init__(
            f"{task} failed after {attempts} attempt(s): {last}",
            "the task's traceback is printed above; --max-attempts sets the retry limit",
        )
        self.task = task
        self.attempts = attempts
        self.traceback = traceback
