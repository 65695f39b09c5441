"""Driver errors become StoreUnavailable: every Store method, on every adapter that can fail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrator_dynamic.adapters.store.mongo import MongoStore
from orchestrator_dynamic.adapters.store.postgres import PostgresStore
from orchestrator_dynamic.adapters.store.sqlite import SqliteStore
from orchestrator_dynamic.domain.errors import StoreUnavailable
from orchestrator_dynamic.domain.ports import Collection, Store
from tests.servers.postgres import PostgresServer, free_port

pytestmark = pytest.mark.integration

EVERY_CALL: list[Callable[[Store], Awaitable[Any]]] = [
    lambda s: s.ping(),
    lambda s: s.put(Collection.TICKETS, "k", {"timestamp": 1}),
    lambda s: s.get(Collection.TICKETS, "k"),
    lambda s: s.find(Collection.TICKETS, {"status": "x"}, since_ms=0),
    lambda s: s.delete(Collection.TICKETS, ["k"]),
    lambda s: s.purge(Collection.TICKETS, 10),
]


async def assert_every_call_unavailable(store: Store) -> None:
    for call in EVERY_CALL:
        with pytest.raises(StoreUnavailable):
            await call(store)


async def test_postgres_down_at_start_is_unavailable() -> None:
    store = PostgresStore(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", timeout_s=2)
    with pytest.raises(StoreUnavailable, match="postgresql"):
        await store.start()
    await assert_every_call_unavailable(store)


async def test_postgres_outage_maps_every_call_and_the_store_recovers() -> None:
    server = PostgresServer().init()
    store = PostgresStore(server.dsn, timeout_s=2)
    try:
        await store.start()
        await store.put(Collection.TICKETS, "before", {"timestamp": 1})
        server.stop()
        await assert_every_call_unavailable(store)
        server.start()
        await store.put(Collection.TICKETS, "after", {"timestamp": 2})
        assert [r["timestamp"] for r in await store.find(Collection.TICKETS)] == [2, 1]
    finally:
        await store.stop()
        server.destroy()


async def test_postgres_migrations_apply_once(postgres_server: PostgresServer) -> None:
    import asyncpg

    for _ in range(2):
        store = PostgresStore(postgres_server.dsn)
        await store.start()
        await store.stop()
    conn = await asyncpg.connect(postgres_server.dsn)
    try:
        versions = await conn.fetch("SELECT version FROM store_migrations")
        indexes = await conn.fetchval(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'execution_tickets'"
        )
    finally:
        await conn.close()
    assert sorted(r["version"] for r in versions) == [
        1,
        2,
        3,
    ]  # each once; 2: operator_audit, 3: flow_stash
    assert indexes == 5  # primary key, timestamp, workflow_id, (status, completed_at), task_type


async def test_mongo_unreachable_server_is_unavailable() -> None:
    """The real pymongo async client against a port nobody listens on."""
    store = MongoStore(f"mongodb://127.0.0.1:{free_port()}", "x", timeout_ms=200)
    with pytest.raises(StoreUnavailable, match="mongodb"):
        await store.start()
    await assert_every_call_unavailable(store)
    await store.stop()


async def test_sqlite_unopenable_file_is_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)  # a directory, not a database file
    with pytest.raises(StoreUnavailable, match="sqlite"):
        await store.start()
    await assert_every_call_unavailable(store)


async def test_postgres_refusing_a_value_is_bad_input_not_an_outage(
    postgres_server: PostgresServer,
) -> None:
    store = PostgresStore(postgres_server.dsn)
    await store.start()
    try:
        with pytest.raises(ValueError, match="refused the data"):
            await store.put(Collection.TICKETS, "nul", {"text": "a\u0000b", "timestamp": 1})
        await store.ping()
    finally:
        await store.stop()
