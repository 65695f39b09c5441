"""The store goes down in the middle of a Flow C run: the flow completes, nothing is lost.

Real pieces only: the Temporal dev server, the Flow C worker and workflow, a real PostgreSQL that
is stopped (immediate shutdown, connections cut) while tickets are in flight and started again
after the run, behind the resilient store with its SQLite spool.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orchestrator_dynamic.adapters.store.postgres import PostgresStore
from orchestrator_dynamic.adapters.store.resilient import ResilientStore
from orchestrator_dynamic.adapters.store.spool import Spool
from orchestrator_dynamic.flow.payloads import WorkflowStatus
from orchestrator_dynamic.settings import RetryConfig
from tests.conftest import decision_bytes
from tests.fakes import settle
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig
from tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.integration

QUICK_RETRY = RetryConfig(attempts=3, initial_ms=10, backoff=2.0, max_ms=50)


async def counts(dsn: str, workflow_id: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        by_workflow = "SELECT count(*) FROM {} WHERE doc ->> 'workflow_id' = $1"
        return {
            "results": await conn.fetchval(by_workflow.format("workflow_results"), workflow_id),
            "audits": await conn.fetchval(by_workflow.format("validation_audit"), workflow_id),
            "tickets": await conn.fetch(
                "SELECT key, doc ->> 'status' AS status FROM execution_tickets "
                "WHERE doc ->> 'workflow_id' = $1",
                workflow_id,
            ),
            "decisions": await conn.fetchval(
                "SELECT count(*) FROM decisions WHERE key = $1", workflow_id
            ),
        }
    finally:
        await conn.close()


async def test_store_outage_mid_flow_spools_and_lands_every_record_exactly_once(
    temporal_env: Any, tmp_path: Path
) -> None:
    server = PostgresServer().init()
    store = ResilientStore(
        PostgresStore(server.dsn, timeout_s=2),
        Spool(tmp_path / "spool.db"),
        QUICK_RETRY,
        replay_interval_s=0.1,
    )
    await store.start()
    rig = FlowRig(temporal_env.client, FAST, lambda ticket: True, store=store)
    rig.agent_delay_s = 0.3  # tickets stay in flight long enough to cut the store under them
    try:
        async with rig.worker:
            submission = await rig.submit(decision_bytes("approve-5-task-dag"))
            await settle(lambda: len(rig.log.started) >= 1)
            await asyncio.to_thread(server.stop)
            view = await rig.finished_view(submission.workflow_id)
            assert view.status is WorkflowStatus.COMPLETED
            assert await store.depth() > 0  # the run's last writes wait in the spool

            await asyncio.to_thread(server.start)
            await settle(lambda: store.last_depth == 0, timeout_s=30)
        found = await counts(server.dsn, submission.workflow_id)
    finally:
        await store.stop()
        server.destroy()
    assert found["results"] == 1
    assert found["audits"] == 1
    assert found["decisions"] == 1
    keys = [r["key"] for r in found["tickets"]]
    assert len(keys) == len(set(keys)) == len(view.tickets)
    assert {r["status"] for r in found["tickets"]} == {"COMPLETED"}
