"""Aggregations of window contents: ``init``/``add``/``merge``/``result`` over an accumulator.

Every accumulator is a JSON value (numbers, strings, lists, objects with string keys,
``None``) so window state can go to a changelog topic and to SQLite unchanged. ``add``
and ``merge`` return the new accumulator (they may mutate and return the old one).
``merge`` is needed by session windows (two sessions of a key joined by a record).

=====================  ==========================================  ====================
function               result                                      accumulator
=====================  ==========================================  ====================
``count()``            number of records                           int
``sum_of(fn)``         sum of ``fn(value)``                        number
``min_of(fn)``         smallest ``fn(value)``                      value or None
``max_of(fn)``         largest ``fn(value)``                       value or None
``mean_of(fn)``        mean of ``fn(value)`` (None if empty)       [sum, n]
``distinct_count(fn)`` number of distinct ``fn(value)``            {json(item): 1}
``top_k(k, fn)``       ``[[item, count], ...]``, count desc        {json(item): count}
``reduce(fn)``         ``fn(fn(v1, v2), v3)...``                   value or None
``aggregate(...)``     your ``init``/``add``/``merge``/``result``  yours (JSON)
=====================  ==========================================  ====================

``fn`` returning ``None`` skips the record for ``sum_of``/``min_of``/``max_of``/
``mean_of``/``distinct_count``/``top_k`` (so one keyed stream can feed several
aggregations). Ties in ``top_k`` are broken by the item's JSON text, so results are
deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Fn = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Aggregation:
    """``init() -> acc``; ``add(acc, value) -> acc``; ``merge(a, b) -> acc``;
    ``result(acc) -> output``; ``name`` shows in docs and errors. ``mergeable``: whether
    ``merge(a, b)`` equals adding ``b``'s records to ``a`` one by one (micro-batches
    are then pre-aggregated; see :mod:`riverhead.stream.windowing`)."""

    name: str
    init: Callable[[], Any]
    add: Callable[[Any, Any], Any]
    merge: Callable[[Any, Any], Any]
    result: Callable[[Any], Any] = _identity
    mergeable: bool = True


def _add_one(acc: int, value: Any) -> int:
    return acc + 1


def count() -> Aggregation:
    return Aggregation("count", lambda: 0, _add_one, lambda a, b: a + b)


def plain_result(agg: Aggregation) -> bool:
    """Whether ``agg.result`` returns the accumulator itself."""
    return agg.result is _identity


def counts_records(agg: Aggregation) -> bool:
    """Whether ``agg`` is :func:`count` (its accumulator of n records is n)."""
    return agg.add is _add_one


def sum_of(fn: Fn = _identity) -> Aggregation:
    def add(acc: Any, value: Any) -> Any:
        x = fn(value)
        return acc if x is None else acc + x

    return Aggregation("sum", lambda: 0, add, lambda a, b: a + b)


def _pick(fn: Fn, better: Callable[[Any, Any], bool], name: str) -> Aggregation:
    def add(acc: Any, value: Any) -> Any:
        x = fn(value)
        if x is None:
            return acc
        return x if acc is None or better(x, acc) else acc

    def merge(a: Any, b: Any) -> Any:
        if a is None:
            return b
        if b is None:
            return a
        return b if better(b, a) else a

    return Aggregation(name, lambda: None, add, merge)


def min_of(fn: Fn = _identity) -> Aggregation:
    return _pick(fn, lambda x, y: x < y, "min")


def max_of(fn: Fn = _identity) -> Aggregation:
    return _pick(fn, lambda x, y: x > y, "max")


def mean_of(fn: Fn = _identity) -> Aggregation:
    def add(acc: list[Any], value: Any) -> list[Any]:
        x = fn(value)
        if x is not None:
            acc[0] += x
            acc[1] += 1
        return acc

    return Aggregation(
        "mean", lambda: [0, 0], add, lambda a, b: [a[0] + b[0], a[1] + b[1]],
        lambda acc: acc[0] / acc[1] if acc[1] else None,
    )


def _json_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def _merge_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    for k, n in b.items():
        a[k] = a.get(k, 0) + n
    return a


def distinct_count(fn: Fn = _identity) -> Aggregation:
    def add(acc: dict[str, int], value: Any) -> dict[str, int]:
        x = fn(value)
        if x is not None:
            acc[_json_key(x)] = 1
        return acc

    return Aggregation(
        "distinct_count", dict, add, lambda a, b: {**a, **b}, lambda acc: len(acc),
    )


def top_k(k: int, fn: Fn = _identity) -> Aggregation:
    """The ``k`` most frequent ``fn(value)``: ``[[item, count], ...]``."""
    if k < 1:
        raise ValueError(f"top_k needs k >= 1, got {k}")

    def add(acc: dict[str, int], value: Any) -> dict[str, int]:
        x = fn(value)
        if x is not None:
            key = _json_key(x)
            acc[key] = acc.get(key, 0) + 1
        return acc

    def result(acc: dict[str, int]) -> list[list[Any]]:
        best = sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [[json.loads(item), n] for item, n in best]

    return Aggregation(f"top_{k}", dict, add, _merge_counts, result)


def reduce(fn: Callable[[Any, Any], Any], of: Fn = _identity) -> Aggregation:
    """Fold ``of(value)`` with ``fn`` (which must be associative for session merges)."""

    def add(acc: Any, value: Any) -> Any:
        x = of(value)
        return x if acc is None else fn(acc, x)

    def merge(a: Any, b: Any) -> Any:
        if a is None:
            return b
        return a if b is None else fn(a, b)

    return Aggregation("reduce", lambda: None, add, merge)


def aggregate(
    init: Callable[[], Any],
    add: Callable[[Any, Any], Any],
    merge: Callable[[Any, Any], Any] | None = None,
    result: Fn = _identity,
) -> Aggregation:
    """A custom aggregation; without ``merge`` it cannot be used on session windows."""

    def no_merge(a: Any, b: Any) -> Any:
        raise TypeError("this aggregate() has no merge function; session windows need one")

    return Aggregation("aggregate", init, add, merge or no_merge, result,
                       mergeable=merge is not None)
