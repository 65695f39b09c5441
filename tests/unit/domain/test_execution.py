"""The C4 dispatch state machine: dependencies, retries, timeouts, limits, compensation."""

from __future__ import annotations

from orchestrator_dynamic.domain.execution import (
    Backoff,
    ExecutionState,
    TransitionKind,
    compensation_tickets,
    settle_compensated,
)
from orchestrator_dynamic.domain.model import (
    ExecutionResult,
    ExecutionResultPayload,
    ResultStatus,
    TaskType,
    TicketStatus,
)
from orchestrator_dynamic.domain.tickets import compensation_ticket_id
from orchestrator_dynamic.services.planning import plan_document
from tests.conftest import decision_bytes

T0 = 1_795_000_100_000


def five_task_state(**kwargs: object) -> tuple[ExecutionState, dict[str, str]]:
    planned = plan_document(decision_bytes("approve-5-task-dag"), T0)
    ids = {t.task_id: t.ticket_id for t in planned.tickets}
    return ExecutionState.of(planned.tickets, **kwargs), ids


def result(ticket_id: str, ok: bool = True, status: ResultStatus | None = None) -> ExecutionResult:
    return ExecutionResult(
        ticket_id=ticket_id,
        status=status or (ResultStatus.COMPLETED if ok else ResultStatus.FAILED),
        result=ExecutionResultPayload(success=ok),
        error_message=None if ok else "boom",
        agent_id="w1",
        timestamp=T0,
    )


def run_ready(state: ExecutionState, now: int) -> list[str]:
    ready = state.ready(now)
    for ticket in ready:
        state.dispatch(ticket.ticket_id, now)
    return [t.task_id for t in ready]


def test_dispatches_only_when_every_dependency_completed() -> None:
    state, ids = five_task_state()
    assert run_ready(state, T0) == ["t1-build"]
    assert run_ready(state, T0) == []  # t1 still running
    state.apply(result(ids["t1-build"]), T0 + 10)
    assert sorted(run_ready(state, T0 + 10)) == ["t2-unit", "t3-scan"]
    state.apply(result(ids["t2-unit"]), T0 + 20)
    assert run_ready(state, T0 + 20) == []  # t4 needs t3 too
    state.apply(result(ids["t3-scan"]), T0 + 30)
    assert run_ready(state, T0 + 30) == ["t4-canary"]
    state.apply(result(ids["t4-canary"]), T0 + 40)
    assert run_ready(state, T0 + 40) == ["t5-verify"]
    state.apply(result(ids["t5-verify"]), T0 + 50)
    assert state.finished() and state.succeeded()


def test_dispatch_sets_running_and_started_at_and_merges_metadata() -> None:
    state, ids = five_task_state()
    ticket = state.dispatch(ids["t1-build"], T0 + 5, {"worker_id": "w9"})
    assert ticket.status is TicketStatus.RUNNING
    assert ticket.started_at == T0 + 5
    assert ticket.metadata["worker_id"] == "w9"
    assert ticket.metadata["workflow_id"] == "dec-0001"


def test_duplicate_and_progress_results_change_nothing() -> None:
    state, ids = five_task_state()
    run_ready(state, T0)
    assert state.apply(result(ids["t1-build"], status=ResultStatus.RUNNING), T0) is None
    first = state.apply(result(ids["t1-build"]), T0 + 1)
    assert first is not None and first.kind is TransitionKind.COMPLETED
    assert state.apply(result(ids["t1-build"]), T0 + 2) is None
    assert state.apply(result("unknown"), T0 + 2) is None


def test_failure_retries_with_backoff_up_to_max_retries_then_halts() -> None:
    state, ids = five_task_state(backoff=Backoff(initial_ms=1_000, coefficient=2.0, max_ms=3_000))
    t1 = ids["t1-build"]
    now = T0
    delays = []
    for attempt in range(3):  # high band: 3 retries
        run_ready(state, now)
        transition = state.apply(result(t1, ok=False), now)
        assert transition is not None and transition.kind is TransitionKind.RETRY_SCHEDULED
        assert state.tickets[t1].retry_count == attempt + 1
        wake = state.next_wakeup(now)
        assert wake is not None
        delays.append(wake - now)
        assert state.ready(wake - 1) == []
        now = wake
    assert delays == [1_000, 2_000, 3_000]
    run_ready(state, now)
    final = state.apply(result(t1, ok=False), now)
    assert final is not None and final.kind is TransitionKind.FAILED
    assert state.tickets[t1].status is TicketStatus.FAILED
    assert state.halted and state.finished() and not state.succeeded()


