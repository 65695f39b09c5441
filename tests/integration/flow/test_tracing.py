"""One trace from decision intake to the trace context in the published tickets' headers.

Real parts: the local durable bus carries the decision, the intake consumes it, a real Temporal
dev server runs the workflow with the tracing interceptor on the client and worker, and spans go
to an in-memory exporter (the only stand-in: it replaces the OTLP collector).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from orchestrator_dynamic.adapters.bus.local import LocalBus
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.flow.worker import connect
from orchestrator_dynamic.observability import tracing
from orchestrator_dynamic.services.dead_letters import DeadLetters
from orchestrator_dynamic.services.intake import DecisionIntake
from orchestrator_dynamic.services.operations import Operations
from tests.conftest import decision_doc
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig, now_ms

pytestmark = pytest.mark.integration


async def _decode(raw: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(raw)
    return doc


async def test_one_trace_from_intake_to_ticket_headers(
    temporal_env: Any, tmp_path: Path, span_exporter: InMemorySpanExporter
) -> None:
    target = temporal_env.client.service_client.config.target_host
    client = await connect(target, temporal_env.client.namespace)
    rig = FlowRig(client, FAST, lambda t: True)
    bus = LocalBus(tmp_path / "bus.db")
    await bus.start()
    doc = decision_doc("approve-5-task-dag")
    doc["decision_id"] = f"traced-{uuid.uuid4().hex[:8]}"
    trace_id = doc["trace_id"]
    span_exporter.clear()  # the session shares one exporter; other tests reuse this trace id
    try:
        async with rig.worker:
            await bus.publish("plans.consensus", json.dumps(doc).encode(), key=doc["decision_id"])
            intake = DecisionIntake(
                await bus.subscribe(["plans.consensus"], "trace-test"),
                DeadLetters(bus, "plans.consensus.dlq"),
                _decode,
                Operations(rig.gateway, rig.store, now_ms),
            )
            assert await intake.run_once() == 1
            view = await rig.finished_view(doc["decision_id"])
            assert view.status.value == "COMPLETED"
    finally:
        await bus.stop()
    await asyncio.sleep(0)  # let the last span end

    published = rig.bus.topic("execution.tickets")
    assert published
    for record in published:
        ticket = ExecutionTicket.model_validate_json(record.value)
        parent = record.headers["traceparent"]
        assert parent.split("-")[1] == trace_id, (ticket.ticket_id, parent)

    finished = [
        s for s in span_exporter.get_finished_spans() if f"{s.context.trace_id:032x}" == trace_id
    ]
    names = {s.name for s in finished}
    assert "plans.consensus process" in names
    assert "execution.tickets publish" in names
    # C4 publishes inside C3's step (one local activity for both).
    assert any(n.startswith("RunActivity:c3_allocate") for n in names), names
    intake_span = next(
        s
        for s in finished
        if s.name == "plans.consensus process"
        and dict(s.attributes or {}).get(tracing.DECISION_ID) == doc["decision_id"]
    )
    attrs = dict(intake_span.attributes or {})
    assert attrs[tracing.DECISION_ID] == doc["decision_id"]
    assert attrs[tracing.PLAN_ID] == doc["plan_id"]
    assert attrs[tracing.INTENT_ID] == doc["intent_id"]
    assert attrs["messaging.destination.name"] == "plans.consensus"
    publishes = [s for s in finished if s.name == "execution.tickets publish"]
    assert {dict(s.attributes or {})[tracing.WORKER_ID] for s in publishes} <= set(
        rig.scheduler.workers
    )
    assert all(dict(s.attributes or {}).get(tracing.TICKET_ID) for s in publishes)
    # Each ticket's header names the publish span that sent it: consumers join that exact span.
    span_ids = {f"{s.context.span_id:016x}" for s in publishes}
    assert {r.headers["traceparent"].split("-")[2] for r in published} <= span_ids
