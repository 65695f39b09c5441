"""open_store: the configured store behind retries and the spool, from settings alone."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from orchestrator_dynamic import bootstrap
from orchestrator_dynamic.adapters.store.postgres import PostgresStore
from orchestrator_dynamic.adapters.store.resilient import ResilientStore
from orchestrator_dynamic.adapters.store.spool import SPOOL_FILE
from orchestrator_dynamic.domain.errors import StoreUnavailable
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.settings import load_settings
from tests.servers.postgres import PostgresServer, free_port

pytestmark = pytest.mark.integration


async def test_open_store_on_postgres_wraps_it_with_a_spool_in_the_data_dir(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    settings = load_settings(store_url=postgres_server.dsn, data_dir=tmp_path)
    async with AsyncExitStack() as stack:
        store = await bootstrap.open_store(settings, stack)
        assert isinstance(store, ResilientStore) and isinstance(store.inner, PostgresStore)
        await store.put(Collection.DECISIONS, "d1", {"disposition": "started", "timestamp": 1})
        assert (await store.get(Collection.DECISIONS, "d1")) == {
            "disposition": "started",
            "timestamp": 1,
        }
        await store.ping()
    assert (tmp_path / SPOOL_FILE).exists()


async def test_fail_open_starts_without_the_store_and_fail_closed_refuses(
    tmp_path: Path,
) -> None:
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    open_settings = load_settings(store_url=down, data_dir=tmp_path / "open")
    async with AsyncExitStack() as stack:
        store = await bootstrap.open_store(open_settings, stack)
        await store.put(Collection.INCIDENTS, "i1", {"timestamp": 1})  # spooled, not lost
        assert isinstance(store, ResilientStore) and await store.depth() == 1
    closed = load_settings(store_url=down, data_dir=tmp_path / "closed", store_fail_open=False)
    async with AsyncExitStack() as stack:
        with pytest.raises(StoreUnavailable):
            await bootstrap.open_store(closed, stack)
