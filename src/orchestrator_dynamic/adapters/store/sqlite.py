"""SQLite store (the embedded default): one table per collection, JSON documents, real indexes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from orchestrator_dynamic.adapters.store.indexes import (
    INDEXES,
    check_collection,
    check_filters,
    check_window,
    record_timestamp,
)
from orchestrator_dynamic.domain.errors import StoreUnavailable


def _field(name: str) -> str:
    return f"json_extract(doc, '$.{name}')"


class SqliteStore:
    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._db: aiosqlite.Connection | None = None

    async def start(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = await aiosqlite.connect(self._path)
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA busy_timeout=5000")
            for collection, indexes in INDEXES.items():
                await self._create(collection, indexes)
            await self._db.commit()
        except sqlite3.Error as exc:
            raise StoreUnavailable("store", f"sqlite {self._path}: {exc}") from exc

    async def _create(self, collection: str, indexes: tuple[tuple[str, ...], ...]) -> None:
        assert self._db is not None
        await self._db.execute(
            f"CREATE TABLE IF NOT EXISTS {collection} "
            "(key TEXT PRIMARY KEY, doc TEXT NOT NULL, timestamp INTEGER)"
        )
        await self._db.execute(
            f"CREATE INDEX IF NOT EXISTS {collection}_timestamp ON {collection}(timestamp)"
        )
        for fields in indexes:
            name = f"{collection}_{'_'.join(fields)}"
            columns = ", ".join(_field(f) for f in fields)
            await self._db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {collection}({columns})")

    async def stop(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreUnavailable("store", "sqlite store is not started")
        return self._db

    async def ping(self) -> None:
        try:
            await self._conn().execute("SELECT 1")
        except sqlite3.Error as exc:
            raise StoreUnavailable("store", str(exc)) from exc

    async def put(self, collection: str, key: str, record: Mapping[str, Any]) -> None:
        table = check_collection(collection)
        stamp = record_timestamp(record)
        doc = json.dumps(record, default=str)
        try:
            await self._conn().execute(
                f"INSERT INTO {table}(key, doc, timestamp) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET doc = excluded.doc, timestamp = excluded.timestamp",
                (key, doc, stamp),
            )
            await self._conn().commit()
        except sqlite3.Error as exc:
            raise StoreUnavailable("store", f"write to {table}: {exc}") from exc

    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        table = check_collection(collection)
        try:
            cursor = await self._conn().execute(f"SELECT doc FROM {table} WHERE key = ?", (key,))
            row = await cursor.fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable("store", f"read from {table}: {exc}") from exc
        return json.loads(row[0]) if row else None

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
        table = check_collection(collection)
        check_window(limit, offset)
        where, args = _where(filters, since_ms, until_ms)
        sql = f"SELECT doc FROM {table}{where} ORDER BY timestamp DESC LIMIT ? OFFSET ?"
        try:
            cursor = await self._conn().execute(sql, (*args, limit, offset))
            rows = await cursor.fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable("store", f"query {table}: {exc}") from exc
        return [json.loads(r[0]) for r in rows]

    async def delete(self, collection: str, keys: Sequence[str]) -> None:
        table = check_collection(collection)
        try:
            await self._conn().executemany(
                f"DELETE FROM {table} WHERE key = ?", [(k,) for k in keys]
            )
            await self._conn().commit()
        except sqlite3.Error as exc:
            raise StoreUnavailable("store", f"delete from {table}: {exc}") from exc

    async def purge(self, collection: str, before_ms: int) -> int:
        table = check_collection(collection)
        try:
            cursor = await self._conn().execute(
                f"DELETE FROM {table} WHERE timestamp < ?", (before_ms,)
            )
            await self._conn().commit()
        except sqlite3.Error as exc:
            raise StoreUnavailable("store", f"purge {table}: {exc}") from exc
        return cursor.rowcount


def _condition(parts: tuple[str, ...], value: Any) -> tuple[str, list[Any]]:
    path = "$." + ".".join(parts)
    kind = f"json_type(doc, '{path}')"
    if value is None:
        return f"{kind} = 'null'", []
    if isinstance(value, bool):
        return f"{kind} = '{'true' if value else 'false'}'", []
    # json_extract gives true/false as 1/0: the type guard keeps 1 from matching true.
    guard = (
        f"{kind} IN ('integer', 'real')" if isinstance(value, int | float) else f"{kind} = 'text'"
    )
    return f"{guard} AND json_extract(doc, '{path}') = ?", [value]


def _where(
    filters: Mapping[str, Any] | None, since_ms: int | None, until_ms: int | None
) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    for parts, value in check_filters(filters):
        sql, extra = _condition(parts, value)
        where.append(sql)
        args.extend(extra)
    if since_ms is not None:
        where.append("timestamp >= ?")
        args.append(since_ms)
    if until_ms is not None:
        where.append("timestamp < ?")
        args.append(until_ms)
    return (" WHERE " + " AND ".join(where) if where else ""), args
