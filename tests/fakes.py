"""In-memory implementations of the domain ports, for unit and flow tests.

They implement the same Protocols as the real adapters (checked by mypy where they are used)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator_dynamic.domain.errors import BusUnavailable
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.domain.ports import Allocation
from orchestrator_dynamic.domain.scoring import PriorityWeights


@dataclass
class Published:
    topic: str
    value: bytes
    key: str | None
    headers: dict[str, str]


class RecordingPublisher:
    """Keeps every record; optional listeners react to a topic (simulated worker agents)."""

    def __init__(self) -> None:
        self.records: list[Published] = []
        self.listeners: dict[str, list[Callable[[Published], Awaitable[None]]]] = defaultdict(list)
        self.down = False

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if self.down:
            raise BusUnavailable("bus", "stopped by the test")
        record = Published(topic, value, key, dict(headers or {}))
        self.records.append(record)
        for listener in self.listeners[topic]:
            await listener(record)

    def on(self, topic: str, listener: Callable[[Published], Awaitable[None]]) -> None:
        self.listeners[topic].append(listener)

    def topic(self, name: str) -> list[Published]:
        return [r for r in self.records if r.topic == name]


class MemoryStoreFake:
    def __init__(self) -> None:
        self.data: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> None: ...

    async def put(self, collection: str, key: str, record: Mapping[str, Any]) -> None:
        self.data[collection][key] = dict(record)

    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        return self.data[collection].get(key)

    async def find(
        self,
        collection: str,
        filters: Mapping[str, Any] | None = None,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        rows = [
            r
            for r in self.data[collection].values()
            if all(r.get(k) == v for k, v in (filters or {}).items())
            and (since_ms is None or r.get("timestamp", 0) >= since_ms)
            and (until_ms is None or r.get("timestamp", 0) < until_ms)
        ]
        rows.sort(key=lambda r: r.get("timestamp", 0), reverse=True)
        return rows[offset : offset + limit]

    async def delete(self, collection: str, keys: Sequence[str]) -> None:
        for key in keys:
            self.data[collection].pop(key, None)

    async def purge(self, collection: str, before_ms: int) -> int:
        old = [k for k, r in self.data[collection].items() if r.get("timestamp", 0) < before_ms]
        for key in old:
            del self.data[collection][key]
        return len(old)


@dataclass
class CapabilityScheduler:
    """The simplest honest allocator: first worker whose capabilities cover the ticket's."""

    workers: dict[str, set[str]] = field(default_factory=dict)
    released: list[tuple[str, str]] = field(default_factory=list)

    async def allocate(
        self,
        ticket: ExecutionTicket,
        now_ms: int,
        *,
        intelligent: bool | None = None,
        weights: PriorityWeights | None = None,
    ) -> Allocation:
        need = set(ticket.required_capabilities)
        for worker_id, caps in sorted(self.workers.items()):
            if need <= caps:
                return Allocation(ticket.ticket_id, worker_id, "capability_match", 0.5)
        return Allocation(ticket.ticket_id, None, "unassigned", 0.5)

    async def release(self, ticket_id: str, worker_id: str) -> None:
        self.released.append((ticket_id, worker_id))


async def settle(predicate: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Wait until ``predicate`` holds (polling an event loop, no fixed sleeps in assertions)."""
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - the predicate reads plain state, no event exists
            await asyncio.sleep(0.02)
