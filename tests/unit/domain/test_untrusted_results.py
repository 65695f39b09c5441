"""Property: whatever results arrive, in whatever order, the state machine never changes a
finished ticket, never raises, and applies only the allocated worker's answer to a RUNNING one.

Hypothesis drives a 5-ticket plan with a stream of events: time passing (SLA timers fire),
results for known and unknown tickets, from the allocated worker or another agent, with every
status, duplicated and out of order.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator_dynamic.domain.execution import ExecutionState, TransitionKind
from orchestrator_dynamic.domain.model import (
    ExecutionResult,
    ExecutionResultPayload,
    ExecutionTicket,
    ResultStatus,
    TicketStatus,
)
from orchestrator_dynamic.services.planning import plan_document
from tests.conftest import decision_bytes

T0 = 1_795_000_100_000
FINAL = {TicketStatus.COMPLETED, TicketStatus.FAILED, TicketStatus.CANCELLED}
PLAN = plan_document(decision_bytes("approve-5-task-dag"), T0).tickets

tick = st.tuples(st.just("tick"), st.integers(0, 400_000))
# Weighted towards what moves the plan (the allocated worker's success), so most runs reach
# finished tickets that the rest of the stream then tries to change.
answer = st.tuples(
    st.just("result"),
    st.integers(0, len(PLAN)),  # len(PLAN) = a ticket nobody knows
    st.sampled_from([ResultStatus.COMPLETED] * 4 + list(ResultStatus)),
    st.sampled_from([True, True, True, False]),  # success
    st.sampled_from(["allocated"] * 4 + ["intruder", ""]),
)
events = st.lists(st.one_of(tick, answer, answer, answer), min_size=10, max_size=80)


def _result(ticket_id: str, status: ResultStatus, ok: bool, agent: str) -> ExecutionResult:
    return ExecutionResult(
        ticket_id=ticket_id,
        status=status,
        result=ExecutionResultPayload(success=ok),
        agent_id=agent,
        timestamp=T0,
    )


def _dispatch_ready(state: ExecutionState, now: int) -> None:
    for ticket in state.ready(now):
        state.dispatch(ticket.ticket_id, now, {"worker_id": f"w-{ticket.task_id}"})


def _snapshot(state: ExecutionState) -> dict[str, ExecutionTicket]:
    return dict(state.tickets)


@settings(max_examples=300, deadline=None)
@given(events)
def test_results_never_change_a_finished_ticket(stream: list[tuple[object, ...]]) -> None:
    state = ExecutionState.of(list(PLAN))
    now = T0
    _dispatch_ready(state, now)
    for event in stream:
        before = _snapshot(state)
        if event[0] == "tick":
            now += int(event[1])  # type: ignore[call-overload]
            state.expire(now)
        else:
            _, index, status, ok, who = event
            assert isinstance(index, int) and isinstance(status, ResultStatus)
            known = index < len(PLAN)
            ticket_id = PLAN[index].ticket_id if known else "no-such-ticket"
            ticket = state.tickets.get(ticket_id)
            owner = ticket.metadata.get("worker_id", "") if ticket else ""
            agent = owner if who == "allocated" else str(who)
            transition = state.apply(_result(ticket_id, status, bool(ok), agent), now)
            running = ticket is not None and ticket.status is TicketStatus.RUNNING
            if not running or status is ResultStatus.RUNNING:
                # unknown, finished, waiting (a late answer after its SLA timer), or progress
                assert transition is None
                assert _snapshot(state) == before
            elif agent != owner:
                assert transition is not None
                assert transition.kind is TransitionKind.FOREIGN_RESULT
                assert _snapshot(state) == before
        for tid, was in before.items():
            if was.status in FINAL:
                assert state.tickets[tid] == was, f"finished ticket {tid} changed"
        _dispatch_ready(state, now)
