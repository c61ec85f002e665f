"""Counters: built-in task counters and user counters (``job.increment_counter``).

Counters are ``{group: {name: int}}``. Each task attempt starts with empty counters and
returns its own; the runner adds up those of *successful* attempts only (a failed
attempt's counts are dropped, as in Hadoop), so totals do not depend on retries.

Built-in counters live in group :data:`ENGINE`; their names are the ``*_RECORDS`` /
``*_BYTES`` constants below.
"""

from __future__ import annotations

Counters = dict[str, dict[str, int]]

ENGINE = "riverhead"
MAP_INPUT_RECORDS = "map input records"
MAP_INPUT_BYTES = "map input bytes"
MAP_OUTPUT_RECORDS = "map output records"
COMBINE_INPUT_RECORDS = "combine input records"
COMBINE_OUTPUT_RECORDS = "combine output records"
SPILLS = "spills"
SPILLED_RECORDS = "spilled records"
SPILLED_BYTES = "spilled bytes"
REDUCE_INPUT_GROUPS = "reduce input groups"
REDUCE_INPUT_RECORDS = "reduce input records"
REDUCE_OUTPUT_RECORDS = "reduce output records"
MERGE_PASSES = "merge passes"
OUTPUT_BYTES = "output bytes"
OUTPUT_RECORDS = "output records"


def increment(counters: Counters, group: str, name: str, amount: int = 1) -> None:
    """Add ``amount`` to ``counters[group][name]`` (created at 0)."""
    names = counters.get(group)
    if names is None:
        names = counters[group] = {}
    names[name] = names.get(name, 0) + amount


def merge_into(total: Counters, part: Counters) -> None:
    """Add every counter of ``part`` into ``total``."""
    for group, names in part.items():
        for name, amount in names.items():
            increment(total, group, name, amount)


def sorted_counters(counters: Counters) -> Counters:
    """A copy with groups and names in sorted order (stable reports)."""
    return {g: dict(sorted(counters[g].items())) for g in sorted(counters)}
