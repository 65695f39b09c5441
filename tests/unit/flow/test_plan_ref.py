"""The stash keeps what is too large for a workflow payload; the carried state survives a trip."""

from __future__ import annotations

import pytest

from orchestrator_dynamic.adapters.store.memory import MemoryStore
from orchestrator_dynamic.domain.decode import parse_decision
from orchestrator_dynamic.domain.errors import NotFound
from orchestrator_dynamic.domain.execution import Backoff, ExecutionState
from orchestrator_dynamic.domain.model import ExecutionResultPayload, TicketStatus
from orchestrator_dynamic.domain.scoring import PriorityWeights
from orchestrator_dynamic.flow import carried as carried_state
from orchestrator_dynamic.flow.payloads import ApprovalSignal, StashChunk, TicketRecord
from orchestrator_dynamic.flow.plan_ref import CHUNK_CHARS, Stash, slim, split, tickets_of
from tests.conftest import decision_doc
from tests.unit.policy.helpers import planned


def test_split_keeps_every_character_in_chunks_under_the_limit() -> None:
    text = "".join(chr(65 + i % 26) for i in range(CHUNK_CHARS * 2 + 7))
    parts = split(text)
    assert [len(p) for p in parts] == [CHUNK_CHARS, CHUNK_CHARS, 7]
    assert "".join(parts) == text
    assert split("") == [""]


async def test_a_stashed_decision_and_its_tickets_come_back_whole() -> None:
    store = MemoryStore()
    stash = Stash(store, lambda: 5)
    decision = parse_decision(decision_doc("large-100-task-dag"))
    ref = await stash.put_decision(decision)
    assert ref.key == f"decision/{decision.decision_id}"
    assert await stash.decision(ref) == decision
    assert slim(decision).cognitive_plan is None
    tickets = planned("large-100-task-dag").tickets
    tickets_ref = await stash.put_tickets("wf-1", tickets)
    assert tickets_of(await stash.text(tickets_ref)) == tickets


async def test_a_missing_chunk_is_named() -> None:
    stash = Stash(MemoryStore(), lambda: 5)
    with pytest.raises(NotFound, match="stash 'gone' has no chunk 3"):
        await stash.read(StashChunk("gone", 3))


def test_the_carried_state_decodes_to_what_was_encoded() -> None:
    tickets = planned("approve-5-task-dag").tickets
    state = ExecutionState.of(
        tickets, max_in_flight=7, backoff=Backoff(10, 3.0, 90), weights=PriorityWeights(1, 2, 3)
    )
    first = tickets[0]
    state.dispatch(first.ticket_id, 1_000, {"worker_id": "w-1"})
    state.reports[first.ticket_id] = ExecutionResultPayload(success=True, output={"k": "v"})
    state.timeouts[first.ticket_id] = 9
    carried = carried_state.Carried(
        state,
        {first.ticket_id: [{"status": "RUNNING", "at": 1_000, "event": "DISPATCHED"}]},
        started_ms=12,
        timed_out=[first.ticket_id],
        approval=ApprovalSignal(True, "ana", "ok", 3),
        reason="why",
        run=2,
    )
    again = carried_state.decode(carried_state.encode(carried))
    assert again == carried
    assert again.plan.tickets[first.ticket_id].metadata["worker_id"] == "w-1"


async def test_long_metadata_of_completed_tickets_is_set_aside_and_put_back() -> None:
    tickets = planned("approve-5-task-dag").tickets
    state = ExecutionState.of(tickets)
    done, running = tickets[0], tickets[1]
    explanation = "x" * (carried_state.HEAVY_CHARS + 1)
    for ticket in (done, running):
        state.dispatch(
            ticket.ticket_id, 1, {"worker_id": "w", "allocation_explanation": explanation}
        )
    state.tickets[done.ticket_id] = state.tickets[done.ticket_id].model_copy(
        update={"status": TicketStatus.COMPLETED}
    )
    aside = carried_state.settle(state)
    assert aside == {done.ticket_id: {"allocation_explanation": explanation}}
    before = {**state.tickets[done.ticket_id].metadata, "allocation_explanation": explanation}
    assert "allocation_explanation" not in state.tickets[done.ticket_id].metadata
    assert "allocation_explanation" in state.tickets[running.ticket_id].metadata  # still running
    stash = Stash(MemoryStore(), lambda: 5)
    ref = await stash.put("sidecar/wf/run/0", carried_state.encode_sidecar(aside))
    records = await stash.restore_metadata([TicketRecord(state.tickets[done.ticket_id])], [ref])
    assert records[0].ticket.metadata == before
