"""In-process store: the same contract as the real ones, for tests and throwaway runs."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator_dynamic.adapters.store.indexes import check_collection


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def put(self, collection: str, key: str, record: Mapping[str, Any]) -> None:
        # Round-trip through JSON so callers see exactly what a real store would give back.
        self._data[check_collection(collection)][key] = json.loads(json.dumps(record, default=str))

    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        found = self._data[check_collection(collection)].get(key)
        return copy.deepcopy(found) if found is not None else None

    async def find(
        self,
        collection: str,
        filters: Mapping[str, Any] | None = None,
        *,
        since_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        rows = [
            r
            for r in self._data[check_collection(collection)].values()
            if all(r.get(k) == v for k, v in (filters or {}).items())
            and (since_ms is None or (r.get("timestamp") or 0) >= since_ms)
        ]
        rows.sort(key=lambda r: r.get("timestamp") or 0, reverse=True)
        return copy.deepcopy(rows[offset : offset + limit])

    async def delete(self, collection: str, keys: Sequence[str]) -> None:
        for key in keys:
            self._data[check_collection(collection)].pop(key, None)
