"""Ticket lifecycle as the platform's workers see it: PREEMPTED and CANCELLED results, results
from a worker the ticket is not allocated to, CANCELLED tickets on cancel and after a failure,
the state machine's own record of timeouts, compensation actions, incident placement."""

from __future__ import annotations

import json

import pytest

from orchestrator_dynamic.adapters.serialization.avro import decode_avro, encode_avro
from orchestrator_dynamic.domain.consolidation import (
    consolidate,
    incident_document,
    incident_for,
    sla_violated,
)
from orchestrator_dynamic.domain.execution import (
    MAX_FREE_PREEMPTIONS,
    ExecutionState,
    TransitionKind,
    compensation_action,
    compensation_tickets,
)
from orchestrator_dynamic.domain.model import (
    ExecutionResult,
    ExecutionResultPayload,
    ExecutionTicket,
    ResultStatus,
    TaskType,
    TicketStatus,
)
from orchestrator_dynamic.services.planning import plan_document
from tests.conftest import decision_bytes

T0 = 1_795_000_100_000


def state_with_worker() -> tuple[ExecutionState, dict[str, str]]:
    planned = plan_document(decision_bytes("approve-5-task-dag"), T0)
    state = ExecutionState.of(planned.tickets)
    ids = {t.task_id: t.ticket_id for t in planned.tickets}
    state.dispatch(ids["t1-build"], T0, {"worker_id": "w1"})
    return state, ids


def upstream_result(ticket_id: str, status: str, agent_id: str = "w1", **extra: object) -> dict:
    """A result as the upstream worker's result producer writes it (JSON form)."""
    doc = {
        "ticket_id": ticket_id,
        "status": status,
        "result": {
            "success": status == "COMPLETED",
            "output": {"image": "registry.local/app:1"},
            "metadata": {"executor": "BuildExecutor"},
            "logs": ["step 1", "step 2"],
        },
        "error_message": None if status == "COMPLETED" else f"Task {status.lower()}",
        "actual_duration_ms": 1200 if status == "COMPLETED" else None,
        "agent_id": agent_id,
        "timestamp": T0 + 500,  # Unix epoch milliseconds, an int
        "schema_version": 2,
        "plan_id": None,
        "workflow_id": None,
        "correlation_id": None,
    }
    doc.update(extra)
    return doc


def parsed(doc: dict) -> ExecutionResult:
    return ExecutionResult.model_validate(doc)


def test_worker_shaped_results_parse_including_preempted_and_cancelled() -> None:
    for status in ("COMPLETED", "FAILED", "RUNNING", "PREEMPTED", "CANCELLED"):
        # cancel_active_task puts reason/preempted_by/checkpoint_key beside success
        doc = upstream_result("t", status)
        doc["result"].update(reason="preemption", preempted_by=None, checkpoint_key=None)
        assert parsed(doc).status.value == status


def test_preempted_attempt_is_requeued_without_using_the_retry_budget() -> None:
    state, ids = state_with_worker()
    tid = ids["t1-build"]
    transition = state.apply(parsed(upstream_result(tid, "PREEMPTED")), T0 + 10)
    assert transition is not None and transition.kind is TransitionKind.PREEMPTED
    ticket = state.tickets[tid]
    assert ticket.status is TicketStatus.PENDING and ticket.retry_count == 0
    assert not state.halted
    assert [t.ticket_id for t in state.ready(T0 + 10)] == [tid]  # straight back, no back-off


def test_cancelled_result_counts_as_a_failed_attempt() -> None:
    state, ids = state_with_worker()
    tid = ids["t1-build"]
    transition = state.apply(parsed(upstream_result(tid, "CANCELLED")), T0 + 10)
    assert transition is not None and transition.kind is TransitionKind.RETRY_SCHEDULED
    assert state.tickets[tid].retry_count == 1
    assert state.tickets[tid].error_message == "Task cancelled"


