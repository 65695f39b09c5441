"""The operator audit trail on every store adapter (the contract suite's fixture), and the
PostgreSQL migration that adds its table to a database made by an older version."""

from __future__ import annotations

import asyncpg
import pytest

from orchestrator_dynamic.adapters.store.postgres import MIGRATIONS, PostgresStore
from orchestrator_dynamic.domain.ports import Collection, Store
from orchestrator_dynamic.services.audit import Actor, audit_entries, audit_record, record_action
from tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.integration


async def test_audit_entries_are_kept_and_found_by_action_target_and_time(store: Store) -> None:
    actor = Actor("admin", "0123456789ab", "10.0.0.7", "api", "ana")
    for i, (action, target) in enumerate(
        [("approve", "wf1"), ("reject", "wf2"), ("cancel", "wf1"), ("approve", "wf3")]
    ):
        await record_action(
            store, audit_record(action, target, actor, f"r{i}", "accepted", 100 + i)
        )
    everything = await audit_entries(store)
    assert [e["target"] for e in everything] == ["wf3", "wf1", "wf2", "wf1"]  # newest first
    assert everything[0] | {"entry_id": ""} == {
        "entry_id": "", "action": "approve", "target": "wf3", "scope": "admin",
        "token_id": "0123456789ab", "source": "10.0.0.7", "channel": "api", "by": "ana",
        "reason": "r3", "outcome": "accepted", "timestamp": 103,
    }  # fmt: skip
    assert [e["reason"] for e in await audit_entries(store, target="wf1")] == ["r2", "r0"]
    assert [e["target"] for e in await audit_entries(store, action="approve")] == ["wf3", "wf1"]
    assert [e["reason"] for e in await audit_entries(store, since_ms=102)] == ["r3", "r2"]
    assert len(await store.find(Collection.TICKETS)) == 0  # its own collection


async def test_postgres_adds_the_audit_table_to_a_version_1_database(
    postgres_server: PostgresServer,
) -> None:
    first = PostgresStore(postgres_server.dsn)
    await first.start()  # a database at the current version ...
    await first.stop()
    conn = await asyncpg.connect(postgres_server.dsn)
    try:  # ... taken back to version 1
        await conn.execute("DROP TABLE IF EXISTS operator_audit")
        await conn.execute("DELETE FROM store_migrations WHERE version > 1")
    finally:
        await conn.close()
    store = PostgresStore(postgres_server.dsn)
    await store.start()
    try:
        actor = Actor()
        await record_action(store, audit_record("cancel", "wf9", actor, "", "accepted", 5))
        assert [e["target"] for e in await audit_entries(store)] == ["wf9"]
    finally:
        await store.stop()
    assert [m[0] for m in MIGRATIONS] == [1, 2, 3]
