"""MongoDB store on pymongo's async client: one collection per name, ``_id`` = the record's key.

``workflow_results`` documents have ``_id = workflow_id``, tickets ``_id = ticket_id`` (the keys
the flow writes with), so an upsert by ``_id`` is idempotent. Indexes from ``INDEXES`` plus one on
``timestamp`` are created at start (``create_index`` is a no-op when the index exists).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import PyMongoError

from orchestrator_dynamic.adapters.store.indexes import (
    INDEXES,
    check_collection,
    check_filters,
    check_window,
    record_timestamp,
)
from orchestrator_dynamic.domain.errors import StoreUnavailable


class MongoStore:
    """``client`` may be given (any object with pymongo's async API); otherwise built from ``uri``."""

    def __init__(
        self,
        uri: str,
        database: str,
        *,
        client: Any | None = None,
        timeout_ms: int = 5_000,
    ) -> None:
        self._uri = uri
        self._database_name = database
        self._client = client
        self._owns_client = client is None
        self._timeout_ms = timeout_ms
        self._db: Any | None = None

    async def start(self) -> None:
        if self._client is None:
            self._client = AsyncMongoClient(
                self._uri,
                serverSelectionTimeoutMS=self._timeout_ms,
                connectTimeoutMS=self._timeout_ms,
                tz_aware=True,
            )
        self._db = self._client[self._database_name]
        try:
            await self._db.command("ping")
            for name, indexes in INDEXES.items():
                await self._create_indexes(name, indexes)
        except PyMongoError as exc:
            raise StoreUnavailable("store", f"mongodb: {exc}") from exc

    async def _create_indexes(self, name: str, indexes: tuple[tuple[str, ...], ...]) -> None:
        collection = self._col(name)
        await collection.create_index([("timestamp", DESCENDING)], name=f"{name}_timestamp")
        for fields in indexes:
            keys = [(f, ASCENDING) for f in fields]
            await collection.create_index(keys, name=f"{name}_{'_'.join(fields)}")

    async def stop(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.close()
            self._client = None
        self._db = None

    def _col(self, name: str) -> Any:
        if self._db is None:
            raise StoreUnavailable("store", "mongodb store is not started")
        return self._db[check_collection(name)]

    async def ping(self) -> None:
        if self._db is None:
            raise StoreUnavailable("store", "mongodb store is not started")
        try:
            await self._db.command("ping")
        except PyMongoError as exc:
            raise StoreUnavailable("store", f"mongodb ping: {exc}") from exc

    async def put(self, collection: str, key: str, record: Mapping[str, Any]) -> None:
        col = self._col(collection)
        record_timestamp(record)
        doc = {**record, "_id": key}
        try:
            await col.replace_one({"_id": key}, doc, upsert=True)
        except PyMongoError as exc:
            raise StoreUnavailable("store", f"mongodb write to {collection}: {exc}") from exc

    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        col = self._col(collection)
        try:
            found: dict[str, Any] | None = await col.find_one({"_id": key}, {"_id": 0})
        except PyMongoError as exc:
            raise StoreUnavailable("store", f"mongodb read from {collection}: {exc}") from exc
        return found

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
        col = self._col(collection)
        check_window(limit, offset)
        if limit == 0:
            return []  # Mongo reads limit(0) as "no limit"
        query = _query(filters, since_ms, until_ms)
        try:
            cursor = col.find(query, {"_id": 0}).sort([("timestamp", DESCENDING)])
            rows: list[dict[str, Any]] = await cursor.skip(offset).limit(limit).to_list(None)
        except PyMongoError as exc:
            raise StoreUnavailable("store", f"mongodb query {collection}: {exc}") from exc
        return rows

    async def delete(self, collection: str, keys: Sequence[str]) -> None:
        col = self._col(collection)
        try:
            await col.delete_many({"_id": {"$in": list(keys)}})
        except PyMongoError as exc:
            raise StoreUnavailable("store", f"mongodb delete from {collection}: {exc}") from exc

    async def purge(self, collection: str, before_ms: int) -> int:
        col = self._col(collection)
        try:
            result = await col.delete_many({"timestamp": {"$lt": before_ms}})
        except PyMongoError as exc:
            raise StoreUnavailable("store", f"mongodb purge {collection}: {exc}") from exc
        return int(result.deleted_count)


def _query(
    filters: Mapping[str, Any] | None, since_ms: int | None, until_ms: int | None
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for parts, value in check_filters(filters):
        query[".".join(parts)] = _typed(value)
    window: dict[str, int] = {}
    if since_ms is not None:
        window["$gte"] = since_ms
    if until_ms is not None:
        window["$lt"] = until_ms
    if window:
        query["timestamp"] = window
    return query


def _typed(value: Any) -> Any:
    # JSON semantics: booleans never equal numbers. MongoDB keeps them apart already; the type
    # guard makes that explicit for any server or stand-in that compares like Python.
    if value is None:  # {"f": None} alone also matches a missing field; we want a stored null
        return {"$eq": None, "$exists": True}
    if isinstance(value, bool):
        return {"$eq": value, "$type": "bool"}
    if isinstance(value, int | float):
        return {"$eq": value, "$type": "number"}
    return value
