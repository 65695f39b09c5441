"""The capacity ledger in process (embedded default): the same rules as the Redis scripts
(adapters/cache/redis_ledger.py). One event loop and no await inside a call make every call
atomic, as a script is on Redis."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from orchestrator_dynamic.domain.ports import Reservation, SlotOffer
from orchestrator_dynamic.domain.queueing import InFlight, WorkerLoad


class MemoryLedger:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._ledger_clock = clock
        self._held: dict[str, dict[str, InFlight]] = {}  # worker -> ticket -> entry
        self._holders: dict[str, tuple[str, float]] = {}  # ticket -> (worker, expires)

    def _holder(self, ticket_id: str) -> str | None:
        held = self._holders.get(ticket_id)
        if held is None:
            return None
        if self._ledger_clock() >= held[1]:
            del self._holders[ticket_id]
            return None
        return held[0]

    def _tickets(self, worker_id: str, stale_before_ms: int | None = None) -> dict[str, InFlight]:
        tickets = self._held.setdefault(worker_id, {})
        if stale_before_ms is not None:
            for ticket_id in [t for t, e in tickets.items() if e.reserved_at_ms < stale_before_ms]:
                del tickets[ticket_id]
        return tickets

    def _hold(self, ticket_id: str, worker_id: str, entry: InFlight, ttl_seconds: float) -> None:
        self._held.setdefault(worker_id, {})[ticket_id] = entry
        self._holders[ticket_id] = (worker_id, self._ledger_clock() + ttl_seconds)

    async def reserve(
        self,
        ticket_id: str,
        offers: Sequence[SlotOffer],
        entry: InFlight,
        *,
        read: int,
        ttl_seconds: float,
    ) -> Reservation:
        holder = self._holder(ticket_id)
        if holder is not None:
            return Reservation(holder, already=True)
        stale = entry.reserved_at_ms - round(ttl_seconds * 1000)
        loads: dict[str, WorkerLoad] = {}
        chosen: int | None = None
        for i, offer in enumerate(offers):
            if i >= read and chosen is not None:
                break
            tickets = self._tickets(offer.worker_id, stale)
            if i < read:
                loads[offer.worker_id] = WorkerLoad(tuple(tickets.values()))
            if chosen is None and len(tickets) < offer.limit:
                chosen = i
                loads[offer.worker_id] = WorkerLoad(tuple(tickets.values()))
                self._hold(ticket_id, offer.worker_id, entry, ttl_seconds)
        worker = offers[chosen].worker_id if chosen is not None else None
        return Reservation(worker, index=chosen, loads=loads)

    async def move(
        self, ticket_id: str, from_worker: str, to: SlotOffer, entry: InFlight, ttl_seconds: float
    ) -> str | None:
        holder = self._holder(ticket_id)
        if holder != from_worker:
            return holder
        stale = entry.reserved_at_ms - round(ttl_seconds * 1000)
        if len(self._tickets(to.worker_id, stale)) >= to.limit:
            return holder
        self._tickets(from_worker).pop(ticket_id, None)
        self._hold(ticket_id, to.worker_id, entry, ttl_seconds)
        return to.worker_id

    async def release_slot(self, ticket_id: str, worker_id: str) -> bool:
        holder = self._holder(ticket_id)
        if holder in (None, worker_id):
            self._holders.pop(ticket_id, None)
        return self._tickets(worker_id).pop(ticket_id, None) is not None

    async def loads(self, worker_ids: Sequence[str]) -> dict[str, WorkerLoad]:
        return {w: WorkerLoad(tuple(self._held.get(w, {}).values())) for w in worker_ids}
