"""Retries, fail-open spool and replay around a store that can be switched off.

``SwitchableStore`` is the real in-memory store with an off switch: while off, every call raises
StoreUnavailable exactly as an adapter does when its server is gone. The PostgreSQL case at the
end stops and restarts a real server instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from orchestrator_dynamic.adapters.store.memory import MemoryStore
from orchestrator_dynamic.adapters.store.postgres import PostgresStore
from orchestrator_dynamic.adapters.store.resilient import ResilientStore
from orchestrator_dynamic.adapters.store.spool import Spool
from orchestrator_dynamic.domain.errors import StoreUnavailable
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.settings import RetryConfig
from tests.fakes import settle
from tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.integration

FAST = RetryConfig(attempts=3, initial_ms=1, backoff=2.0, max_ms=5)
TICKETS = Collection.TICKETS


class SwitchableStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.fail_next = 0
        self.put_calls = 0

    def _check(self) -> None:
        if self.down or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            raise StoreUnavailable("store", "switched off")

    async def start(self) -> None:
        self._check()

    async def ping(self) -> None:
        self._check()

    async def put(self, collection: str, key: str, record: Mapping[str, Any]) -> None:
        self.put_calls += 1
        self._check()
        if record.get("poison"):
            raise ValueError("the store refuses this value")
        await super().put(collection, key, record)

    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        self._check()
        return await super().get(collection, key)

    async def find(self, collection: str, *args: Any, **kw: Any) -> list[dict[str, Any]]:
        self._check()
        return await super().find(collection, *args, **kw)


def resilient(inner: Any, path: Path, **kw: Any) -> ResilientStore:
    kw.setdefault("replay_interval_s", 3600)  # tests drain explicitly unless they say otherwise
    return ResilientStore(inner, Spool(path / "spool.db"), FAST, **kw)


@pytest.fixture
async def inner() -> SwitchableStore:
    return SwitchableStore()


@pytest.fixture
async def store(inner: SwitchableStore, tmp_path: Path) -> AsyncIterator[ResilientStore]:
    made = resilient(inner, tmp_path)
    await made.start()
    yield made
    await made.stop()


async def test_a_write_that_fails_briefly_is_retried(
    store: ResilientStore, inner: SwitchableStore
) -> None:
    inner.fail_next = 2
    await store.put(TICKETS, "t1", {"status": "PENDING", "timestamp": 1})
    assert inner.put_calls == 3
    assert await inner.get(TICKETS, "t1") == {"status": "PENDING", "timestamp": 1}
    assert await store.depth() == 0


async def test_a_write_that_still_fails_is_spooled_logged_and_counted(
    store: ResilientStore, inner: SwitchableStore
) -> None:
    inner.down = True
    with capture_logs() as logs:
        await store.put(TICKETS, "t1", {"status": "PENDING", "timestamp": 1})
    assert inner.put_calls == FAST.attempts
    failed = [e for e in logs if e["event"] == "ticket_persist_failed"]
    assert failed and "switched off" in failed[0]["reason"]
    assert await store.depth() == 1
    assert REGISTRY.get_sample_value("orchestration_store_spool_depth") == 1
    # while the spool holds anything, new writes queue behind it without touching the store
    await store.put(Collection.WORKFLOW_RESULTS, "w1", {"status": "COMPLETED", "timestamp": 2})
    assert inner.put_calls == FAST.attempts
    assert await store.get(TICKETS, "t1") == {"status": "PENDING", "timestamp": 1}


async def test_the_spool_drains_when_the_store_returns_newest_version_once(
    store: ResilientStore, inner: SwitchableStore
) -> None:
    inner.down = True
    await store.put(TICKETS, "t1", {"status": "PENDING", "timestamp": 1})
    await store.put(TICKETS, "t2", {"status": "PENDING", "timestamp": 1})
    await store.put(TICKETS, "t1", {"status": "COMPLETED", "timestamp": 2})
    assert await store.drain() == 0  # still down: nothing lost, nothing replayed
    inner.down = False
    assert await store.drain() == 2
    assert await store.depth() == 0
    rows = await inner.find(TICKETS)
    assert sorted((r["status"], r["timestamp"]) for r in rows) == [
        ("COMPLETED", 2),
        ("PENDING", 1),
    ]
    assert await store.drain() == 0  # replaying again changes nothing


async def test_records_written_here_stay_readable_through_an_outage(
    store: ResilientStore, inner: SwitchableStore
) -> None:
    await store.put(TICKETS, "landed", {"workflow_id": "w1", "timestamp": 1})
    inner.down = True
    assert await store.get(TICKETS, "landed") == {"workflow_id": "w1", "timestamp": 1}
    with pytest.raises(StoreUnavailable):
        await store.get(TICKETS, "written-elsewhere")
    with pytest.raises(StoreUnavailable):
        await store.find(TICKETS)


async def test_a_spooled_write_the_store_refuses_is_set_aside_not_lost(
    store: ResilientStore, inner: SwitchableStore
) -> None:
    inner.down = True
    await store.put(TICKETS, "t1", {"timestamp": 1})
    await store.put(TICKETS, "bad", {"poison": True, "timestamp": 2})
    await store.put(TICKETS, "t3", {"timestamp": 3})
    inner.down = False
    assert await store.drain() == 2
    assert await store.depth() == 0
    assert [r["timestamp"] for r in await inner.find(TICKETS)] == [3, 1]
    refused = await store.spool.refused()
    assert [(r.key, r.record, r.reason) for r in refused] == [
        ("bad", {"poison": True, "timestamp": 2}, "the store refuses this value")
    ]


async def test_deleting_a_spooled_record_keeps_it_from_coming_back(
    store: ResilientStore, inner: SwitchableStore
) -> None:
    inner.down = True
    await store.put(Collection.TELEMETRY_BUFFER, "f1", {"timestamp": 1})
    inner.down = False
    await store.delete(Collection.TELEMETRY_BUFFER, ["f1"])
    await store.drain()
    assert await inner.get(Collection.TELEMETRY_BUFFER, "f1") is None


async def test_fail_closed_raises_and_spools_nothing(
    inner: SwitchableStore, tmp_path: Path
) -> None:
    store = resilient(inner, tmp_path, fail_open=False)
    await store.start()
    inner.down = True
    with pytest.raises(StoreUnavailable):
        await store.put(TICKETS, "t1", {"timestamp": 1})
    assert await store.depth() == 0
    await store.stop()


async def test_bad_input_is_refused_not_spooled(
    store: ResilientStore, inner: SwitchableStore
) -> None:
    inner.down = True
    with pytest.raises(ValueError, match="timestamp"):
        await store.put(TICKETS, "t1", {"timestamp": "noon"})
    with pytest.raises(ValueError, match="unknown collection"):
        await store.put("nope", "t1", {"timestamp": 1})
    assert await store.depth() == 0


async def test_the_spool_survives_a_restart(inner: SwitchableStore, tmp_path: Path) -> None:
    first = resilient(inner, tmp_path)
    await first.start()
    inner.down = True
    await first.put(TICKETS, "t1", {"timestamp": 1})
    await first.stop()
    inner.down = False
    second = resilient(inner, tmp_path)
    await second.start()
    assert await second.drain() == 1
    await second.stop()
    assert await inner.get(TICKETS, "t1") == {"timestamp": 1}


async def test_a_store_down_at_start_is_opened_and_filled_by_the_replayer(
    inner: SwitchableStore, tmp_path: Path
) -> None:
    inner.down = True
    store = resilient(inner, tmp_path, replay_interval_s=0.02)
    await store.start()  # fail-open: starts anyway
    await store.put(TICKETS, "t1", {"timestamp": 1})
    assert inner.put_calls == 0  # not even tried: the store never answered
    inner.down = False
    await settle(lambda: "t1" in inner._data[TICKETS])
    await settle(lambda: REGISTRY.get_sample_value("orchestration_store_spool_depth") == 0)
    await store.stop()


async def test_postgres_outage_spools_then_lands_every_record_once(tmp_path: Path) -> None:
    """A dedicated real server, stopped and restarted under the wrapper."""
    server = PostgresServer().init()
    store = resilient(PostgresStore(server.dsn, timeout_s=2), tmp_path)
    try:
        await store.start()
        await store.put(TICKETS, "before", {"timestamp": 1})
        server.stop()
        for i in range(5):
            await store.put(TICKETS, f"during-{i}", {"timestamp": 10 + i})
        assert await store.depth() == 5
        server.start()
        assert await store.drain() == 5
        rows = await store.find(TICKETS, limit=100)
        assert sorted(r["timestamp"] for r in rows) == [1, 10, 11, 12, 13, 14]
    finally:
        await store.stop()
        server.destroy()
