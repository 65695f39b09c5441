"""In-process store: the same contract as the real ones, for tests and throwaway runs."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator_dynamic.adapters.store.indexes import (
    check_collection,
    check_filters,
    check_window,
    record_timestamp,
)

_MISSING = object()


def _path(record: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    value: Any = record
    for part in parts:
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _equal(found: Any, wanted: Any) -> bool:
    # JSON semantics, as the real stores compare: True is not 1, 1 equals 1.0.
    if wanted is None:
        return found is None
    if isinstance(found, bool) or isinstance(wanted, bool):
        return type(found) is type(wanted) and found == wanted
    return bool(found is not _MISSING and found == wanted)


def _in_window(record: Mapping[str, Any], since_ms: int | None, until_ms: int | None) -> bool:
    stamp = record.get("timestamp")
    if since_ms is not None and (stamp is None or stamp < since_ms):
        return False
    return until_ms is None or (stamp is not None and stamp < until_ms)


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
        record_timestamp(record)
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
        until_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        check_window(limit, offset)
        wanted = check_filters(filters)
        rows = [
            r
            for r in self._data[check_collection(collection)].values()
            if all(_equal(_path(r, parts), v) for parts, v in wanted)
            and _in_window(r, since_ms, until_ms)
        ]
        # Records without a timestamp sort last, as NULLs do in the SQL stores.
        rows.sort(key=lambda r: (r.get("timestamp") is not None, r.get("timestamp") or 0))
        rows.reverse()
        return copy.deepcopy(rows[offset : offset + limit])

    async def delete(self, collection: str, keys: Sequence[str]) -> None:
        for key in keys:
            self._data[check_collection(collection)].pop(key, None)

    async def purge(self, collection: str, before_ms: int) -> int:
        table = self._data[check_collection(collection)]
        old = [k for k, r in table.items() if _in_window(r, None, before_ms)]
        for key in old:
            del table[key]
        return len(old)
