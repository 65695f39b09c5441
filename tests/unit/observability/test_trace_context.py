"""Upstream trace context: a traceparent header wins, valid decision ids continue the trace,
anything malformed starts a new trace instead of failing the intake."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace

from orchestrator_dynamic.observability.tracing import parent_context

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def _ids(context: Any) -> tuple[str, str]:
    span = trace.get_current_span(context).get_span_context()
    return f"{span.trace_id:032x}", f"{span.span_id:016x}"


def test_the_decision_ids_continue_its_trace() -> None:
    assert _ids(parent_context({}, TRACE, SPAN)) == (TRACE, SPAN)


def test_a_traceparent_header_wins_over_the_decision_ids() -> None:
    other = "0af7651916cd43dd8448eb211c80319c"
    header = {"traceparent": f"00-{other}-b7ad6b7169203331-01"}
    assert _ids(parent_context(header, TRACE, SPAN)) == (other, "b7ad6b7169203331")


@pytest.mark.parametrize(
    ("trace_id", "span_id"),
    [
        (None, None),
        (12345, SPAN),
        (TRACE, ["x"]),
        ("0x" + TRACE[2:], SPAN),
        (TRACE.upper(), SPAN),
        ("4bf9_f3577b34da6a3ce929d0e0e4736", SPAN),
        (TRACE, "0" * 16),
        (TRACE[:-1], SPAN),
    ],
)
def test_malformed_ids_start_a_new_trace(trace_id: object, span_id: object) -> None:
    assert parent_context({}, trace_id, span_id) is None
