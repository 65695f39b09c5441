"""Failures: retries to the band's limit, compensation in reverse order, timeouts, cancellation."""

from __future__ import annotations

import asyncio
import json

import pytest

from orchestrator_dynamic.domain.model import ExecutionTicket, TaskType, TicketStatus
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.flow.payloads import CancelSignal, FlowOptions, WorkflowStatus
from orchestrator_dynamic.flow.workflow import FlowCWorkflow
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
    # never dispatched, and it will not be: CANCELLED, not left PENDING
    assert by_task["t5-verify"].status == "CANCELLED"
    assert by_task["t5-verify"].error_message == "not run: t4-canary failed"
    assert view.metrics["failed"] == 1 and view.metrics["cancelled"] == 1
    assert t5_never_published(rig.tickets_published(), by_task["t5-verify"].ticket_id)
    for task in ("t1-build", "t2-unit", "t3-scan"):
        assert by_task[task].status == "COMPENSATED"
        assert by_task[task].compensation_ticket_id == by_task[f"{task}:compensate"].ticket_id
    comp_started = {
        t.task_id: rig.log.started[t.ticket_id][0]
        for t in rig.tickets_published()
        if t.task_type is TaskType.COMPENSATE and t.status is TicketStatus.PENDING
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
    assert incident["worker_id"] == by_task["t4-canary"].worker_id == "agent-deploy"
    assert view.incidents[0]["worker_id"] == "agent-deploy"
    assert len(rig.store.data[Collection.INCIDENTS]) == 1


def t5_never_published(tickets: list[ExecutionTicket], ticket_id: str) -> bool:
    return all(t.ticket_id != ticket_id for t in tickets)


async def test_worker_error_saying_timed_out_is_a_worker_failure_not_a_timeout(
    rig_factory: RigFactory,
) -> None:
    rig = await rig_factory(fail_task("l2"))
    rig.failure_text = "upstream registry call timed out"  # the worker's words, not our timer
    submission = await rig.submit(decision_bytes("low-risk-lowercase-types"))
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.FAILED
    incident = json.loads(rig.bus.topic("orchestration.incidents")[0].value)
    assert incident["incident_type"] == "WORKER_FAILURE"
    assert view.metrics["sla_violations"] == 0


def every_type_failing_last() -> dict[str, object]:
    """A plan with one task of each type but COMPENSATE, all run, then a DEPLOY that fails."""
    doc = decision_doc("approve-5-task-dag")
    plan = json.loads(str(doc["cognitive_plan"]))
    template = plan["tasks"][0]
    types = ["BUILD", "DEPLOY", "TEST", "VALIDATE", "EXECUTE", "QUERY", "TRANSFORM"]
    tasks = [
        {**template, "task_id": f"do-{kind.lower()}", "task_type": kind, "dependencies": []}
        for kind in types
    ]
    tasks.append(
        {
            **template,
            "task_id": "last",
            "task_type": "DEPLOY",
            "dependencies": [t["task_id"] for t in tasks],
        }
    )
    plan["tasks"] = tasks
    plan["execution_order"] = [t["task_id"] for t in tasks]
    doc["cognitive_plan"] = json.dumps(plan)
    return doc


async def test_compensation_tickets_carry_the_action_for_each_task_type(
    rig_factory: RigFactory,
) -> None:
    rig = await rig_factory(fail_task("last"))
    submission = await rig.submit(every_type_failing_last())
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.FAILED
    originals = {t.ticket_id: t for t in rig.tickets_published() if t.task_id.startswith("do-")}
    comps = [t for t in rig.tickets_published() if t.task_type is TaskType.COMPENSATE]
    actions = {}
    for comp in comps:
        assert comp.status is TicketStatus.PENDING  # what a worker runs
        original = originals[comp.parameters["original_ticket_id"]]
        actions[original.task_type.value] = comp.parameters["action"]
        assert comp.parameters["reason"] == "task_failed"
        assert comp.parameters["original_task_type"] == original.task_type.value
    assert actions == {
        "BUILD": "delete_artifacts",
        "DEPLOY": "rollback_deployment",
        "TEST": "cleanup_test_env",
        "VALIDATE": "revert_approval",
        "EXECUTE": "rollback_execution",
        "QUERY": "generic_cleanup",
        "TRANSFORM": "generic_cleanup",
    }
    undone = [
        t for t in view.tickets if t.task_id.startswith("do-") and t.task_type != "COMPENSATE"
    ]
    assert {t.status for t in undone} == {"COMPENSATED"}


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
    handle = rig.client.get_workflow_handle(submission.workflow_id)
    # the operator's reason goes first, then the engine's cancellation request
    await handle.signal(FlowCWorkflow.cancel_reason, CancelSignal("wrong target", "alice"))
    await rig.gateway.cancel(submission.workflow_id)
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.CANCELLED
    assert view.reason == "cancelled by alice: wrong target"
    # the two started ones and the one never started: CANCELLED, none FAILED
    assert {t.status for t in view.tickets} == {"CANCELLED"}
    assert (view.metrics["cancelled"], view.metrics["failed"]) == (3, 0)
    stops = [t for t in rig.tickets_published() if t.status is TicketStatus.FAILED]
    # started ones are told to stop; on the wire CANCELLED is FAILED with error "cancelled"
    assert {t.ticket_id for t in stops} == set(rig.log.started)
    assert all(t.error_message == "cancelled" for t in stops)
    never = next(t for t in view.tickets if t.ticket_id not in rig.log.started)
    assert never.started_at is None
    stored = rig.store.data[Collection.TICKETS][never.ticket_id]
    assert stored["status"] == "CANCELLED"
    assert stored["error_message"] == "cancelled by alice: wrong target"
    assert rig.bus.topic("orchestration.incidents") == []  # a cancel is not an incident


async def test_cancel_without_a_reason_says_who(rig_factory: RigFactory) -> None:
    rig = await rig_factory(lambda t: None)
    submission = await rig.submit(decision_bytes("critical-security-3-task"))
    await settle(lambda: len(rig.log.started) == 2)
    await rig.gateway.cancel(submission.workflow_id)
    view = await rig.finished_view(submission.workflow_id)
    assert view.reason == "cancelled by operator"
    assert {t.status for t in view.tickets} == {"CANCELLED"}


async def test_in_flight_limit_is_respected(rig_factory: RigFactory) -> None:
    options = FlowOptions(max_in_flight=3, retry_initial_ms=20)
    rig = await rig_factory(lambda t: True, options)
    running: set[str] = set()
    peak = 0
    original = rig._answer

    delay_s, rig.agent_delay_s = rig.agent_delay_s, 0.0  # the work happens here, not in _answer

    async def tracked(ticket: ExecutionTicket, ok: bool) -> None:
        nonlocal peak
        running.add(ticket.ticket_id)
        peak = max(peak, len(running))
        await asyncio.sleep(delay_s)
        # Not running once its answer goes out: the workflow may dispatch the next ticket as
        # soon as it has the result, before the signal's call returns here.
        running.discard(ticket.ticket_id)
        await original(ticket, ok)

    rig._answer = tracked  # type: ignore[method-assign]
    doc = decision_doc("large-100-task-dag")
    submission = await rig.submit(doc)
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED
    assert 1 <= peak <= 3


def test_fast_options_are_fast() -> None:
    assert FAST.retry_initial_ms < 100
