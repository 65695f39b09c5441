"""The history queries the API, the CLI and training need, over the Store port.

Each query is one ``find`` on fields every adapter indexes (see ``adapters/store/indexes.py``);
time windows are on ``timestamp`` (epoch ms, ``since`` inclusive, ``until`` exclusive).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator_dynamic.domain.ports import Collection, Store


@dataclass(frozen=True)
class Window:
    """Which slice of a time-ordered answer to return (newest first)."""

    since_ms: int | None = None
    until_ms: int | None = None
    limit: int = 100
    offset: int = 0


ALL = Window()


class StoreQueries:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def _find(
        self, collection: str, filters: dict[str, Any], window: Window
    ) -> list[dict[str, Any]]:
        present = {k: v for k, v in filters.items() if v is not None}
        return await self._store.find(
            collection,
            present,
            since_ms=window.since_ms,
            until_ms=window.until_ms,
            limit=window.limit,
            offset=window.offset,
        )

    async def workflows(
        self, status: str | None = None, window: Window = ALL
    ) -> list[dict[str, Any]]:
        """Consolidated workflows, optionally of one status (COMPLETED, FAILED, ...)."""
        return await self._find(Collection.WORKFLOW_RESULTS, {"status": status}, window)

    async def sla_violating_workflows(self, window: Window = ALL) -> list[dict[str, Any]]:
        """Workflows that ended with at least one SLA violation."""
        filters = {"sla_status.compliant": False}
        return await self._find(Collection.WORKFLOW_RESULTS, filters, window)

    async def incidents(
        self, severity: str | None = None, window: Window = ALL
    ) -> list[dict[str, Any]]:
        """Incidents, optionally of one severity."""
        return await self._find(Collection.INCIDENTS, {"severity": severity}, window)

    async def validations(self, plan_id: str, window: Window = ALL) -> list[dict[str, Any]]:
        """Every C1 verdict recorded for one plan."""
        return await self._find(Collection.VALIDATION_AUDIT, {"plan_id": plan_id}, window)

    async def ticket_history(
        self, task_type: str | None = None, status: str | None = None, window: Window = ALL
    ) -> list[dict[str, Any]]:
        """Tickets with their status history, worker and durations: the training data."""
        filters = {"task_type": task_type, "status": status}
        return await self._find(Collection.TICKETS, filters, window)
