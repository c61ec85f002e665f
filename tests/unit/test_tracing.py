from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riverhead.tracing import (
    TRACEPARENT,
    TraceContext,
    continue_from,
    from_headers,
    with_traceparent,
)

pytestmark = pytest.mark.unit

hexs = st.text(alphabet="0123456789abcdef", min_size=1, max_size=1)


@given(
    st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    st.text(alphabet="0123456789abcdef", min_size=16, max_size=16),
    st.integers(0, 255),
)
def test_format_then_parse_round_trips(trace_id: str, span_id: str, flags: int) -> None:
    if set(trace_id) == {"0"} or set(span_id) == {"0"}:
        assert TraceContext.parse(f"00-{trace_id}-{span_id}-{flags:02x}") is None
        return
    ctx = TraceContext(trace_id, span_id, flags)
    assert TraceContext.parse(ctx.format()) == ctx
    assert TraceContext.parse(ctx.format().encode()) == ctx


@given(st.text(max_size=80))
def test_parse_never_raises(text: str) -> None:
    result = TraceContext.parse(text)
    assert result is None or TraceContext.parse(result.format()) == result


def test_spec_example_and_invalid_forms() -> None:
    ctx = TraceContext.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert ctx == TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)
    assert ctx.sampled
    for bad in (
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero span id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # 00 has 4 fields
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "",
    ):
        assert TraceContext.parse(bad) is None, bad
    # A future version may append fields: the first four are read as version 00's.
    future = TraceContext.parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what")
    assert future is not None and future.span_id == "00f067aa0ba902b7"


def test_child_keeps_the_trace_and_makes_a_new_span() -> None:
    root = TraceContext.new()
    child = root.child()
    assert child.trace_id == root.trace_id
    assert child.span_id != root.span_id
    assert child.flags == root.flags
    assert TraceContext.new().trace_id != root.trace_id


def test_headers_helpers() -> None:
    root = TraceContext.new()
    headers = with_traceparent([("a", b"1"), (TRACEPARENT, b"junk")], root)
    assert headers == [("a", b"1"), (TRACEPARENT, root.format().encode())]
    assert from_headers(headers) == root
    assert from_headers([(TRACEPARENT, b"junk")]) is None
    assert continue_from(headers).trace_id == root.trace_id
    assert continue_from(None).trace_id != root.trace_id
