"""Protocols: how a job's keys and values become lines of text and back.

A protocol is a class with ``read(line) -> (key, value)`` and ``write(key, value) -> str``
(the line has no trailing newline). A job picks three (mrjob's names):

* ``INPUT_PROTOCOL`` decodes lines of *text* input for the first mapper
  (default :class:`RawValueProtocol`: key ``None``, value the line);
* ``OUTPUT_PROTOCOL`` encodes the last step's output (default :class:`TextProtocol`:
  ``key<TAB>value`` with ``str()`` of each, so word count writes ``word\\t3``);
* ``INTERNAL_PROTOCOL`` is how pairs travel between steps and through the shuffle.
  The default (``None``) is binary pickle, which keeps Python types (a tuple key stays a
  tuple) and is the fast path. Any text protocol here round-trips every map output pair
  through ``write`` then ``read`` first, as a stricter (slower) check that the job's data
  survives that encoding, as it would with mrjob's JSON internal protocol.

JSON lines and CSV inputs are input *formats* (see :mod:`riverhead.batch.inputs`), not
protocols: they hand the mapper ``(None, dict)``.
"""

from __future__ import annotations

import base64
import json
import pickle
from typing import Any, ClassVar


class Protocol:
    """Base class: subclasses implement ``read`` and ``write``; instances are stateless."""

    #: ``True`` when ``read`` always returns key ``None`` and value = the line (fast path).
    raw_value: ClassVar[bool] = False

    def read(self, line: str) -> tuple[Any, Any]:
        """Decode one line (without its newline) into ``(key, value)``."""
        raise NotImplementedError

    def write(self, key: Any, value: Any) -> str:
        """Encode ``(key, value)`` as one line (without a newline)."""
        raise NotImplementedError


class RawValueProtocol(Protocol):
    """Key ``None``, value the raw line; writes ``str(value)`` (the key is dropped)."""

    raw_value = True

    def read(self, line: str) -> tuple[Any, Any]:
        return None, line

    def write(self, key: Any, value: Any) -> str:
        return str(value)


class TextProtocol(Protocol):
    """Tab-separated text: ``str(key)<TAB>str(value)``; a ``None`` key or value is omitted.

    Reading splits at the first tab: ``"a\\tb\\tc"`` -> ``("a", "b\\tc")``; a line without a
    tab reads as ``(line, None)``. Everything reads back as ``str``.
    """

    def read(self, line: str) -> tuple[Any, Any]:
        key, tab, value = line.partition("\t")
        return key, (value if tab else None)

    def write(self, key: Any, value: Any) -> str:
        if key is None:
            return str(value)
        if value is None:
            return str(key)
        return f"{key}\t{value}"


#: mrjob's name for the same thing.
RawProtocol = TextProtocol


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class JSONProtocol(Protocol):
    """``json(key)<TAB>json(value)``; tuples come back as lists, as JSON has no tuples."""

    def read(self, line: str) -> tuple[Any, Any]:
        key, tab, value = line.partition("\t")
        if not tab:
            raise ValueError(f"JSONProtocol: no tab in line {line[:80]!r}")
        return json.loads(key), json.loads(value)

    def write(self, key: Any, value: Any) -> str:
        return _json(key) + "\t" + _json(value)


class JSONValueProtocol(Protocol):
    """One JSON document per line as the value; key ``None`` (JSON lines)."""

    def read(self, line: str) -> tuple[Any, Any]:
        return None, json.loads(line)

    def write(self, key: Any, value: Any) -> str:
        return _json(value)


class PickleProtocol(Protocol):
    """``base64(pickle(key))<TAB>base64(pickle(value))``: any picklable Python object.

    Text-safe (no tabs or newlines inside); only read data you wrote yourself, as
    unpickling runs code.
    """

    def read(self, line: str) -> tuple[Any, Any]:
        key, _, value = line.partition("\t")
        return pickle.loads(base64.b64decode(key)), pickle.loads(base64.b64decode(value))

    def write(self, key: Any, value: Any) -> str:
        enc = base64.b64encode
        return enc(pickle.dumps(key, 5)).decode() + "\t" + enc(pickle.dumps(value, 5)).decode()


class PickleValueProtocol(Protocol):
    """Like :class:`PickleProtocol` for the value only; key ``None``."""

    def read(self, line: str) -> tuple[Any, Any]:
        return None, pickle.loads(base64.b64decode(line))

    def write(self, key: Any, value: Any) -> str:
        return base64.b64encode(pickle.dumps(value, 5)).decode()
