"""Allocation outcomes: built from the ticket's allocation metadata, published best effort."""

from __future__ import annotations

import json

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.services.allocation_outcomes import (
    OUTCOMES,
    outcome_doc,
    publish_outcomes,
)
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
from tests.fakes import RecordingPublisher
from tests.scheduling_factory import T0, ticket, worker

TOPIC = "ml.allocation_outcomes"


async def allocated(status: TicketStatus) -> ExecutionTicket:
    registry = BuiltinRegistry()
    await registry.register(worker("best", {"python"}))
    await registry.register(worker("other", {"python"}, success_rate=0.1))
    sched = IntelligentScheduler(registry, MemoryCache(), SchedulerConfig(cache_ttl_seconds=0))
    t = ticket(capabilities=["python"]).model_copy(update={"estimated_duration_ms": 2_000})
    a = await sched.allocate(t, T0)
    metadata = {  # what C3 stores in the ticket
        "worker_id": a.worker_id or "",
        "allocation_method": a.method,
        "priority_score": f"{a.priority_score:.4f}",
        "allocation_explanation": json.dumps(a.explanation),
        **a.metadata,
    }
    return t.model_copy(
        update={
            "metadata": metadata,
            "status": status,
            "actual_duration_ms": 3_500,
            "completed_at": T0 + 4_000,
        }
    )


async def test_outcome_of_a_completed_ticket() -> None:
    t = await allocated(TicketStatus.COMPLETED)
    doc = outcome_doc(t)
    assert doc is not None
    explanation = json.loads(t.metadata["allocation_explanation"])
    best = explanation["candidates"][0]
    assert doc == {
        "ticket_id": t.ticket_id,
        "plan_id": "plan-1",
        "workflow_id": "decision-1",
        "task_type": "EXECUTE",
        "risk_band": "medium",
        "worker_id": "best",
        "allocation_method": "intelligent",
        "priority_score": float(t.metadata["priority_score"]),
        "agent_score": best["agent_score"],
        "worker_score": best["worker_score"],
        "predicted_duration_ms": 2_000,
        "predicted_queue_ms": 0.0,
        "predicted_load_pct": 0.0,
        "queue_duration_source": "estimate",
        "actual_duration_ms": 3_500,
        "success": True,
        "retry_count": 0,
        "timestamp": T0 + 4_000,
    }


async def test_only_ended_allocated_tickets_have_outcomes() -> None:
    failed = outcome_doc(await allocated(TicketStatus.FAILED))
    assert failed is not None and failed["success"] is False
    assert outcome_doc(await allocated(TicketStatus.RUNNING)) is None
    assert outcome_doc(ticket()) is None  # never allocated


async def test_published_keyed_by_ticket_and_a_bus_outage_is_not_fatal() -> None:
    bus = RecordingPublisher()
    tickets = [await allocated(TicketStatus.COMPLETED), await allocated(TicketStatus.PENDING)]
    assert await publish_outcomes(bus, TOPIC, tickets) == 1
    (record,) = bus.records
    assert record.topic == TOPIC and record.key == tickets[0].ticket_id
    assert json.loads(record.value)["worker_id"] == "best"
    bus.down = True
    lost = OUTCOMES.labels("lost")._value.get()
    assert await publish_outcomes(bus, TOPIC, tickets) == 0
    assert OUTCOMES.labels("lost")._value.get() == lost + 1


async def test_the_outcome_carries_the_chosen_workers_predicted_queue_and_load() -> None:
    registry = BuiltinRegistry()
    await registry.register(worker("solo", {"python"}, max_tasks=4))
    sched = IntelligentScheduler(registry, MemoryCache(), SchedulerConfig(cache_ttl_seconds=0))
    for _ in range(2):  # 2 x 8 s already on the worker: 4 s per slot ahead, 50 % of its slots
        busy = ticket(capabilities=["python"], timeout_ms=600_000)
        await sched.allocate(busy.model_copy(update={"estimated_duration_ms": 8_000}), T0)
    t = ticket(capabilities=["python"]).model_copy(update={"estimated_duration_ms": 1_000})
    a = await sched.allocate(t, T0)
    done = t.model_copy(
        update={
            "metadata": {"worker_id": "solo", **a.metadata},
            "status": TicketStatus.COMPLETED,
            "actual_duration_ms": 1_200,
        }
    )
    doc = outcome_doc(done)
    assert doc is not None
    assert (doc["predicted_queue_ms"], doc["predicted_load_pct"]) == (4_000.0, 50.0)
    assert doc["queue_duration_source"] == "estimate"
    legacy = outcome_doc(done.model_copy(update={"metadata": {"worker_id": "solo"}}))
    assert legacy is not None and legacy["predicted_queue_ms"] is None
