"""C4 runs in the workflow task that decided it, so a task retried after its publish (the worker
died before completing it) runs C3 and C4 again: the same attempt must publish the same bytes."""

from __future__ import annotations

from typing import Any

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.errors import StoreUnavailable
from orchestrator_dynamic.domain.execution import ExecutionState
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.domain.scoring import WorkerProfile
from orchestrator_dynamic.flow.payloads import AllocateInput, PublishInput, TicketRecord
from orchestrator_dynamic.flow.steps import FlowDeps, FlowSteps
from orchestrator_dynamic.observability import metrics
from orchestrator_dynamic.services.scheduling import IntelligentScheduler
from tests.fakes import MemoryStoreFake, RecordingPublisher
from tests.unit.policy.helpers import planned

CAPS = frozenset({"code_generation", "deployment", "testing", "validation"})


async def process(store: MemoryStoreFake, bus: RecordingPublisher) -> FlowSteps:
    """A fresh worker process: its own registry and cache, the durable store it shares."""
    registry = BuiltinRegistry()
    for worker_id in ("w-a", "w-b", "w-c"):
        await registry.register(WorkerProfile(worker_id, CAPS, max_concurrent_tasks=10))
    scheduler = IntelligentScheduler(registry, MemoryCache())
    return FlowSteps(FlowDeps(bus, store, scheduler, lambda: 0))


async def attempt(
    steps: FlowSteps,
    roots: list[ExecutionTicket],
    now: int,
    counts: dict[str, int] | None,
) -> list[bytes]:
    """C3 then C4 as the workflow runs them; returns what went on the bus."""
    bus = steps._deps.publisher
    assert isinstance(bus, RecordingPublisher)
    before = len(bus.records)
    out = await steps.allocate(AllocateInput(roots, now, dispatch_counts=counts))
    state = ExecutionState.of(roots)
    records = []
    for view in out.allocations:
        ticket = state.dispatch(view.ticket_id, now, view.metadata)
        entry = {"status": "RUNNING", "at": now, "event": "dispatched", "detail": view.method}
        records.append(TicketRecord(ticket, [entry]))
    await steps.publish(PublishInput("wf-1", records))
    return [r.value for r in bus.records[before:] if r.topic == "execution.tickets"]


def roots() -> list[ExecutionTicket]:
    tickets = planned("approve-5-task-dag").tickets
    return [t for t in tickets if not t.dependencies]


async def test_a_retried_attempt_publishes_byte_identical_tickets() -> None:
    """Stopped between store and bus: the retried task (another process, a later clock, the
    same attempt of each ticket) publishes what the first one stored, byte for byte."""
    store, bus = MemoryStoreFake(), RecordingPublisher()
    tickets = roots()
    at = tickets[0].created_at + 1_000
    counts = {t.ticket_id: 0 for t in tickets}
    first = await attempt(await process(store, bus), tickets, at, counts)
    unconfirmed(store, tickets)
    later = at + (tickets[0].sla.deadline - at) // 2
    again = await attempt(await process(store, bus), tickets, later, counts)
    assert first and again == first


async def test_a_zombie_resuming_after_its_twin_published_sends_nothing() -> None:
    """A process stalled before it stored its dispatch (so allocated without the record, at
    another clock) resumes after another process ran the step: the attempt on record wins."""
    store, bus = MemoryStoreFake(), RecordingPublisher()
    tickets = roots()
    at = tickets[0].created_at + 1_000
    first = await attempt(await process(store, bus), tickets, at, {t.ticket_id: 0 for t in tickets})
    dropped = metrics.STALE_DISPATCHES._value.get()
    later = at + (tickets[0].sla.deadline - at) // 2
    assert await attempt(await process(store, bus), tickets, later, None) == []
    assert metrics.STALE_DISPATCHES._value.get() == dropped + len(first)
    # Stored but never confirmed (its publisher stopped before the bus): the record goes out.
    unconfirmed(store, tickets)
    assert await attempt(await process(store, bus), tickets, later, None) == first


def unconfirmed(store: MemoryStoreFake, tickets: list[ExecutionTicket]) -> None:
    """The tickets' records as C4 leaves them before the bus confirmed (PENDING)."""
    for ticket in tickets:
        doc = store.data[Collection.TICKETS][ticket.ticket_id]
        doc.update(status="PENDING", started_at=None)


async def test_without_the_attempt_key_a_retry_would_publish_other_bytes() -> None:
    """What the record prevents (and the path older histories keep, where C4 is an activity of
    its own and never runs twice with another allocation): two processes that share no record."""
    tickets = roots()
    at = tickets[0].created_at + 1_000
    later = at + (tickets[0].sla.deadline - at) // 2  # closer to the deadline: another score
    first = await attempt(await process(MemoryStoreFake(), RecordingPublisher()), tickets, at, None)
    again = await attempt(
        await process(MemoryStoreFake(), RecordingPublisher()), tickets, later, None
    )
    assert again != first


async def test_a_later_attempt_is_allocated_afresh() -> None:
    store, bus = MemoryStoreFake(), RecordingPublisher()
    tickets = roots()
    at = tickets[0].created_at + 1_000
    steps = await process(store, bus)
    await attempt(steps, tickets, at, {t.ticket_id: 0 for t in tickets})
    # The same tickets after a failed attempt (two more history entries): not the record.
    out = await steps.allocate(
        AllocateInput(tickets, at + 45_000, dispatch_counts={t.ticket_id: 2 for t in tickets})
    )
    assert all(a.method == "reserved" for a in out.allocations)  # the scheduler's own answer


class UnreadableStore(MemoryStoreFake):
    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        raise StoreUnavailable("store", "connection refused")


async def test_a_store_that_cannot_be_read_does_not_stop_dispatch() -> None:
    """Writes wait in the spool through an outage; C3 allocates afresh rather than wait."""
    steps = await process(UnreadableStore(), RecordingPublisher())
    tickets = roots()
    counts = {t.ticket_id: 0 for t in tickets}
    out = await steps.allocate(
        AllocateInput(tickets, tickets[0].created_at, dispatch_counts=counts)
    )
    assert [a.worker_id is not None for a in out.allocations] == [True] * len(tickets)
