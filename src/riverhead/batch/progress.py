"""The progress bar: one line per phase (``step 1 map``, ``step 1 reduce``...) on stderr.

Shown when ``--progress`` is given, or by default when stderr is a terminal. Updated by
the runner as tasks finish; a disabled bar costs nothing.
"""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    """Phases with a task count each; ``advance`` after every finished task."""

    def __init__(self, enabled: bool | None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.enabled = enabled
        self._bar: Any = None
        self._current: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description:<16}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def phase(self, name: str, total: int) -> None:
        if self._bar is not None:
            self._current = self._bar.add_task(name, total=total, note="")

    def advance(self, note: str = "") -> None:
        if self._bar is not None and self._current is not None:
            self._bar.update(self._current, advance=1, note=note)
