"""Every decision fixture end to end through Flow C on a real Temporal dev server."""

from __future__ import annotations

import uuid

import pytest

from orchestrator_dynamic.domain.model import TaskType, TicketStatus
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.flow.payloads import WorkflowStatus
from tests.conftest import decision_bytes, decision_doc
from tests.integration.flow.conftest import RigFactory

pytestmark = pytest.mark.integration


async def test_five_task_dag_runs_in_dependency_order(rig_factory: RigFactory) -> None:
    rig = await rig_factory()
    submission = await rig.submit(decision_bytes("approve-5-task-dag"))
    assert submission.workflow_id.startswith("dec-0001-")
    assert submission.disposition == "started"
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED
    assert [t.status for t in view.tickets] == ["COMPLETED"] * 5
    tickets = {t.ticket_id: t for t in rig.tickets_published()}
    for ticket in tickets.values():
        first_start = rig.log.started[ticket.ticket_id][0]
        for dep in ticket.dependencies:
            assert rig.log.finished[dep] <= first_start, "started before a dependency completed"
    result = await rig.store.get(Collection.WORKFLOW_RESULTS, submission.workflow_id)
    assert result is not None and result["status"] == "COMPLETED"
    assert result["metrics"]["completed"] == 5
    assert rig.store.data[Collection.VALIDATION_AUDIT]
    events = {r.value for r in rig.bus.topic("telemetry.orchestration")}
    assert any(b'"FLOW_C_COMPLETED"' in e for e in events)
    assert sum(b'"TICKET_COMPLETED"' in e for e in events) == 5


async def test_same_decision_twice_is_one_workflow(rig_factory: RigFactory) -> None:
    rig = await rig_factory()
    doc = decision_doc("critical-security-3-task")
    doc["decision_id"] = f"dec-0002-{uuid.uuid4().hex[:8]}"
    first = await rig.submit(doc, unique=False)
    second = await rig.submit(doc, unique=False)
    assert first.workflow_id == second.workflow_id == doc["decision_id"]
    assert (first.disposition, second.disposition) == ("started", "existing")
    view = await rig.finished_view(first.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED
    third = await rig.submit(doc, unique=False)
    assert (third.disposition, third.status) == ("existing", "COMPLETED")
    ids = [t.ticket_id for t in rig.tickets_published() if t.status is TicketStatus.PENDING]
    assert len(ids) == len(set(ids)) == 3


async def test_rejected_decision_is_skipped_without_workflow(rig_factory: RigFactory) -> None:
    rig = await rig_factory()
    submission = await rig.submit(decision_bytes("rejected"))
    assert submission.disposition == "skipped"
    record = await rig.store.get(Collection.DECISIONS, submission.workflow_id)
    assert record is not None and record["disposition"] == "skipped"
    assert rig.bus.records == []


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("invalid-cycle", "dag.cycle"),
        ("invalid-unknown-dependency", "dag.unknown_dependency"),
        ("invalid-expired-plan", "plan.expired"),
        ("invalid-duplicate-task-id", "dag.duplicate_task_id"),
        ("invalid-no-tasks", "plan.empty"),
    ],
)
async def test_invalid_plans_are_refused_at_c1_and_audited(
    rig_factory: RigFactory, name: str, code: str
) -> None:
    rig = await rig_factory()
    submission = await rig.submit(decision_bytes(name))
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.REFUSED
    assert code in {i.code for i in view.issues}
    assert rig.tickets_published() == []
    audits = list(rig.store.data[Collection.VALIDATION_AUDIT].values())
    assert audits and audits[0]["validation_result"]["valid"] is False


async def test_lowercase_types_run_as_upper_case_symbols(rig_factory: RigFactory) -> None:
    rig = await rig_factory()
    submission = await rig.submit(decision_bytes("low-risk-lowercase-types"))
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED
    assert {t.task_type for t in rig.tickets_published()} == {TaskType.BUILD, TaskType.TEST}


async def test_conditional_approval_runs_and_records_guardrails(rig_factory: RigFactory) -> None:
    rig = await rig_factory()
    submission = await rig.submit(decision_bytes("conditional-approval"))
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED
    assert view.guardrails == ["change_window_soon"]
    stored = await rig.store.get(Collection.WORKFLOW_RESULTS, submission.workflow_id)
    assert stored is not None and stored["guardrails"] == ["change_window_soon"]


async def test_review_required_waits_for_a_human_then_runs(rig_factory: RigFactory) -> None:
    rig = await rig_factory()
    submission = await rig.submit(decision_bytes("review-required"))
    waiting = await rig.wait_status(submission.workflow_id, WorkflowStatus.AWAITING_APPROVAL)
    assert waiting.tickets == []
    assert rig.tickets_published() == []
    await rig.gateway.decide(submission.workflow_id, True, "alice", "change approved in CAB")
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED
    assert view.approval is not None and view.approval["by"] == "alice"


async def test_review_required_rejected_by_a_human(rig_factory: RigFactory) -> None:
    rig = await rig_factory()
    submission = await rig.submit(decision_doc("review-required"))
    await rig.wait_status(submission.workflow_id, WorkflowStatus.AWAITING_APPROVAL)
    await rig.gateway.decide(submission.workflow_id, False, "bob", "too risky")
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.REJECTED
    assert "bob" in view.reason
    assert rig.tickets_published() == []


async def test_hash_mismatch_runs_by_default(rig_factory: RigFactory) -> None:
    rig = await rig_factory()
    submission = await rig.submit(decision_bytes("hash-mismatch"))
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED


async def test_large_plan_completes(rig_factory: RigFactory) -> None:
    rig = await rig_factory()
    rig.agent_delay_s = 0
    submission = await rig.submit(decision_bytes("large-100-task-dag"))
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED
    assert len(view.tickets) == 100


async def test_a_dispatch_is_pending_to_the_outside_until_the_bus_confirmed_it(
    rig_factory: RigFactory,
) -> None:
    rig = await rig_factory()
    during: list[tuple[str, str, object]] = []

    async def while_publishing(record: object) -> None:
        # the bus has the record but has not returned yet: the store and the workflow's query
        # must still say PENDING, with no started_at. The
        # roots go out in C1's step, before the workflow holds any ticket: not listed yet.
        ticket_id = str(getattr(record, "key", ""))
        view = await rig.gateway.view(workflow_id[0])
        mine = next((t for t in view.tickets if t.ticket_id == ticket_id), None)
        stored = rig.store.data[Collection.TICKETS][ticket_id]
        if mine is None:
            during.append(("not listed", stored["status"], None))
        else:
            during.append((mine.status, stored["status"], mine.started_at))

    workflow_id: list[str] = []
    rig.bus.on("execution.tickets", while_publishing)
    doc = decision_doc("low-risk-lowercase-types")
    doc["decision_id"] = f"{doc['decision_id']}-{uuid.uuid4().hex[:8]}"
    workflow_id.append(str(doc["decision_id"]))
    submission = await rig.submit(doc, unique=False)
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED
    # l1 (the root) published in C1's step, l2 once l1 completed, while the workflow runs
    assert during == [("not listed", "PENDING", None), ("PENDING", "PENDING", None)], during
    assert all(t.started_at is not None for t in view.tickets)
