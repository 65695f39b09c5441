"""PostgreSQL store: one table per collection, JSONB documents, expression indexes, migrations.

Each table is ``(key TEXT PRIMARY KEY, doc JSONB, timestamp BIGINT)``; the key is the ticket id for
``execution_tickets`` and the workflow id for ``workflow_results``, so both are unique by
construction. Every field in ``INDEXES`` gets an expression index on ``doc -> 'field'``, the same
expression the queries filter on, so the planner can use it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from orchestrator_dynamic.adapters.store.indexes import (
    INDEXES,
    check_collection,
    check_filters,
    check_window,
    record_timestamp,
)
from orchestrator_dynamic.domain.errors import StoreUnavailable
from orchestrator_dynamic.domain.ports import Collection

# Everything asyncpg raises when the server is gone, refuses us, or answers too slowly.
DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def _field(parts: tuple[str, ...]) -> str:
    if len(parts) == 1:
        return f"(doc -> '{parts[0]}')"
    return f"(doc #> '{{{','.join(parts)}}}')"


def _schema_v1() -> list[str]:
    # Frozen: the collections version 1 created; later ones come with their own migration.
    later = (Collection.AUDIT, Collection.FLOW_STASH)
    return [s for t, i in INDEXES.items() if t not in later for s in _table(t, i)]


def _table(table: str, indexes: tuple[tuple[str, ...], ...]) -> list[str]:
    statements = [
        f"CREATE TABLE IF NOT EXISTS {table} "
        "(key TEXT PRIMARY KEY, doc JSONB NOT NULL, timestamp BIGINT)",
        f"CREATE INDEX IF NOT EXISTS {table}_timestamp ON {table} (timestamp DESC)",
    ]
    for fields in indexes:
        columns = ", ".join(_field((f,)) for f in fields)
        name = f"{table}_{'_'.join(fields)}"
        statements.append(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")
    return statements


# Versioned schema changes, applied once each and in order; append, never edit a released one.
MIGRATIONS: tuple[tuple[int, str, list[str]], ...] = (
    (1, "one JSONB table per collection with its indexes", _schema_v1()),
    (2, "the operator audit trail", _table(Collection.AUDIT, INDEXES[Collection.AUDIT])),
    (3, "large plans' stash", _table(Collection.FLOW_STASH, INDEXES[Collection.FLOW_STASH])),
)


class PostgresStore:
    """The production store. ``dsn`` is a ``postgresql://`` URL."""

    def __init__(self, dsn: str, *, timeout_s: float = 5.0, pool_size: int = 10) -> None:
        self._dsn = dsn
        self._timeout = timeout_s
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                timeout=self._timeout,
                command_timeout=self._timeout,
            )
            await self._migrate()
        except DRIVER_ERRORS as exc:
            await self.stop()
            raise StoreUnavailable("store", f"postgresql: {exc}") from exc

    async def _migrate(self) -> None:
        async with self._conn() as conn, conn.transaction():
            # One migrator at a time across processes; the lock is released at commit.
            await conn.execute("SELECT pg_advisory_xact_lock(714160305)")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS store_migrations (version INT PRIMARY KEY, "
                "description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM store_migrations")}
            for version, description, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO store_migrations (version, description) VALUES ($1, $2)",
                    version,
                    description,
                )

    async def stop(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), self._timeout)
            except DRIVER_ERRORS:
                pool.terminate()

    def _conn(self) -> Any:
        if self._pool is None:
            raise StoreUnavailable("store", "postgresql store is not started")
        return self._pool.acquire(timeout=self._timeout)

    async def _run(self, what: str, method: str, sql: str, *args: Any) -> Any:
        try:
            async with self._conn() as conn:
                return await getattr(conn, method)(sql, *args)
        except asyncpg.DataError as exc:
            # The server is fine but refuses this value (a NUL in a string, say): bad input.
            raise ValueError(f"postgresql refused the data for {what}: {exc}") from exc
        except DRIVER_ERRORS as exc:
            raise StoreUnavailable("store", f"postgresql {what}: {exc}") from exc

    async def ping(self) -> None:
        await self._run("ping", "fetchval", "SELECT 1")

    async def put(self, collection: str, key: str, record: Mapping[str, Any]) -> None:
        table = check_collection(collection)
        stamp = record_timestamp(record)
        await self._run(
            f"write to {table}",
            "execute",
            f"INSERT INTO {table} (key, doc, timestamp) VALUES ($1, $2::jsonb, $3) "
            "ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, timestamp = excluded.timestamp",
            key,
            json.dumps(record, default=str),
            stamp,
        )

    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        table = check_collection(collection)
        sql = f"SELECT doc::text FROM {table} WHERE key = $1"
        doc = await self._run(f"read from {table}", "fetchval", sql, key)
        return json.loads(doc) if doc is not None else None

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
        n = len(args)
        sql = (
            f"SELECT doc::text AS doc FROM {table}{where} "
            f"ORDER BY timestamp DESC NULLS LAST LIMIT ${n + 1} OFFSET ${n + 2}"
        )
        rows = await self._run(f"query {table}", "fetch", sql, *args, limit, offset)
        return [json.loads(r["doc"]) for r in rows]

    async def delete(self, collection: str, keys: Sequence[str]) -> None:
        table = check_collection(collection)
        sql = f"DELETE FROM {table} WHERE key = ANY($1::text[])"
        await self._run(f"delete from {table}", "execute", sql, list(keys))

    async def purge(self, collection: str, before_ms: int) -> int:
        table = check_collection(collection)
        sql = f"DELETE FROM {table} WHERE timestamp < $1"
        status = await self._run(f"purge {table}", "execute", sql, before_ms)
        return int(str(status).rsplit(" ", 1)[-1])  # "DELETE <n>"


def _where(
    filters: Mapping[str, Any] | None, since_ms: int | None, until_ms: int | None
) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    for parts, value in check_filters(filters):
        # jsonb equality compares types too: true never equals 1, "1" never equals 1.
        args.append(json.dumps(value))
        where.append(f"{_field(parts)} = ${len(args)}::jsonb")
    if since_ms is not None:
        args.append(since_ms)
        where.append(f"timestamp >= ${len(args)}")
    if until_ms is not None:
        args.append(until_ms)
        where.append(f"timestamp < ${len(args)}")
    return (" WHERE " + " AND ".join(where) if where else ""), args
