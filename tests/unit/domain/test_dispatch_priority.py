"""Deadline-aware dispatch: when capacity is short, ready tickets go most urgent first,
urgency is recomputed each time capacity frees, and aging keeps low-priority work moving."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator_dynamic.domain.execution import ExecutionState
from orchestrator_dynamic.domain.model import (
    ExecutionResult,
    ExecutionResultPayload,
    ExecutionTicket,
    ResultStatus,
    RiskBand,
)
from tests.scheduling_factory import RELAXED, STRICT, T0, ticket

bands = st.sampled_from(list(RiskBand))
specs = st.lists(
    st.tuples(bands, st.booleans(), st.integers(0, 50_000), st.integers(1_000, 100_000)),
    min_size=1,
    max_size=12,
)


def build(spec: list[tuple[RiskBand, bool, int, int]]) -> list[ExecutionTicket]:
    return [
        ticket(
            ticket_id=f"t{i}",
            band=band,
            qos=STRICT if strict else RELAXED,
            created_at=T0 - age,
            timeout_ms=timeout,
        )
        for i, (band, strict, age, timeout) in enumerate(spec)
    ]


def done(ticket_id: str) -> ExecutionResult:
    return ExecutionResult(
        ticket_id=ticket_id,
        status=ResultStatus.COMPLETED,
        result=ExecutionResultPayload(success=True),
        agent_id="w",
        timestamp=T0,
    )


@settings(max_examples=200, deadline=None)
@given(specs, st.integers(1, 5), st.integers(0, 120_000))
def test_higher_priority_never_waits_behind_lower(
    spec: list[tuple[RiskBand, bool, int, int]], room: int, later: int
) -> None:
    state = ExecutionState.of(build(spec), max_in_flight=room)
    now = T0 + later
    chosen = state.ready(now)
    left = [t for t in state.tickets.values() if t.ticket_id not in {c.ticket_id for c in chosen}]
    assert len(chosen) == min(room, len(spec))
    if chosen and left:
        # All became ready at the same moment, so aging is equal and only urgency decides.
        worst_chosen = min(state.effective_priority(t, now) for t in chosen)
        assert all(state.effective_priority(t, now) <= worst_chosen for t in left)


@settings(max_examples=100, deadline=None)
@given(specs, st.integers(1, 3))
def test_each_freed_slot_goes_to_the_most_urgent_waiting_ticket(
    spec: list[tuple[RiskBand, bool, int, int]], room: int
) -> None:
    state = ExecutionState.of(build(spec), max_in_flight=room, aging_per_minute=0.0)
    now = T0
    for t in state.ready(now):
        state.dispatch(t.ticket_id, now)
    while state.in_flight():
        now += 7_000
        state.apply(done(state.in_flight()[0]), now)
        waiting = [t for t in state.tickets.values() if t.status.value == "PENDING"]
        nxt = state.ready(now)
        if waiting:
            best = max(state.effective_priority(t, now) for t in waiting)
            assert state.effective_priority(nxt[0], now) == best
        for t in nxt:
            state.dispatch(t.ticket_id, now)


def test_work_near_its_deadline_overtakes_work_with_slack() -> None:
    slack = ticket(ticket_id="slack", band=RiskBand.HIGH, created_at=T0, timeout_ms=600_000)
    tight = ticket(ticket_id="tight", band=RiskBand.MEDIUM, created_at=T0, timeout_ms=10_000)
    state = ExecutionState.of([slack, tight], max_in_flight=1)
    assert [t.ticket_id for t in state.ready(T0)] == ["slack"]  # both fresh: risk decides
    # 9 s later the tight ticket has used 90% of its window: it goes first now.
    assert [t.ticket_id for t in state.ready(T0 + 9_000)] == ["tight"]


def test_aging_lets_low_priority_work_through_a_stream_of_critical_work() -> None:
    low = ticket(ticket_id="low", band=RiskBand.LOW, created_at=T0, timeout_ms=3_600_000)
    state = ExecutionState.of([low], max_in_flight=1, aging_per_minute=0.1)
    now, dispatched = T0, []
    for i in range(40):  # a fresh critical ticket arrives every 30 s
        fresh = ticket(ticket_id=f"c{i}", band=RiskBand.CRITICAL, qos=STRICT, created_at=now,
                       timeout_ms=3_600_000)  # fmt: skip
        state.tickets[fresh.ticket_id] = fresh
        nxt = state.ready(now)[0]
        state.dispatch(nxt.ticket_id, now)
        dispatched.append(nxt.ticket_id)
        now += 30_000
        state.apply(done(nxt.ticket_id), now)
    assert "low" in dispatched
    without_aging = ExecutionState.of([low], max_in_flight=1, aging_per_minute=0.0)
    crit = ticket(ticket_id="c", band=RiskBand.CRITICAL, qos=STRICT, created_at=T0 + 1_200_000,
                  timeout_ms=3_600_000)  # fmt: skip
    without_aging.tickets["c"] = crit
    without_aging.ready(T0)
    assert without_aging.ready(T0 + 1_200_000)[0].ticket_id == "c"


def test_a_retried_ticket_ages_from_its_new_wait() -> None:
    state = ExecutionState.of([ticket(ticket_id="a")], max_in_flight=1)
    state.ready(T0)
    assert state.ready_since == {"a": T0}
    state.dispatch("a", T0 + 5)
    assert state.ready_since == {}
