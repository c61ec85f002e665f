"""The ``riverhead`` command-line interface (a Kafka client shaped like Redpanda's rpk).

Modules, one concept each:

* :mod:`~riverhead.cli.main` — the command tree, global options, exit codes;
* :mod:`~riverhead.cli.topic`, :mod:`~riverhead.cli.produce`, :mod:`~riverhead.cli.consume`,
  :mod:`~riverhead.cli.broker` — the commands, one module per noun (or verb, when big);
* :mod:`~riverhead.cli.rows`, :mod:`~riverhead.cli.records`, :mod:`~riverhead.cli.offsets` —
  pure computations (rows, record formats, offset specs), unit-tested without a broker;
* :mod:`~riverhead.cli.output` — the only module that prints: tables, JSON, errors;
* :mod:`~riverhead.cli.errors` — :class:`CliError` and Kafka error names and hints;
* :mod:`~riverhead.cli.client` — confluent-kafka clients and metadata.
"""

from riverhead.cli.errors import CliError
from riverhead.cli.main import app, main, run

__all__ = ["CliError", "app", "main", "run"]