def test_sla_timeout_counts_as_failure() -> None:
    state, ids = five_task_state()
    run_ready(state, T0)
    t1 = state.tickets[ids["t1-build"]]
    deadline = T0 + t1.sla.timeout_ms
    assert state.next_wakeup(T0) == deadline
    assert state.expire(deadline - 1) == []
    [transition] = state.expire(deadline)
    assert transition.kind is TransitionKind.RETRY_SCHEDULED
    assert "timed out" in transition.detail
    assert state.timeouts[ids["t1-build"]] == 1


def test_in_flight_limit_and_urgency_order() -> None:
    planned = plan_document(decision_bytes("large-100-task-dag"), T0)
    state = ExecutionState.of(planned.tickets, max_in_flight=3)
    assert len(run_ready(state, T0)) == 3
    assert state.ready(T0) == []


def test_halted_plan_stops_dispatching_but_lets_running_tickets_finish() -> None:
    state, ids = five_task_state()
    run_ready(state, T0)
    state.apply(result(ids["t1-build"]), T0)
    run_ready(state, T0)  # t2 and t3 running
    state.tickets[ids["t2-unit"]] = state.tickets[ids["t2-unit"]].model_copy(
        update={"retry_count": 3}
    )
    state.apply(result(ids["t2-unit"], ok=False), T0 + 1)
    assert state.halted and not state.finished()  # t3 still running
    state.apply(result(ids["t3-scan"]), T0 + 2)
    assert state.finished()
    assert state.ready(T0 + 3) == []


def test_compensation_in_reverse_topological_order() -> None:
    state, ids = five_task_state()
    for step in (["t1-build"], ["t2-unit", "t3-scan"]):
        run_ready(state, T0)
        for task in step:
            state.apply(result(ids[task]), T0)
    run_ready(state, T0)
    state.tickets[ids["t4-canary"]] = state.tickets[ids["t4-canary"]].model_copy(
        update={"retry_count": 3}
    )
    state.apply(result(ids["t4-canary"], ok=False), T0)
    comps = compensation_tickets(state, T0 + 100)
    assert {c.task_id for c in comps} == {
        "t1-build:compensate",
        "t2-unit:compensate",
        "t3-scan:compensate",
    }
    assert all(c.task_type is TaskType.COMPENSATE for c in comps)
    original = state.tickets[ids["t1-build"]]
    assert original.status is TicketStatus.COMPENSATING
    assert original.compensation_ticket_id == compensation_ticket_id(ids["t1-build"])

    comp_state = ExecutionState.of(comps)
    first = run_ready(comp_state, T0 + 100)
    assert sorted(first) == ["t2-unit:compensate", "t3-scan:compensate"]
    for comp in comps:
        if comp.task_id in first:
            comp_state.apply(result(comp.ticket_id), T0 + 101)
    assert run_ready(comp_state, T0 + 101) == ["t1-build:compensate"]
    comp_state.apply(result(compensation_ticket_id(ids["t1-build"])), T0 + 102)
    settle_compensated(state, comp_state)
    assert state.tickets[ids["t1-build"]].status is TicketStatus.COMPENSATED
    assert state.tickets[ids["t4-canary"]].status is TicketStatus.FAILED


def test_cancel_marks_every_unfinished_ticket_cancelled_and_returns_running() -> None:
    state, ids = five_task_state()
    run_ready(state, T0)
    stopped = state.cancel(T0 + 1, "cancelled by operator")
    assert [t.ticket_id for t in stopped] == [ids["t1-build"]]
    assert state.finished()
    # nothing failed: the running one and the four never started are all CANCELLED
    assert all(t.status is TicketStatus.CANCELLED for t in state.tickets.values())
    assert state.count(TicketStatus.FAILED) == 0
    assert stopped[0].completed_at == T0 + 1
    never_started = state.tickets[ids["t5-verify"]]
    assert never_started.started_at is None and never_started.completed_at is None
