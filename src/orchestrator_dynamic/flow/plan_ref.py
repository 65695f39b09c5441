"""The stash: what is too large for a workflow payload, kept in the store and passed by reference.

Temporal refuses any payload over 2 MB (the start's input, an activity's result, a local
activity's marker), so a plan of 10,000 tasks cannot travel whole: its decision is ~2.6 MB and its
tickets ~10 MB. The gateway stashes a decision over the size threshold and starts the workflow
with a ``StashRef``; C1/C2 read the decision here and stash the tickets they generate; the
workflow reads stashed text back one chunk per activity (each chunk well under the
limit) and writes the state it continues as new with the same way (flow/continuation.py).

A stash is written once under a key nobody else writes (the decision id, the workflow id, the
run id), so a retried write puts the same bytes again.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import TypeAdapter

from orchestrator_dynamic.domain.errors import NotFound
from orchestrator_dynamic.domain.model import ConsolidatedDecision, ExecutionTicket
from orchestrator_dynamic.domain.ports import Collection, Store
from orchestrator_dynamic.flow.payloads import StashChunk, StashDrop, StashRef, TicketRecord

# Characters per chunk: JSON-escaped once more inside a payload, a chunk stays under the
# engine's 512 KB warning level and far under its 2 MB limit.
CHUNK_CHARS = 400_000

TICKETS = TypeAdapter(list[ExecutionTicket])
SIDECAR = TypeAdapter(dict[str, dict[str, str]])
# Sidecars read lately, by key: the final records come in many chunks, each naming them all.
_SIDECARS_KEPT = 8


def split(text: str) -> list[str]:
    """The text in chunks of CHUNK_CHARS (one empty chunk for an empty text)."""
    return [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]


def decision_size(decision: ConsolidatedDecision) -> int:
    return len(decision.model_dump_json())


def slim(decision: ConsolidatedDecision) -> ConsolidatedDecision:
    """The decision a by-reference workflow carries: its ids, not its plan."""
    return decision.model_copy(update={"cognitive_plan": None})


class Stash:
    """Chunks of text in Collection.FLOW_STASH, keyed ``<key>/<index>``."""

    def __init__(self, store: Store, clock: Callable[[], int]) -> None:
        self._store = store
        self._clock = clock
        self._sidecars: dict[str, dict[str, dict[str, str]]] = {}

    async def put(self, key: str, text: str, owner: str = "") -> StashRef:
        parts = split(text)
        for index, part in enumerate(parts):
            await self.write(StashChunk(key, index, part, owner))
        return StashRef(key, len(parts))

    async def write(self, chunk: StashChunk) -> None:
        record = {"stash": chunk.key, "index": chunk.index, "text": chunk.text}
        record["owner"] = chunk.owner
        record["timestamp"] = self._clock()  # retention purges what a workflow left behind
        await self._store.put(Collection.FLOW_STASH, f"{chunk.key}/{chunk.index}", record)

    async def read(self, chunk: StashChunk) -> str:
        doc = await self._store.get(Collection.FLOW_STASH, f"{chunk.key}/{chunk.index}")
        if doc is None:
            raise NotFound(f"stash {chunk.key!r} has no chunk {chunk.index} (purged?)")
        return str(doc["text"])

    async def drop(self, drop: StashDrop) -> None:
        keys = [f"{ref.key}/{i}" for ref in drop.refs for i in range(ref.chunks)]
        await self._store.delete(Collection.FLOW_STASH, keys)
        while drop.owner:
            owned = await self._store.find(Collection.FLOW_STASH, {"owner": drop.owner}, limit=500)
            if not owned:
                return
            keys = [f"{doc['stash']}/{doc['index']}" for doc in owned]
            await self._store.delete(Collection.FLOW_STASH, keys)

    async def text(self, ref: StashRef) -> str:
        return "".join([await self.read(StashChunk(ref.key, i)) for i in range(ref.chunks)])

    async def put_decision(self, decision: ConsolidatedDecision) -> StashRef:
        text = decision.model_dump_json()  # the workflow id is the decision id
        return await self.put(f"decision/{decision.decision_id}", text, decision.decision_id)

    async def decision(self, ref: StashRef) -> ConsolidatedDecision:
        return ConsolidatedDecision.model_validate_json(await self.text(ref))

    async def put_tickets(self, workflow_id: str, tickets: list[ExecutionTicket]) -> StashRef:
        text = TICKETS.dump_json(tickets).decode()
        return await self.put(f"tickets/{workflow_id}", text, workflow_id)

    async def restore_metadata(
        self, records: list[TicketRecord], refs: list[StashRef]
    ) -> list[TicketRecord]:
        """Records with the metadata continue-as-new set aside put back (flow/carried.py settle)."""
        aside: dict[str, dict[str, str]] = {}
        for ref in refs:
            aside.update(await self._sidecar(ref))
        for record in records:
            if heavy := aside.get(record.ticket.ticket_id):
                metadata = {**heavy, **record.ticket.metadata}
                record.ticket = record.ticket.model_copy(update={"metadata": metadata})
        return records

    async def _sidecar(self, ref: StashRef) -> dict[str, dict[str, str]]:
        if ref.key not in self._sidecars:
            if len(self._sidecars) >= _SIDECARS_KEPT:
                self._sidecars.pop(next(iter(self._sidecars)))
            self._sidecars[ref.key] = SIDECAR.validate_json(await self.text(ref))
        return self._sidecars[ref.key]


def tickets_of(text: str) -> list[ExecutionTicket]:
    """Stashed tickets as the workflow reads them back (pure: it runs in workflow code)."""
    return TICKETS.validate_json(text)
