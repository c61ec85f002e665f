"""The error registry: pinned to kio (and so to Kafka's Errors.java), plus KafkaError."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import kio.schema.errors as kio_errors
import pytest

from riverhead.protocol.errors import ErrorCode, KafkaError, error_name

pytestmark = pytest.mark.unit


def kio_docstrings() -> dict[str, str]:
    """Member docstrings of kio's ErrorCode (Kafka's messages); only the source has them."""
    tree = ast.parse(Path(kio_errors.__file__).read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ErrorCode")
    docs: dict[str, str] = {}
    for node, nxt in zip(cls.body, [*cls.body[1:], None], strict=True):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            doc = ""
            if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
                doc = str(nxt.value.value)
            docs[node.targets[0].id] = doc
    return docs


def test_registry_matches_kio() -> None:
    ours = [(e.name, int(e), e.retriable) for e in ErrorCode]
    theirs = [(e.name.upper(), int(e), e.retriable) for e in kio_errors.ErrorCode]
    assert ours == theirs


def test_descriptions_match_kafka_messages() -> None:
    docs = kio_docstrings()
    assert {e.name: e.description for e in ErrorCode} == {
        name.upper(): doc for name, doc in docs.items()
    }


def test_registry_shape() -> None:
    codes = [int(e) for e in ErrorCode]
    assert codes == sorted(codes) == list(range(-1, len(codes) - 1))  # dense, -1 .. latest
    assert int(ErrorCode.NONE) == 0 and ErrorCode.NONE.description == ""
    assert all(e.description for e in ErrorCode if e is not ErrorCode.NONE)
    assert ErrorCode(3) is ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert ErrorCode.NOT_LEADER_OR_FOLLOWER.retriable
    assert not ErrorCode.TOPIC_ALREADY_EXISTS.retriable


@pytest.mark.parametrize(
    "code",
    [
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode.TOPIC_ALREADY_EXISTS,
        ErrorCode.INVALID_PARTITIONS,
        ErrorCode.INVALID_REPLICATION_FACTOR,
        ErrorCode.INVALID_CONFIG,
        ErrorCode.MESSAGE_TOO_LARGE,  # Kafka's RecordTooLargeException
        ErrorCode.OFFSET_OUT_OF_RANGE,
        ErrorCode.UNSUPPORTED_VERSION,
        ErrorCode.CORRUPT_MESSAGE,
        ErrorCode.NOT_LEADER_OR_FOLLOWER,
    ],
)
def test_common_codes_have_hints(code: ErrorCode) -> None:
    assert code.hint
    assert code.hint != code.description


def test_hints() -> None:
    assert "riverhead topic create" in ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.hint
    assert "auto.create.topics.enable" in ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.hint
    assert "max.message.bytes" in ErrorCode.MESSAGE_TOO_LARGE.hint
    assert ErrorCode.NONE.hint == ""
    assert ErrorCode.DELEGATION_TOKEN_EXPIRED.hint == ""


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (0, "NONE"),
        (-1, "UNKNOWN_SERVER_ERROR"),
        (133, "SHARE_SESSION_LIMIT_REACHED"),
        (123_4, "UNKNOWN_ERROR_CODE_1234"),
        (-7, "UNKNOWN_ERROR_CODE_-7"),
    ],
)
def test_error_name(code: int, name: str) -> None:
    assert error_name(code) == name


def test_kafka_error() -> None:
    err = KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "topic 'orders' does not exist")
    assert str(err) == "UNKNOWN_TOPIC_OR_PARTITION: topic 'orders' does not exist"
    assert err.code is ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert err.raw_code == 3 and err.retriable
    assert err.hint == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.hint
    assert isinstance(err, Exception)


def test_kafka_error_defaults_to_description_and_accepts_ints() -> None:
    err = KafkaError(36)
    assert err.code is ErrorCode.TOPIC_ALREADY_EXISTS
    assert str(err) == "TOPIC_ALREADY_EXISTS: Topic with this name already exists."


def test_kafka_error_unknown_code() -> None:
    err = KafkaError(999)
    assert err.code is ErrorCode.UNKNOWN_SERVER_ERROR
    assert err.raw_code == 999 and not err.retriable
    assert str(err).startswith("UNKNOWN_ERROR_CODE_999: ")


def test_kafka_error_pickles() -> None:
    err = pickle.loads(pickle.dumps(KafkaError(ErrorCode.CORRUPT_MESSAGE, "bad CRC at byte 0")))
    assert (err.code, err.message, str(err)) == (
        ErrorCode.CORRUPT_MESSAGE,
        "bad CRC at byte 0",
        "CORRUPT_MESSAGE: bad CRC at byte 0",
    )
