"""Store adapters for the contract suite: memory, SQLite, a real PostgreSQL, MongoDB.

MongoDB cannot run on this machine, so the ``mongo`` case runs the real ``MongoStore`` over
mongomock (through mongomock-motor's async client): a well-known in-process implementation of
MongoDB's query language (filters, dotted paths, ``$type``, sort/skip/limit, upserts, indexes).
It does not speak the wire protocol, so connection handling is exercised only by the
``mongo-server`` case, which runs against a real server when MONGODB_URI is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orchestrator_dynamic.adapters.store.memory import MemoryStore
from orchestrator_dynamic.adapters.store.mongo import MongoStore
from orchestrator_dynamic.adapters.store.postgres import PostgresStore
from orchestrator_dynamic.adapters.store.sqlite import SqliteStore
from orchestrator_dynamic.domain.ports import Collection, Store
from tests.servers.postgres import PostgresServer

ADAPTERS = ["memory", "sqlite", "postgres", "mongo", "mongo-server"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the whole session."""
    server = PostgresServer().init()
    yield server
    server.destroy()


async def _empty_postgres(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'store_migrations'"
        )
        if tables:
            await conn.execute(f"TRUNCATE {', '.join(r['tablename'] for r in tables)}")
    finally:
        await conn.close()


def mongo_standin() -> MongoStore:
    from mongomock_motor import AsyncMongoMockClient

    return MongoStore("mongodb://stand-in", "contract", client=AsyncMongoMockClient())


async def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqliteStore(tmp_path / "store.db")
    if kind == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        await _empty_postgres(server.dsn)
        return PostgresStore(server.dsn)
    if kind == "mongo":
        return mongo_standin()
    uri = os.environ.get("MONGODB_URI")
    if not uri:
        pytest.skip("MONGODB_URI is not set: no MongoDB server to test against")
    return MongoStore(uri, f"contract_{uuid.uuid4().hex[:8]}")


@pytest.fixture(params=ADAPTERS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A started, empty store of each kind."""
    made = await make_store(request.param, tmp_path, request)
    await made.start()
    yield made
    if request.param == "mongo-server":
        await _drop_mongo(made)
    await made.stop()


async def _drop_mongo(store: Any) -> None:
    for name in Collection.ALL:
        await store._col(name).drop()
