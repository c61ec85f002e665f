"""riverhead.stream: Storm's model in Python — topologies of spouts and bolts with
guaranteed (at-least-once) processing, run in one process (:class:`LocalRunner`) or as
worker processes in a Kafka consumer group (``riverhead stream run app.py --workers N``).

See docs/stream.md. Test helpers live in :mod:`riverhead.stream.testing`; the Kafka spout
and sink in :mod:`riverhead.stream.kafka` (re-exported here). Part 2 (docs/stream-windows.md):
the dataflow DSL (:class:`App`, :mod:`riverhead.stream.dsl`), window assigners
(:mod:`riverhead.stream.windows`), aggregations (:mod:`riverhead.stream.aggregations`) and
state stores (:mod:`riverhead.stream.state`).
"""

from riverhead.stream.clock import FakeClock, RealClock
from riverhead.stream.components import Bolt, Context, Failure, Spout, StreamDef
from riverhead.stream.dsl import App
from riverhead.stream.errors import (
    ComponentError,
    NotRunningError,
    StreamError,
    TopologyError,
)
from riverhead.stream.groupings import GroupingKind
from riverhead.stream.kafka import KafkaBolt, KafkaSpout
from riverhead.stream.metrics import ComponentStats, TaskError
from riverhead.stream.runner import LocalRunner, RunConfig, RunResult
from riverhead.stream.topology import BoltDeclarer, Declarer, Topology
from riverhead.stream.tuples import DEFAULT_STREAM, Tuple
from riverhead.stream.windows import count_window, hopping, session, tumbling

__all__ = [
    "DEFAULT_STREAM",
    "App",
    "Bolt",
    "BoltDeclarer",
    "ComponentError",
    "ComponentStats",
    "Context",
    "Declarer",
    "Failure",
    "FakeClock",
    "GroupingKind",
    "KafkaBolt",
    "KafkaSpout",
    "LocalRunner",
    "NotRunningError",
    "RealClock",
    "RunConfig",
    "RunResult",
    "Spout",
    "StreamDef",
    "StreamError",
    "TaskError",
    "Topology",
    "TopologyError",
    "Tuple",
    "count_window",
    "hopping",
    "session",
    "tumbling",
]
