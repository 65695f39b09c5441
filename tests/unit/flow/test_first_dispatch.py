"""C1's step dispatches the plan's roots (C3+C4 of the tickets ready at once) right after C2,
exactly as the workflow's first dispatch would, and as stickily: a retried step publishes the
same bytes. A plan it does not dispatch still sends the workflow's telemetry it was handed."""

from __future__ import annotations

import json

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.decode import parse_decision
from orchestrator_dynamic.domain.model import TelemetryEvent, TelemetryEventType, TicketStatus
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.domain.scoring import WorkerProfile
from orchestrator_dynamic.flow.dispatch_record import dispatches, first_dispatch, plan_state
from orchestrator_dynamic.flow.payloads import (
    AllocateInput,
    FlowOptions,
    ValidateInput,
    ValidateOutput,
)
from orchestrator_dynamic.flow.steps import FlowDeps, FlowSteps
from orchestrator_dynamic.services.scheduling import IntelligentScheduler
from tests.conftest import decision_doc
from tests.fakes import MemoryStoreFake, RecordingPublisher
from tests.unit.policy.helpers import clock_of

CAPS = frozenset({"code_generation", "deployment", "testing", "validation"})
TICKETS, TELEMETRY = "execution.tickets", "telemetry.orchestration"


async def process(
    store: MemoryStoreFake,
    bus: RecordingPublisher,
    clock: int,
    workers: tuple[str, ...] = ("w-a", "w-b", "w-c"),
) -> FlowSteps:
    """A worker process: its own registry and cache, the durable store it shares."""
    registry = BuiltinRegistry()
    for worker_id in workers:
        await registry.register(WorkerProfile(worker_id, CAPS, max_concurrent_tasks=10))
    scheduler = IntelligentScheduler(registry, MemoryCache())
    return FlowSteps(FlowDeps(bus, store, scheduler, lambda: clock))


def started(workflow_id: str) -> TelemetryEvent:
    return TelemetryEvent(
        event_type=TelemetryEventType.FLOW_C_STARTED, timestamp=1, workflow_id=workflow_id
    )


def c1_input(name: str, now: int) -> ValidateInput:
    decision = parse_decision(decision_doc(name))
    first = AllocateInput([], now, workflow_id="wf-1", telemetry=[started("wf-1")])
    return ValidateInput(decision, "wf-1", FlowOptions(), now, first_dispatch=first)


async def c1(steps: FlowSteps, inp: ValidateInput) -> tuple[ValidateOutput, list[bytes]]:
    bus = steps._deps.publisher
    assert isinstance(bus, RecordingPublisher)
    before = len(bus.records)
    out = await steps.validate(inp)
    return out, [r.value for r in bus.records[before:] if r.topic == TICKETS]


async def test_the_roots_go_out_in_c1s_step_as_the_workflow_records_them() -> None:
    now = clock_of(decision_doc("approve-5-task-dag"))
    bus = RecordingPublisher()
    steps = await process(MemoryStoreFake(), bus, now)
    inp = c1_input("approve-5-task-dag", now)
    out, published = await c1(steps, inp)

    assert out.valid and out.tickets is not None and out.first_dispatch is not None
    roots = [t.ticket_id for t in out.tickets if not t.dependencies]
    assert [a.ticket_id for a in out.first_dispatch.allocations] == roots
    assert [json.loads(v)["ticket_id"] for v in published] == roots
    assert all(json.loads(v)["status"] == "PENDING" for v in published)
    # What the workflow records from the answer is what went out: same ticket, same moment.
    asked = first_dispatch(AllocateInput([], now, workflow_id="wf-1"), out.tickets, inp.options)
    assert (
        [t.ticket_id for t in asked.tickets]
        == roots
        == [t.ticket_id for t in plan_state(out.tickets, inp.options).ready(now)]
    )
    records = dispatches(asked, out.first_dispatch).tickets
    assert all(
        r.ticket.status is TicketStatus.RUNNING and r.ticket.started_at == now for r in records
    )
    assert [json.loads(v)["metadata"] for v in published] == [r.ticket.metadata for r in records]
    # ...and the workflow's telemetry handed to the step went out with the dispatch
    sent = [json.loads(r.value)["event_type"] for r in bus.records if r.topic == TELEMETRY]
    assert "FLOW_C_STARTED" in sent


async def test_a_retried_c1_step_publishes_the_same_roots_byte_for_byte() -> None:
    """The step stopped between the store and the bus; the retry (another process that sees
    another fleet, a later clock of its own, the same input) publishes what the first one
    stored, not what it would allocate afresh."""
    doc = decision_doc("approve-5-task-dag")
    now = clock_of(doc)
    store, bus = MemoryStoreFake(), RecordingPublisher()
    _, first = await c1(await process(store, bus, now), c1_input("approve-5-task-dag", now))
    for value in first:
        ticket_id = json.loads(value)["ticket_id"]
        store.data[Collection.TICKETS][ticket_id].update(status="PENDING", started_at=None)
    later = now + 20_000
    retry = await process(store, bus, later, workers=("w-z",))
    _, again = await c1(retry, c1_input("approve-5-task-dag", now))
    assert first and again == first
    _, afresh = await c1(
        await process(MemoryStoreFake(), bus, later, workers=("w-z",)),
        c1_input("approve-5-task-dag", now),
    )
    assert afresh != first  # what the record prevents


async def test_a_refused_plan_dispatches_nothing_and_still_sends_the_workflows_telemetry() -> None:
    now = clock_of(decision_doc("invalid-cycle"))
    bus = RecordingPublisher()
    out, published = await c1(
        await process(MemoryStoreFake(), bus, now), c1_input("invalid-cycle", now)
    )
    assert not out.valid and out.first_dispatch is None and published == []
    sent = [json.loads(r.value)["event_type"] for r in bus.records if r.topic == TELEMETRY]
    assert sent == ["FLOW_C_STARTED"]


async def test_a_plan_waiting_for_approval_dispatches_nothing_yet() -> None:
    now = clock_of(decision_doc("review-required"))
    bus = RecordingPublisher()
    out, published = await c1(
        await process(MemoryStoreFake(), bus, now), c1_input("review-required", now)
    )
    assert out.valid and out.needs_approval
    assert out.tickets is None and out.first_dispatch is None and published == []
    sent = [json.loads(r.value)["event_type"] for r in bus.records if r.topic == TELEMETRY]
    assert sent == ["FLOW_C_STARTED"]