def test_output_and_logs_of_the_applied_result_are_kept() -> None:
    state, ids = state_with_worker()
    tid = ids["t1-build"]
    state.apply(parsed(upstream_result(tid, "COMPLETED")), T0 + 10)
    assert state.tickets[tid].status is TicketStatus.COMPLETED
    assert state.reports[tid].output == {"image": "registry.local/app:1"}
    assert state.reports[tid].logs == ["step 1", "step 2"]


def test_result_from_another_agent_is_recorded_not_applied() -> None:
    state, ids = state_with_worker()
    tid = ids["t1-build"]
    transition = state.apply(parsed(upstream_result(tid, "COMPLETED", agent_id="w7")), T0 + 10)
    assert transition is not None and transition.kind is TransitionKind.FOREIGN_RESULT
    assert "w7" in transition.detail and "w1" in transition.detail
    assert state.tickets[tid].status is TicketStatus.RUNNING  # still waiting for w1
    assert tid not in state.reports
    assert state.foreign_results == [
        {"ticket_id": tid, "agent_id": "w7", "allocated_worker_id": "w1", "status": "COMPLETED"}
    ]
    # the allocated worker's answer still counts
    done = state.apply(parsed(upstream_result(tid, "COMPLETED")), T0 + 20)
    assert done is not None and done.kind is TransitionKind.COMPLETED


def test_final_failure_leaves_unrun_tickets_cancelled_not_pending() -> None:
    planned = plan_document(decision_bytes("approve-5-task-dag"), T0)
    state = ExecutionState.of(planned.tickets)
    ids = {t.task_id: t.ticket_id for t in planned.tickets}
    first = ids["t1-build"]
    for attempt in range(state.tickets[first].sla.max_retries + 1):
        now = T0 + attempt * 100_000
        state.ready(now)
        state.dispatch(first, now)
        state.apply(parsed(upstream_result(first, "FAILED", agent_id="x")), now + 1)
    assert state.halted and state.finished()
    cancelled = state.cancel_unrun("not run: t1-build failed")
    assert sorted(cancelled) == sorted(v for k, v in ids.items() if k != "t1-build")
    assert state.count(TicketStatus.PENDING) == 0
    summary = consolidate(list(state.tickets.values()), [], T0, T0 + 1, expect_success=False)
    assert (summary.failed, summary.cancelled) == (1, 4)


def test_cancelled_tickets_never_count_as_sla_violations() -> None:
    state, _ids = state_with_worker()
    state.cancel(T0 + 10_000_000, "cancelled by operator")  # long past every deadline
    assert not any(sla_violated(t) for t in state.tickets.values())


def test_timeout_incident_comes_from_the_state_machine_not_the_error_text() -> None:
    planned = plan_document(decision_bytes("low-risk-lowercase-types"), T0)
    ticket = planned.tickets[0].model_copy(
        update={"status": TicketStatus.FAILED, "error_message": "upstream: connection timed out"}
    )
    summary = consolidate([ticket], [], T0, T0 + 1, expect_success=False)
    assert summary.sla_violations == 0  # the worker's words are not a timeout
    worker = incident_for("wf", [ticket], summary, set(), None, None, T0)
    assert worker.incident_type.value == "WORKER_FAILURE"
    timed = consolidate([ticket], [], T0, T0 + 1, False, timed_out={ticket.ticket_id})
    assert timed.sla_violations == 1
    incident = incident_for("wf", [ticket], timed, {ticket.ticket_id}, None, None, T0)
    assert incident.incident_type.value == "TICKET_TIMEOUT"


def test_expire_records_timeouts_in_the_state() -> None:
    state, ids = state_with_worker()
    tid = ids["t1-build"]
    timeout = state.tickets[tid].sla.timeout_ms
    [transition] = state.expire(T0 + timeout)
    assert state.timed_out() == {tid}
    assert transition.kind is TransitionKind.RETRY_SCHEDULED


