"""OpenTelemetry: one tracer provider per process, spans for intake and bus publishing, and the
W3C trace context that links a decision's trace to every ticket it produces.

Temporal carries the context between the client, the workflow and the activities itself (its
``TracingInterceptor`` is installed on every client, see ``flow/worker.py``), so a span opened at
intake is the ancestor of the spans of every activity of that decision, and the ``traceparent``
header of each published ticket names the same trace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

TRACER_NAME = "orchestrator_dynamic"
_TRACE_ID = re.compile("[0-9a-f]{32}")
_SPAN_ID = re.compile("[0-9a-f]{16}")

# Span attribute names shared with the rest of the platform.
INTENT_ID = "neural.hive.intent.id"
PLAN_ID = "neural.hive.plan.id"
DECISION_ID = "neural.hive.decision.id"
WORKFLOW_ID = "neural.hive.workflow.id"
TICKET_ID = "neural.hive.ticket.id"
WORKER_ID = "neural.hive.worker.id"


def configure_tracing(
    service_name: str, otlp_endpoint: str = "", extra: SpanProcessor | None = None
) -> TracerProvider:
    """Install the process's tracer provider. Without an endpoint spans stay local: they are
    still created, so trace context still flows into Temporal and the ticket headers.

    OpenTelemetry takes one provider per process and warns on a second one, so a process that
    configures again (several commands run in one process, as tests do) adds its exporters to
    the provider already installed."""
    installed = trace.get_tracer_provider()
    fresh = not isinstance(installed, TracerProvider)
    if isinstance(installed, TracerProvider):
        provider = installed
    else:
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    if extra is not None:
        provider.add_span_processor(extra)
    if fresh:
        trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def decision_attributes(doc: Mapping[str, Any]) -> dict[str, str]:
    """The neural.hive.* attributes a decision (or a ticket) carries."""
    names = {
        "intent_id": INTENT_ID,
        "plan_id": PLAN_ID,
        "decision_id": DECISION_ID,
        "workflow_id": WORKFLOW_ID,
        "ticket_id": TICKET_ID,
        "worker_id": WORKER_ID,
    }
    return {attr: str(doc[key]) for key, attr in names.items() if doc.get(key)}


def parent_context(
    headers: Mapping[str, str], trace_id: object = None, span_id: object = None
) -> otel_context.Context | None:
    """The upstream context: a ``traceparent`` header wins, else the decision's own ids."""
    if "traceparent" in headers:
        return propagate.extract(dict(headers))
    remote = _span_context(trace_id, span_id)
    if remote is None:
        return None
    return trace.set_span_in_context(NonRecordingSpan(remote))


def _span_context(trace_id: object, span_id: object) -> SpanContext | None:
    # The ids come from an upstream message that may be malformed: anything but W3C hex ids
    # (32 and 16 lower-case hex digits, not all zero) simply starts a new trace.
    if not isinstance(trace_id, str) or not isinstance(span_id, str):
        return None
    if not (_TRACE_ID.fullmatch(trace_id) and _SPAN_ID.fullmatch(span_id)):
        return None
    trace_int, span_int = int(trace_id, 16), int(span_id, 16)
    if not trace_int or not span_int:
        return None
    return SpanContext(trace_int, span_int, is_remote=True, trace_flags=TraceFlags(1))


@contextmanager
def consume_span(
    topic: str,
    partition: int,
    offset: int,
    parent: otel_context.Context | None,
    attributes: Mapping[str, str],
) -> Iterator[trace.Span]:
    """The span of handling one consumed record, child of the producer's context."""
    with tracer().start_as_current_span(
        f"{topic} process",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation": "process",
            "messaging.destination.name": topic,
            "messaging.kafka.destination.partition": partition,
            "messaging.kafka.message.offset": offset,
            **attributes,
        },
    ) as span:
        yield span


@contextmanager
def publish_span(topic: str, key: str | None, attributes: Mapping[str, str]) -> Iterator[None]:
    """The span of producing one record; W3C headers injected inside it name this span."""
    with tracer().start_as_current_span(
        f"{topic} publish",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation": "publish",
            "messaging.destination.name": topic,
            **({"messaging.kafka.message.key": key} if key else {}),
            **attributes,
        },
    ):
        yield


@contextmanager
def registry_span(
    operation: str, capabilities: Sequence[str], namespace: str | None, max_results: int
) -> Iterator[trace.Span]:
    """The span of one call to the worker registry (a failure is recorded on it)."""
    with tracer().start_as_current_span(
        f"registry.{operation}",
        kind=SpanKind.CLIENT,
        attributes={
            "registry.capabilities": list(capabilities),
            "registry.namespace": namespace or "",
            "registry.max_results": max_results,
        },
    ) as span:
        yield span


def current_headers() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) of the current span, if one is recording."""
    carrier: dict[str, str] = {}
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(carrier)
    return carrier
