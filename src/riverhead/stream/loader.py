"""Loading the topology of ``riverhead stream run APP``.

``APP`` is a Python file (or ``file.py:name``). The file is executed with
``__name__ == "__riverhead_stream__"`` (so an ``if __name__ == "__main__":`` block that runs
it locally is skipped) in every worker process, and the topology is taken from, in order:

1. ``name`` when given (a :class:`Topology`, or a function returning one);
2. a function ``build_topology()`` returning a :class:`Topology` (preferred: nothing is
   built at import time);
3. a module-level variable ``topology``.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

from riverhead.stream.errors import StreamError
from riverhead.stream.topology import Topology

RUN_NAME = "__riverhead_stream__"


def load_topology(app: str) -> Topology:
    """The topology ``app`` defines; raises :class:`StreamError` saying what is missing."""
    path, _, name = app.partition(":") if not Path(app).exists() else (app, "", "")
    if not Path(path).is_file():
        raise StreamError(f"{path}: no such file")
    try:
        namespace = runpy.run_path(path, run_name=RUN_NAME)
    except Exception as exc:
        raise StreamError(f"{path}: importing it raised {type(exc).__name__}: {exc}") from exc
    candidates = [name] if name else ["build_topology", "topology"]
    for attr in candidates:
        if attr in namespace:
            return _as_topology(path, attr, namespace[attr])
    raise StreamError(
        f"{path} defines neither build_topology() nor a module-level `topology`"
        if not name else f"{path} has no attribute {name!r}"
    )


def _as_topology(path: str, attr: str, value: Any) -> Topology:
    if callable(value) and not isinstance(value, Topology):
        value = value()
    if not isinstance(value, Topology):
        raise StreamError(f"{path}:{attr} is a {type(value).__name__}, not a Topology")
    return value