@pytest.mark.parametrize(
    ("task_type", "action"),
    [
        (TaskType.BUILD, "delete_artifacts"),
        (TaskType.DEPLOY, "rollback_deployment"),
        (TaskType.TEST, "cleanup_test_env"),
        (TaskType.VALIDATE, "revert_approval"),
        (TaskType.EXECUTE, "rollback_execution"),
        (TaskType.QUERY, "generic_cleanup"),
        (TaskType.TRANSFORM, "generic_cleanup"),
    ],
)
def test_compensation_action_by_task_type(task_type: TaskType, action: str) -> None:
    assert compensation_action(task_type) == action


def test_compensation_tickets_carry_what_the_compensate_executor_reads() -> None:
    planned = plan_document(decision_bytes("approve-5-task-dag"), T0)
    state = ExecutionState.of(planned.tickets)
    for tid in list(state.tickets):
        state.tickets[tid] = state.tickets[tid].model_copy(
            update={"status": TicketStatus.COMPLETED}
        )
    for comp in compensation_tickets(state, T0):
        original = state.tickets[comp.parameters["original_ticket_id"]]
        assert comp.task_type is TaskType.COMPENSATE
        assert comp.parameters["action"] == compensation_action(original.task_type)
        assert comp.parameters["original_task_type"] == original.task_type.value
        assert comp.parameters["reason"] == "task_failed"
        assert comp.status is TicketStatus.PENDING


def test_cancelled_goes_on_the_wire_as_failed_with_error_cancelled() -> None:
    planned = plan_document(decision_bytes("approve-5-task-dag"), T0)
    ticket = planned.tickets[0].model_copy(
        update={"status": TicketStatus.CANCELLED, "error_message": "cancelled by ops: wrong"}
    )
    wire = ticket.on_wire()
    assert (wire.status, wire.error_message) == (TicketStatus.FAILED, "cancelled")
    decoded = decode_avro("ExecutionTicket", encode_avro("ExecutionTicket", ticket.model_dump()))
    assert (decoded["status"], decoded["error_message"]) == ("FAILED", "cancelled")
    assert planned.tickets[0].on_wire() is planned.tickets[0]


def test_incident_document_names_worker_and_namespace_of_the_affected_ticket() -> None:
    planned = plan_document(decision_bytes("approve-5-task-dag"), T0)
    explanation = {"candidates": [{"worker_id": "w1", "namespace": "payments"}]}
    ticket: ExecutionTicket = planned.tickets[0].model_copy(
        update={
            "status": TicketStatus.FAILED,
            "metadata": {"worker_id": "w1", "allocation_explanation": json.dumps(explanation)},
        }
    )
    summary = consolidate([ticket], [], T0, T0 + 1, expect_success=False)
    incident = incident_for("wf", [ticket], summary, set(), None, None, T0)
    doc = incident_document(incident, [ticket])
    assert (doc["worker_id"], doc["namespace"]) == ("w1", "payments")
    with_ns = ticket.model_copy(update={"parameters": {"namespace": "prod"}})
    assert incident_document(incident, [with_ns])["namespace"] == "prod"
    unknown = ticket.model_copy(update={"metadata": {}})
    assert incident_document(incident, [unknown])["worker_id"] is None


def test_result_payload_defaults_when_the_worker_sends_success_only() -> None:
    doc = upstream_result("t", "FAILED")
    doc["result"] = {"success": False}
    payload = parsed(doc).result
    assert payload == ExecutionResultPayload(success=False)
    assert ResultStatus("PREEMPTED") is ResultStatus.PREEMPTED


def test_endless_preemption_ends_up_using_the_retry_budget() -> None:
    state, ids = state_with_worker()
    tid = ids["t1-build"]
    free = 0
    while True:
        transition = state.apply(parsed(upstream_result(tid, "PREEMPTED")), T0 + free)
        assert transition is not None
        if transition.kind is not TransitionKind.PREEMPTED:
            break
        free += 1
        state.ready(T0 + free)
        state.dispatch(tid, T0 + free, {"worker_id": "w1"})
    assert free == MAX_FREE_PREEMPTIONS
    assert transition.kind is TransitionKind.RETRY_SCHEDULED
    assert state.tickets[tid].retry_count == 1
