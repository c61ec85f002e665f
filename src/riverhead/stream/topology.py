"""The topology: components (spouts and bolts), their parallelism, and their subscriptions.

Building one is declarative and cheap; nothing runs until a runner takes it::

    topology = Topology("word-count")
    topology.spout("sentences", Sentences(), parallelism=1)
    topology.bolt("split", Split(), parallelism=2).shuffle_grouping("sentences")
    topology.bolt("count", Count(), parallelism=2).fields_grouping("split", "word")

:meth:`Topology.validate` checks names, streams, fields and groupings; runners call it.
A topology is not thread-safe to build; once validated it is only read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from riverhead.stream.components import Bolt, Component, Spout, StreamDef
from riverhead.stream.errors import TopologyError
from riverhead.stream.groupings import GroupingKind, Subscription
from riverhead.stream.tuples import DEFAULT_STREAM

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class ComponentSpec:
    """One component of a topology: its id, prototype instance and task count."""

    id: str
    component: Component
    parallelism: int
    is_spout: bool
    streams: dict[str, StreamDef] = field(default_factory=dict)
    inputs: list[Subscription] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    alias: str | None = None
    """The component id its tuples show as ``source`` (internal repartition spouts)."""


class Declarer:
    """Returned by :meth:`Topology.spout`; ``set`` adds per-component configuration."""

    def __init__(self, topology: Topology, spec: ComponentSpec) -> None:
        self._topology = topology
        self.spec = spec

    def set(self, key: str, value: Any) -> Declarer:
        """Per-component config (e.g. ``max_spout_pending``); returns ``self``."""
        self.spec.config[key] = value
        return self


class BoltDeclarer(Declarer):
    """Returned by :meth:`Topology.bolt`: subscribe the bolt to streams. Each method
    returns ``self`` so several inputs chain."""

    def _add(
        self, source: str, stream: str, kind: GroupingKind, fields: tuple[str, ...] = ()
    ) -> BoltDeclarer:
        self.spec.inputs.append(Subscription(self.spec.id, source, stream, kind, fields))
        return self

    def shuffle_grouping(self, source: str, stream: str = DEFAULT_STREAM) -> BoltDeclarer:
        """Spread ``source``'s tuples evenly over this bolt's tasks."""
        return self._add(source, stream, GroupingKind.SHUFFLE)

    def fields_grouping(
        self, source: str, *fields: str, stream: str = DEFAULT_STREAM
    ) -> BoltDeclarer:
        """Tuples with equal values of ``fields`` go to the same task."""
        if not fields:
            raise TopologyError(f"{self.spec.id}: fields_grouping({source!r}) needs field names")
        return self._add(source, stream, GroupingKind.FIELDS, tuple(fields))

    def all_grouping(self, source: str, stream: str = DEFAULT_STREAM) -> BoltDeclarer:
        """Every task gets every tuple."""
        return self._add(source, stream, GroupingKind.ALL)

    def global_grouping(self, source: str, stream: str = DEFAULT_STREAM) -> BoltDeclarer:
        """Every tuple goes to the task with the lowest id."""
        return self._add(source, stream, GroupingKind.GLOBAL)

    def direct_grouping(self, source: str, stream: str = DEFAULT_STREAM) -> BoltDeclarer:
        """The emitter chooses the task (``emit_direct`` on a direct stream)."""
        return self._add(source, stream, GroupingKind.DIRECT)

    def local_or_shuffle_grouping(
        self, source: str, stream: str = DEFAULT_STREAM
    ) -> BoltDeclarer:
        """Shuffle among tasks in the same worker process."""
        return self._add(source, stream, GroupingKind.LOCAL_OR_SHUFFLE)


class Topology:
    """A named graph of spouts and bolts (Storm's ``TopologyBuilder`` + ``StormTopology``).

    ``config`` holds topology-level settings (``message_timeout``, ``max_spout_pending``,
    ``acking``...; see :class:`riverhead.stream.runner.RunConfig`) that runners read
    unless they are given their own.
    """

    def __init__(self, name: str, **config: Any) -> None:
        if not _NAME.match(name):
            raise TopologyError(
                f"topology name {name!r}: use letters, digits, '.', '_' and '-' (<= 100)"
            )
        self.name = name
        self.config: dict[str, Any] = dict(config)
        self.components: dict[str, ComponentSpec] = {}

    def _add(self, cid: str, component: Component, parallelism: int, spout: bool) -> ComponentSpec:
        if not _NAME.match(cid) or cid.startswith("__"):
            raise TopologyError(
                f"component id {cid!r}: use letters, digits, '.', '_' and '-', not starting "
                "with '__' (reserved)"
            )
        if cid in self.components:
            raise TopologyError(f"component id {cid!r} is already used in {self.name!r}")
        if not isinstance(parallelism, int) or parallelism < 1:
            raise TopologyError(f"{cid}: parallelism must be an int >= 1, got {parallelism!r}")
        spec = ComponentSpec(cid, component, parallelism, spout, component.output_streams())
        self.components[cid] = spec
        return spec

    def spout(self, cid: str, spout: Spout, parallelism: int = 1) -> Declarer:
        """Add a spout with ``parallelism`` tasks."""
        if not isinstance(spout, Spout):
            raise TopologyError(f"{cid}: {type(spout).__name__} is not a Spout")
        return Declarer(self, self._add(cid, spout, parallelism, True))

    def bolt(self, cid: str, bolt: Bolt, parallelism: int = 1) -> BoltDeclarer:
        """Add a bolt with ``parallelism`` tasks; subscribe it with the returned declarer."""
        if not isinstance(bolt, Bolt):
            raise TopologyError(f"{cid}: {type(bolt).__name__} is not a Bolt")
        return BoltDeclarer(self, self._add(cid, bolt, parallelism, False))

    # ---- reading ----------------------------------------------------------------------

    def spouts(self) -> Iterator[ComponentSpec]:
        return (c for c in self.components.values() if c.is_spout)

    def bolts(self) -> Iterator[ComponentSpec]:
        return (c for c in self.components.values() if not c.is_spout)

    def subscribers(self, source: str, stream: str) -> list[Subscription]:
        """Subscriptions to ``source``'s ``stream``, in the order the bolts were added."""
        return [
            s
            for c in self.components.values()
            for s in c.inputs
            if s.source == source and s.stream == stream
        ]

    def bolt_order(self) -> list[str]:
        """Bolt ids, upstream first (a topological order; cycles keep insertion order)."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(cid: str, path: set[str]) -> None:
            if cid in seen or cid in path:
                return
            path.add(cid)
            for sub in self.components[cid].inputs:
                if not self.components[sub.source].is_spout:
                    visit(sub.source, path)
            path.discard(cid)
            seen.add(cid)
            order.append(cid)

        for spec in self.bolts():
            visit(spec.id, set())
        return order

    def validate(self) -> None:
        """Raise :class:`TopologyError` unless every subscription names an existing
        component, a declared stream and declared fields, with a grouping fit for it."""
        if not any(c.is_spout for c in self.components.values()):
            raise TopologyError(f"topology {self.name!r} has no spout")
        for spec in self.components.values():
            if spec.is_spout and spec.inputs:
                raise TopologyError(f"{spec.id}: a spout cannot subscribe to streams")
            for sub in spec.inputs:
                source = self.components.get(sub.source)
                if source is None:
                    raise TopologyError(
                        f"{spec.id} subscribes to unknown component {sub.source!r} "
                        f"(components: {', '.join(self.components)})"
                    )
                sdef = source.streams.get(sub.stream)
                if sdef is None:
                    raise TopologyError(
                        f"{spec.id} subscribes to {sub.source}/{sub.stream}, which "
                        f"{sub.source} does not declare (streams: {', '.join(source.streams)}"
                        "; declare fields with `outputs = (...)` or declare_stream)"
                    )
                missing = [f for f in sub.fields if f not in sdef.fields]
                if missing:
                    raise TopologyError(
                        f"{spec.id}: fields_grouping on {sub.source}/{sub.stream} names "
                        f"{missing}, not among its fields {list(sdef.fields)}"
                    )
                if sdef.direct != (sub.kind is GroupingKind.DIRECT):
                    raise TopologyError(
                        f"{spec.id}: {sub.source}/{sub.stream} is "
                        + ("a direct stream; use direct_grouping" if sdef.direct else
                           "not a direct stream; declare it with direct=True")
                    )
