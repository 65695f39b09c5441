"""Failures: retries to the band's limit, compensation in reverse order, timeouts, cancellation."""

from __future__ import annotations

import json

import pytest

from orchestrator_dynamic.domain.model import ExecutionTicket, TaskType, TicketStatus
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.flow.payloads import FlowOptions, WorkflowStatus
from tests.conftest import decision_bytes, decision_doc
from tests.fakes import settle
from tests.integration.flow.conftest import FAST, RigFactory

pytestmark = pytest.mark.integration


def fail_task(task_id: str) -> object:
    def behaviour(ticket: ExecutionTicket) -> bool:
        return ticket.task_id != task_id

    return behaviour


async def test_failing_worker_retries_then_compensates_in_reverse_order(
    rig_factory: RigFactory,
) -> None:
    rig = await rig_factory(fail_task("t4-canary"))
    submission = await rig.submit(decision_bytes("approve-5-task-dag"))
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.FAILED
    by_task = {t.task_id: t for t in view.tickets}
    # high band: 1 attempt + 3 retries, then final failure
    assert len(rig.log.started[by_task["t4-canary"].ticket_id]) == 4
    assert by_task["t4-canary"].status == "FAILED"
    assert by_task["t4-canary"].retry_count == 3
    assert by_task["t5-verify"].status == "PENDING"  # never dispatched
    assert t5_never_published(rig.tickets_published(), by_task["t5-verify"].ticket_id)
    for task in ("t1-build", "t2-unit", "t3-scan"):
        assert by_task[task].status == "COMPENSATED"
        assert by_task[task].compensation_ticket_id == by_task[f"{task}:compensate"].ticket_id
    comp_started = {
        t.task_id: rig.log.started[t.ticket_id][0]
        for t in rig.tickets_published()
        if t.task_type is TaskType.COMPENSATE and t.status is TicketStatus.RUNNING
    }
    # reverse topological order: t2/t3 undone before t1
    assert comp_started["t1-build:compensate"] >= max(
        rig.log.finished[by_task["t2-unit:compensate"].ticket_id],
        rig.log.finished[by_task["t3-scan:compensate"].ticket_id],
    )
    incidents = rig.bus.topic("orchestration.incidents")
    assert len(incidents) == 1
    incident = json.loads(incidents[0].value)
    assert incident["incident_type"] == "WORKER_FAILURE"
    assert incident["affected_tickets"] == [by_task["t4-canary"].ticket_id]
    assert len(rig.store.data[Collection.INCIDENTS]) == 1


def t5_never_published(tickets: list[ExecutionTicket], ticket_id: str) -> bool:
    return all(t.ticket_id != ticket_id for t in tickets)


async def test_low_band_retries_once(rig_factory: RigFactory) -> None:
    rig = await rig_factory(fail_task("l2"))
    submission = await rig.submit(decision_bytes("low-risk-lowercase-types"))
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.FAILED
    l2 = next(t for t in view.tickets if t.task_id == "l2")
    assert len(rig.log.started[l2.ticket_id]) == 2


async def test_silent_worker_times_out_by_sla(rig_factory: RigFactory) -> None:
    # Timeouts scaled down: 20 s estimate x 0.01 buffer = 200 ms per attempt.
    options = FlowOptions(
        min_timeout_ms=100,
        timeout_buffer=0.01,
        default_timeout_ms=200,
        retry_initial_ms=10,
        retry_max_ms=20,
    )
    rig = await rig_factory(lambda t: None if t.task_id == "l1" else True, options)
    submission = await rig.submit(decision_bytes("low-risk-lowercase-types"))
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.FAILED
    l1 = next(t for t in view.tickets if t.task_id == "l1")
    assert l1.error_message is not None and "timed out" in l1.error_message
    incident = json.loads(rig.bus.topic("orchestration.incidents")[0].value)
    assert incident["incident_type"] == "TICKET_TIMEOUT"
    events = [json.loads(r.value) for r in rig.bus.topic("telemetry.orchestration")]
    assert any(e["event_type"] == "SLA_VIOLATION" for e in events)


async def test_cancel_stops_outstanding_tickets(rig_factory: RigFactory) -> None:
    rig = await rig_factory(lambda t: None)  # nobody ever answers
    submission = await rig.submit(decision_bytes("critical-security-3-task"))
    await settle(lambda: len(rig.log.started) == 2)  # the two roots are running
    await rig.gateway.cancel(submission.workflow_id)
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.CANCELLED
    cancelled = [
        t for t in rig.tickets_published() if t.status is TicketStatus.FAILED and t.error_message
    ]
    assert {t.ticket_id for t in cancelled} == set(rig.log.started)
    assert all("cancelled" in (t.error_message or "") for t in cancelled)


async def test_in_flight_limit_is_respected(rig_factory: RigFactory) -> None:
    options = FlowOptions(max_in_flight=3, retry_initial_ms=20)
    rig = await rig_factory(lambda t: True, options)
    running: set[str] = set()
    peak = 0
    original = rig._answer

    async def tracked(ticket: ExecutionTicket, ok: bool) -> None:
        nonlocal peak
        running.add(ticket.ticket_id)
        peak = max(peak, len(running))
        await original(ticket, ok)
        running.discard(ticket.ticket_id)

    rig._answer = tracked  # type: ignore[method-assign]
    doc = decision_doc("large-100-task-dag")
    submission = await rig.submit(doc)
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED
    assert 1 <= peak <= 3


def test_fast_options_are_fast() -> None:
    assert FAST.retry_initial_ms < 100
