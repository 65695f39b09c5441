"""Property: ResultDesk sorts every result as the README's "What happens to a result" table says,
never delivers one for a finished ticket, and counts each in orchestration_results_total."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from orchestrator_dynamic.adapters.store.memory import MemoryStore
from orchestrator_dynamic.domain.model import (
    ExecutionResult,
    ExecutionResultPayload,
    ResultStatus,
    TicketStatus,
)
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.services.results import Disposition, ResultDesk

FINAL = {"COMPLETED", "FAILED", "CANCELLED", "COMPENSATING", "COMPENSATED"}


class Engine:
    def __init__(self, alive: bool) -> None:
        self.alive = alive
        self.delivered: list[ExecutionResult] = []

    async def deliver(self, result: ExecutionResult) -> bool:
        self.delivered.append(result)
        return self.alive


def counted(channel: str, disposition: str) -> float:
    labels = {"channel": channel, "disposition": disposition}
    return REGISTRY.get_sample_value("orchestration_results_total", labels) or 0.0


cases = st.tuples(
    st.one_of(st.none(), st.sampled_from([s.value for s in TicketStatus])),  # stored status
    st.booleans(),  # the owning workflow still runs
    st.sampled_from(list(ResultStatus)),
    st.booleans(),  # from the allocated worker
    st.sampled_from(["bus", "api"]),
)


@settings(max_examples=200, deadline=None)
@given(cases)
def test_each_result_lands_where_the_table_says(case: tuple[object, ...]) -> None:
    stored, alive, status, allocated, channel = case
    assert isinstance(status, ResultStatus) and isinstance(channel, str)
    store = MemoryStore()
    engine = Engine(bool(alive))
    record = {"ticket_id": "t1", "worker_id": "w1", "status": stored, "timestamp": 1}
    if stored is not None:
        asyncio.run(store.put(Collection.TICKETS, "t1", record))
    result = ExecutionResult(
        ticket_id="t1",
        status=status,
        result=ExecutionResultPayload(success=True),
        agent_id="w1" if allocated else "intruder",
        timestamp=1,
    )
    if stored in FINAL:
        expected = Disposition.TICKET_FINISHED
    elif status is ResultStatus.RUNNING:
        expected = Disposition.PROGRESS
    elif not alive:
        expected = Disposition.UNKNOWN_TICKET if stored is None else Disposition.WORKFLOW_ENDED
    elif stored is not None and not allocated:
        expected = Disposition.FOREIGN_AGENT
    else:
        expected = Disposition.DELIVERED
    before = counted(channel, expected.value)
    outcome = asyncio.run(ResultDesk(engine, store).take(result, channel))  # type: ignore[arg-type]
    assert outcome.disposition is expected, outcome
    assert counted(channel, expected.value) == before + 1
    if stored in FINAL or status is ResultStatus.RUNNING:
        assert engine.delivered == []  # a finished ticket is never even signalled
