from __future__ import annotations

import io
import json
import logging

import pytest

from riverhead.logging_setup import REDACTED, configure, event, redact_text

pytestmark = pytest.mark.unit


@pytest.fixture
def restore_root() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_json_lines_carry_event_fields(restore_root: object) -> None:
    out = io.StringIO()
    configure("INFO", "json", out)
    log = logging.getLogger("riverhead.test")
    log.info(
        "created topic %s", "orders", extra=event("topic_created", topic="orders", partitions=3)
    )
    log.debug("not shown")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert first["msg"] == "created topic orders"
    assert first["event"] == "topic_created"
    assert (first["topic"], first["partitions"]) == ("orders", 3)
    assert first["level"] == "INFO" and first["logger"] == "riverhead.test"
    assert first["ts"].endswith("Z")
    assert "RuntimeError: boom" in lines[1]["exc"]


def test_secrets_never_reach_the_output(restore_root: object) -> None:
    out = io.StringIO()
    configure("INFO", "json", out)
    log = logging.getLogger("riverhead.test")
    log.info(
        "login with sasl.password=hunter2 user=alice", extra=event("x", token="abc", user="al")
    )
    line = json.loads(out.getvalue())
    assert "hunter2" not in out.getvalue() and "abc" not in out.getvalue()
    assert line["msg"] == f"login with sasl.password={REDACTED} user=alice"
    assert line["token"] == REDACTED and line["user"] == "al"

    text = io.StringIO()
    configure("INFO", "text", text)
    log.info("ssl.key.password: 's3cret' here")
    assert "s3cret" not in text.getvalue() and REDACTED in text.getvalue()


def test_redact_text_forms() -> None:
    assert redact_text('sasl.jaas.config="x y z"') == f"sasl.jaas.config={REDACTED}"
    assert redact_text("nothing secret=") == "nothing secret="
    assert redact_text("a=1, api_token=t0k, b=2") == f"a=1, api_token={REDACTED}, b=2"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="not text or json"):
        configure("INFO", "xml")
